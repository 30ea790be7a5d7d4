"""Open-vocabulary scoring for open-set emotion answers (``emo_o``): every emotion an answer names counts.

The one-label reading (``scoring.parse_answer``) gives no credit to "happy and a little surprised"
when it names two labels. Here each emotion word of the answer is mapped onto the record's label
set through a documented emotion wheel (``data/emotion_wheel.json``: Parrott's 2001 tree of
emotion words, plus Plutchik's awe and a neutral family; sources in the file), and the set of
emotions named is scored against the label.

The extractor is deterministic (no model, no sampling):

1. The text is normalised as ``scoring`` does; when it has an answer line (``Answer: ...``) only
   that line is read, else the whole text.
2. Every whole-word mention of a vocabulary word is found, longest first; a mention with a negation
   among the three words before it in its clause ("not angry") is skipped, as in ``scoring``.
3. Each word maps to one emotion, first rule that applies: the word is a label of the record's label
   set; ``scoring.LEXICON`` maps it to one of those labels ("happy" -> joy); the wheel maps it,
   through its family, to a label of that set (``labels`` per family for ``ekman6``, ``ekman7`` and
   ``mikels8``; for another label set the family's name, else its primary emotion, when that is an
   option). A wheel word whose family has no label in the set (e.g. "love" under Ekman's six) is
   still an emotion named: it counts as the wrong emotion ``other:<family>``.

Per answer, with ``N`` the set of emotions named and the label ``y``: precision ``|N & {y}| / |N|``,
recall ``|N & {y}|`` (0 or 1), F1 their harmonic mean; an answer naming no emotion scores 0 on all
three (it is not skipped). So "happy and surprised" for joy names {joy, surprise}: precision 1/2,
recall 1, F1 2/3. A task's ``set_precision``, ``set_recall`` and ``set_f1`` are the means over its
answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# The parser's own normalisation, answer-line and negation rules, so both read an answer alike.
from emollm_plugin.emobench.scoring import LEXICON, _answer_segment, _canon, _negated, _normalise
from emollm_plugin.emobench.tasks import LABEL_SETS

WHEEL_FILE = Path(__file__).with_name("data") / "emotion_wheel.json"
#: The prefix of an emotion the wheel knows but the label set has no label for.
OTHER = "other:"


@dataclass(frozen=True)
class Family:
    """One family of the wheel: its words, its primary emotion and its label per known label set."""

    name: str
    primary: str
    words: tuple[str, ...]
    labels: dict[str, str | None]


@lru_cache(maxsize=4)
def load_wheel(path: str | Path = WHEEL_FILE) -> dict[str, Family]:
    """The wheel's families by name; a clear error for a word listed in two families."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    families: dict[str, Family] = {}
    owner: dict[str, str] = {}
    for name, item in data["families"].items():
        words = tuple(_canon(word) for word in item["words"])
        for word in words:
            if word in owner:
                raise ValueError(f"{path}: {word!r} is listed under both {owner[word]!r} and {name!r}")
            owner[word] = name
        families[name] = Family(name, item["primary"], words, dict(item["labels"]))
    return families


def label_set_name(options: Sequence[str]) -> str | None:
    """The name in ``tasks.LABEL_SETS`` of a record's label set (order ignored), or None."""
    wanted = {_canon(option) for option in options}
    for name, labels in LABEL_SETS.items():
        if {_canon(label) for label in labels} == wanted:
            return name
    return None


def family_label(family: Family, options: Sequence[str]) -> str | None:
    """The label of ``options`` a wheel family maps to (None when the set has no label for it)."""
    canon = {_canon(option): option for option in options}
    known = label_set_name(options)
    if known is not None and known in family.labels:
        label = family.labels[known]
        return canon.get(_canon(label)) if label else None
    return canon.get(_canon(family.name)) or canon.get(_canon(family.primary))


@lru_cache(maxsize=64)
def vocabulary(options: tuple[str, ...]) -> tuple[dict[str, str], re.Pattern[str]]:
    """(word -> emotion it names for this label set, one whole-word matcher over the words, longest first)."""
    table: dict[str, str] = {}
    for family in load_wheel().values():
        label = family_label(family, options)
        for word in family.words:
            table[word] = label if label is not None else OTHER + family.name
    canon = {_canon(option): option for option in options}
    for word, label in LEXICON.items():  # the lexicon outranks the wheel
        if _canon(label) in canon:
            table[_canon(word)] = canon[_canon(label)]
    table.update(canon)  # a label word names its label
    ordered = sorted(table, key=lambda word: (-len(word), word))
    body = "|".join(r"\s+".join(re.escape(part) for part in word.split()) for word in ordered)
    return table, re.compile(r"(?<![a-z0-9])(" + body + r")(?![a-z0-9])")


def named_emotions(text: str | None, options: Sequence[str]) -> list[str]:
    """The distinct emotions an answer names, in order of first mention (labels or ``other:<family>``)."""
    norm = _normalise(text or "")
    segment, _ = _answer_segment(norm)
    if segment is not None and segment.strip():
        norm = segment
    table, pattern = vocabulary(tuple(options))
    found: list[str] = []
    for match in pattern.finditer(norm):
        if _negated(norm, match.start(), 3):
            continue
        emotion = table[" ".join(match.group(1).split())]
        if emotion not in found:
            found.append(emotion)
    return found


def set_scores(named: Sequence[str], target: str) -> dict[str, float]:
    """Set precision, recall and F1 of the emotions named against the one label (all 0 when none is named)."""
    hit = float(target in named)
    precision = hit / len(set(named)) if named else 0.0
    recall = hit
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"set_precision": precision, "set_recall": recall, "set_f1": f1}


def score_answer(text: str | None, target: str, options: Sequence[str]) -> dict:
    """``named`` (the emotions) and ``set_precision`` / ``set_recall`` / ``set_f1`` of one answer."""
    named = named_emotions(text, options)
    return {"named": named, **set_scores(named, target)}
