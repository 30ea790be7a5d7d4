"""Reading free-form model answers back into EmoBench labels, and the metrics over them.

The paper scores every sub-task by accuracy. A model rarely answers with the bare label, so
:func:`parse_answer` maps an output to exactly one of the options, or to ``None`` when it cannot
tell (empty, a refusal, two different labels and no final answer line). The rules, in order:

1. an explicit answer line wins: the last ``Answer: X`` / ``The answer is X`` (see
   ``tasks.ANSWER_PREFIX``), so a rationale followed by its answer is read by its answer;
2. a last line that is nothing but a label wins over the rationale above it;
3. a refusal ("I cannot determine ...") is ``None``;
4. otherwise the whole text must name exactly one label.

The same rule holds for every task: an answer (or answer line) that names more than one label is
``None`` unless a final answer line settles it. For yes/no tasks "yes" and "no" are labels when
they stand as answers ("Yes and no", "no, yes", "Answer: yes, no" are ``None``), not when "no" is
a determiner ("there is no sarcasm"). Asserting idioms that begin with a negation word ("no
doubt", "without a doubt", "no wonder") are read as "certainly", so "No doubt it is hateful" is
"yes", never "no".

Labels are matched as whole words, case-, quote- and punctuation-insensitively, multi-word
options ("ask for help") included. When no option is named, the explicit synonym
:data:`LEXICON` is tried ("happy" -> joy); :func:`parse_answer_strict` skips it, which is
the strict open-set accuracy. Yes/no tasks also read statements: "This is not sarcastic." -> no,
"It is hateful." -> yes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from emollm_plugin.emobench.tasks import ANSWER_PREFIX, YES_NO, answer_options, get_task

#: Synonym -> label, for outputs that name the emotion or intent without using the label word.
#: Only used when no option appears literally, and only towards labels that are among the options.
# fmt: off
LEXICON: dict[str, str] = {
    # joy
    "happy": "joy", "happiness": "joy", "happily": "joy", "joyful": "joy", "joyous": "joy",
    "glad": "joy", "gladness": "joy", "cheerful": "joy", "delighted": "joy", "delight": "joy",
    "elated": "joy", "elation": "joy",
    # fear
    "scared": "fear", "afraid": "fear", "fearful": "fear", "frightened": "fear", "terrified": "fear",
    "terror": "fear", "anxious": "fear", "anxiety": "fear", "nervous": "fear", "panic": "fear",
    "panicked": "fear", "worried": "fear",
    # anger
    "angry": "anger", "angrily": "anger", "furious": "anger", "fury": "anger", "rage": "anger",
    "enraged": "anger", "annoyed": "anger", "annoyance": "anger", "irritated": "anger",
    "irritation": "anger", "outraged": "anger", "outrage": "anger",
    # sadness
    "sad": "sadness", "sadly": "sadness", "unhappy": "sadness", "unhappiness": "sadness",
    "sorrow": "sadness", "sorrowful": "sadness", "grief": "sadness", "grieving": "sadness",
    "depressed": "sadness", "melancholy": "sadness", "gloomy": "sadness", "heartbroken": "sadness",
    "miserable": "sadness", "misery": "sadness",
    # surprise
    "surprised": "surprise", "surprising": "surprise", "shocked": "surprise", "astonished": "surprise",
    "astonishment": "surprise", "startled": "surprise",
    # disgust
    "disgusted": "disgust", "disgusting": "disgust", "revolted": "disgust", "revulsion": "disgust",
    "repulsed": "disgust", "repulsion": "disgust", "grossed out": "disgust", "nauseated": "disgust",
    # excitement
    "excited": "excitement", "exciting": "excitement", "thrilled": "excitement", "thrill": "excitement",
    "enthusiastic": "excitement", "enthusiasm": "excitement", "exhilarated": "excitement",
    # amusement
    "amused": "amusement", "amusing": "amusement", "funny": "amusement", "fun": "amusement",
    "playful": "amusement", "laughter": "amusement", "laughing": "amusement",
    # contentment
    "content": "contentment", "contented": "contentment", "satisfied": "contentment",
    "satisfaction": "contentment", "peaceful": "contentment", "serene": "contentment",
    "serenity": "contentment", "relaxed": "contentment", "fulfilled": "contentment",
    # awe
    "awed": "awe", "awestruck": "awe", "awe struck": "awe", "awe inspiring": "awe", "wonder": "awe",
    "amazed": "awe", "amazement": "awe",
    # neutral
    "expressionless": "neutral", "emotionless": "neutral", "no emotion": "neutral",
    "indifferent": "neutral", "indifference": "neutral", "neutrality": "neutral",
    # MIntRec intents
    "complaining": "complain", "complaint": "complain", "complains": "complain",
    "praising": "praise", "praises": "praise", "compliment": "praise", "complimenting": "praise",
    "apologize": "apologise", "apologizing": "apologise", "apologising": "apologise",
    "apologizes": "apologise", "apologises": "apologise", "apology": "apologise", "apologies": "apologise",
    "thanks": "thank", "thanking": "thank", "thankful": "thank", "grateful": "thank", "gratitude": "thank",
    "criticise": "criticize", "criticizing": "criticize", "criticising": "criticize",
    "criticism": "criticize", "critique": "criticize",
    "agreeing": "agree", "agrees": "agree", "agreement": "agree",
    "taunting": "taunt", "taunts": "taunt", "mocking": "taunt", "mockery": "taunt",
    "flaunting": "flaunt", "flaunts": "flaunt", "showing off": "flaunt", "show off": "flaunt",
    "boasting": "flaunt", "bragging": "flaunt",
    "joking": "joke", "jokes": "joke", "kidding": "joke",
    "opposing": "oppose", "opposition": "oppose", "disagree": "oppose", "disagreeing": "oppose",
    "disagreement": "oppose",
    "comforting": "comfort", "consoling": "comfort", "console": "comfort", "reassuring": "comfort",
    "caring": "care",
    "informing": "inform", "informs": "inform",
    "advising": "advise", "advice": "advise", "advises": "advise", "suggesting": "advise",
    "suggestion": "advise",
    "arranging": "arrange", "arrangement": "arrange",
    "introducing": "introduce", "introduction": "introduce", "introduces": "introduce",
    "leaving": "leave", "goodbye": "leave", "farewell": "leave",
    "preventing": "prevent", "prevention": "prevent",
    "greeting": "greet", "greetings": "greet", "greets": "greet", "saying hello": "greet",
    "asking for help": "ask for help", "asks for help": "ask for help", "seeking help": "ask for help",
    "seek help": "ask for help", "requesting help": "ask for help", "request help": "ask for help",
}

#: Words that say a yes/no task's property is present ("It is hateful" -> yes).
YESNO_CUES: dict[str, tuple[str, ...]] = {
    "hate": ("hateful", "hate speech", "hate", "hatred", "offensive", "racist", "sexist", "bigoted",
             "discriminatory"),
    "humor": ("humorous", "humourous", "humor", "humour", "funny", "joke", "jokes", "joking",
              "comedic", "comical", "amusing", "hilarious"),
    "sarcasm": ("sarcastic", "sarcastically", "sarcasm", "ironic", "ironically", "irony", "sardonic"),
}

# fmt: on

_YES_WORDS = {
    "yes": "yes",
    "yeah": "yes",
    "yep": "yes",
    "yup": "yes",
    "true": "yes",
    "no": "no",
    "nope": "no",
    "false": "no",
}
_LEADING_YESNO = re.compile(r"^[^a-z0-9]*(" + "|".join(_YES_WORDS) + r")\b")
#: "yes"/"no" standing as an answer: "no" only when no word follows it but a conjunction ("Yes and
#: no", "no, yes"), so "no sarcasm" and "no hate speech" name no label.
_NAMED_YESNO = re.compile(
    r"(?<![a-z0-9'])(?:(yes|yeah|yep|yup|nope)|(no)(?!\s+(?!(?:and|or|but)\b)[a-z0-9]))(?![a-z0-9'])"
)
#: Idioms that open with a negation word but assert; read as "certainly".
_ASSERTING_IDIOM = re.compile(r"\b(?:no|without(?:\s+(?:a|any))?|beyond(?:\s+(?:a|any))?)\s+doubt\b|\bno\s+wonder\b")
_BARE_YESNO = re.compile(r"(?<![a-z0-9'])(yes|no)(?![a-z0-9'])")
_MARKER = re.compile(
    r"(?<![a-z])(?:final\s+)?"
    + re.escape(ANSWER_PREFIX.rstrip(":").strip().lower())
    + r"\s*(?::|=|-|\bis\b:?|\bwould\s+be\b:?)\s*"
)
_MARKER_WORD = ANSWER_PREFIX.rstrip(":").strip().lower()
_REFUSAL = re.compile(
    r"\b(?:i|we)\s*(?:can\s*not|can't|cannot|am unable|'m unable|am not able|'m not able|do not know|don't know)\b"
    r"|\bunable to (?:determine|tell|identify|say)\b|\bas an ai\b|\bno idea\b|\bnot sure\b"
    r"|\b(?:cannot|can't|not possible to) (?:be )?(?:determine|determined|tell|told|say)\b"
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|without|non|lacks?|lacking|nothing|none|hardly|barely|isnt|arent|"
    r"wasnt|dont|doesnt|cant|cannot|wont)\b|n't\b|\bfree\s+of\b|\babsence\s+of\b|\bdevoid\s+of\b"
)
_CLAUSE_END = re.compile(r"[.;:!?()\[\]\n,]|\bbut\b|\bhowever\b|\balthough\b|\bthough\b")
_STRIP_CHARS = str.maketrans(
    {
        "\u201c": " ",
        "\u201d": " ",
        "\u2018": "'",
        "\u2019": "'",
        "`": "'",
        '"': " ",
        "*": " ",
        "#": " ",
        "_": " ",
        "-": " ",
        "\u2013": " ",
        "\u2014": " ",
        "\t": " ",
    }
)
_EDGE_PUNCT = " .,:;!?'()[]{}<>/\\|"


def _normalise(text: str) -> str:
    """Lower case, straight apostrophes, no quotes/markdown/hyphens, single spaces, no blank lines."""
    text = text.lower().translate(_STRIP_CHARS)
    if "\n" not in text and "\r" not in text:
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _canon(label: str) -> str:
    return " ".join(label.lower().replace("_", " ").replace("-", " ").split())


def _phrase_pattern(phrase: str) -> str:
    return r"\s+".join(re.escape(word) for word in _canon(phrase).split())


@lru_cache(maxsize=512)
def _matcher(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation over whole-word phrases, longest first, so "ask for help" beats "help"."""
    if not words:
        return None
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    body = "|".join(_phrase_pattern(w) for w in ordered)
    return re.compile(r"(?<![a-z0-9])(" + body + r")(?![a-z0-9])")


@lru_cache(maxsize=512)
def _option_tables(options: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """(canonical option -> option, canonical synonym -> option) for one options tuple."""
    canon = {_canon(o): o for o in options}
    synonyms = {
        _canon(word): canon[_canon(label)]
        for word, label in LEXICON.items()
        if _canon(label) in canon and _canon(word) not in canon
    }
    return canon, synonyms


def _negated(text: str, start: int, words: int) -> bool:
    """Whether a negation ("not", "n't", "no", "without", ...) precedes ``start`` in its clause."""
    before = text[max(0, start - 80) : start]
    clause_start = 0
    for end in _CLAUSE_END.finditer(before):
        clause_start = end.end()
    window = " ".join(before[clause_start:].split()[-words:])
    return bool(window) and _NEGATION.search(window) is not None


def _mentions(pattern: re.Pattern[str] | None, text: str, table: dict[str, str]) -> tuple[list[str], bool]:
    """(distinct labels named and not negated, whether any mention was negated)."""
    if pattern is None:
        return [], False
    found: list[str] = []
    negated = False
    for match in pattern.finditer(text):
        if _negated(text, match.start(), 3):  # "does not show anger", "not sadness, but joy"
            negated = True
            continue
        label = table[" ".join(match.group(1).split())]
        if label not in found:
            found.append(label)
    return found, negated


def _label_in(segment: str, options: tuple[str, ...], lexicon: bool) -> str | None:
    canon, synonyms = _option_tables(options)
    found, negated = _mentions(_matcher(tuple(canon)), segment, canon)
    if found or negated:  # an answer that only says what it is not names no label
        return found[0] if len(found) == 1 else None
    if lexicon and synonyms:
        found, _ = _mentions(_matcher(tuple(synonyms)), segment, synonyms)
        if len(found) == 1:
            return found[0]
    return None


def _exact_label(line: str, options: tuple[str, ...], lexicon: bool) -> str | None:
    """The label when a line is nothing but that label (or a lexicon synonym of it)."""
    canon, synonyms = _option_tables(options)
    key = line.strip(_EDGE_PUNCT)
    if key in canon:
        return canon[key]
    if lexicon and key in synonyms:
        return synonyms[key]
    return None


def _yesno_in(segment: str, task: str) -> str | None:
    """Yes/no from a leading yes/no word, else from statements about the property, else bare yes/no.

    ``None`` when the segment names both answers ("yes, no"), whatever comes first.
    """
    named = {_YES_WORDS[m.group(1) or m.group(2)] for m in _NAMED_YESNO.finditer(segment)}
    if len(named) > 1:
        return None
    leading = _LEADING_YESNO.match(segment)
    if leading:
        return _YES_WORDS[leading.group(1)]
    polarities = set()
    cues = _matcher(YESNO_CUES.get(task, ()))
    if cues is not None:
        for match in cues.finditer(segment):  # "I don't think it is sarcastic": a wider window
            polarities.add("no" if _negated(segment, match.start(), 6) else "yes")
    if len(polarities) == 1:
        return polarities.pop()
    if polarities:
        return None
    bare = {m.group(1) for m in _BARE_YESNO.finditer(segment)}
    return bare.pop() if len(bare) == 1 else None


def _answer_segment(text: str) -> tuple[str | None, bool]:
    """(text after the last answer marker up to its line end, whether that marker is on the last line)."""
    if _MARKER_WORD not in text:  # cheap pre-check: most outputs have no answer line
        return None, False
    markers = list(_MARKER.finditer(text))
    if not markers:
        return None, False
    last = markers[-1]
    rest = text[last.end() :]
    head, _, tail = rest.partition("\n")
    on_last_line = not tail
    if not head.strip() and tail:
        head, _, tail = tail.partition("\n")
        on_last_line = not tail
    return head, on_last_line


@lru_cache(maxsize=16_384)  # repeated short answers are common; rationales rarely repeat
def _parse(task: str, text: str, options: tuple[str, ...], lexicon: bool) -> str | None:
    yesno = get_task(task).answer_kind == "yesno"
    labels = YES_NO if yesno else options
    if not labels:
        raise ValueError(f"task {task!r} needs its options (label set) to read an answer")
    norm = _normalise(text)
    if "doubt" in norm or "wonder" in norm:  # cheap pre-check before the idiom pass
        norm = _ASSERTING_IDIOM.sub("certainly", norm)
    if not norm:
        return None

    if "\n" not in norm and not yesno:  # fast path: the output is just a label
        canon, _ = _option_tables(labels)
        bare = canon.get(norm.strip(_EDGE_PUNCT))
        if bare is not None:
            return bare

    def read(segment: str) -> str | None:
        return _yesno_in(segment, task) if yesno else _label_in(segment, labels, lexicon)

    segment, on_last_line = _answer_segment(norm)
    if segment is not None:
        answer = read(segment)
        if answer is not None or on_last_line:
            return answer
    lines = norm.split("\n")
    if len(lines) > 1:
        answer = _exact_label(lines[-1], labels, lexicon)
        if answer is not None:
            return answer
    if _REFUSAL.search(norm):
        return None
    return read(norm)


def parse_answer(task: str, text: str | None, options: Sequence[str]) -> str | None:
    """The option a free-form output names, or ``None`` when it cannot tell (see module docstring).

    ``options`` is the record's label set (the hidden one for ``emo_o``); yes/no tasks always
    answer from ``("yes", "no")``. The synonym :data:`LEXICON` is used when no option is named.
    """
    if text is None:
        return None
    return _parse(task, text, tuple(answer_options(task, options)), True)


def parse_answer_strict(task: str, text: str | None, options: Sequence[str]) -> str | None:
    """Like :func:`parse_answer` without the synonym lexicon: the label word itself must appear."""
    if text is None:
        return None
    return _parse(task, text, tuple(answer_options(task, options)), False)


#: The confusion matrix's last column: answers :func:`parse_answer` could not read as one label.
UNPARSED = "unparsed"


def percent(value: float | None) -> str:
    """A metric in [0, 1] as the tables print it: a percentage with one decimal, ``-`` when missing."""
    return "-" if value is None else f"{100 * value:.1f}"


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def score(
    predictions: Sequence[str | None],
    references: Sequence[str],
    labels: Sequence[str] | None = None,
) -> dict:
    """Accuracy, macro-F1, UAR, per-class recall/precision/F1, a confusion matrix and the unparsed share.

    The metrics are scikit-learn's, each given an explicit ``labels=`` list. ``labels`` defaults
    to the sorted set of references.

    Unreadable answers: ``None`` (or any prediction outside ``labels``) is the pseudo-label
    ``unparsed``. It is wrong for accuracy, a miss of the true class in that class's recall and F1,
    a false positive of no class (no label's precision drops), and counted in the confusion
    matrix's last column and in ``unparsed_rate``.

    Absent classes: UAR (``recall_score(average="macro")``) averages over the labels that occur
    among the references, macro-F1 (``f1_score(average="macro")``) over the labels that occur
    among references or answers, so a class that is neither in the test set nor ever answered is
    not averaged in as a zero. Its per-class values are ``None`` (scikit-learn's
    ``zero_division=nan``), as is a precision with nothing predicted.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support, recall_score

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    labels = list(labels) if labels is not None else sorted(set(references))
    if UNPARSED in labels:
        raise ValueError(f"{UNPARSED!r} cannot be a label: it names the column of unreadable answers")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({r for r in references if r not in index})
    if unknown:
        raise ValueError(f"references {unknown} are not among the labels {labels}")
    n_labels, total = len(labels), len(references)
    # Integer codes (unparsed = n_labels): scikit-learn is far faster on them than on strings.
    ref = np.fromiter((index[r] for r in references), dtype=np.int64, count=total)
    pred = np.fromiter(
        (index.get(p, n_labels) if p is not None else n_labels for p in predictions), dtype=np.int64, count=total
    )
    # Rows: the labels (references are never unparsed); columns: the labels, then unparsed.
    codes = list(range(n_labels))
    if total:
        confusion = confusion_matrix(ref, pred, labels=[*codes, n_labels])[:n_labels]
    else:
        confusion = np.zeros((n_labels, n_labels + 1), dtype=np.int64)
    support = confusion.sum(axis=1)
    predicted = confusion[:, :n_labels].sum(axis=0)
    in_truth = [i for i in range(n_labels) if support[i]]
    seen = [i for i in range(n_labels) if support[i] or predicted[i]]
    if total:
        precision, recall, f1, _ = precision_recall_fscore_support(
            ref, pred, labels=codes, average=None, zero_division=np.nan
        )
        macro_f1 = float(f1_score(ref, pred, labels=seen, average="macro", zero_division=0.0))
        uar = float(recall_score(ref, pred, labels=in_truth, average="macro", zero_division=0.0))
    else:
        precision = recall = f1 = np.full(n_labels, np.nan)
        macro_f1 = uar = 0.0
    return {
        "n": total,
        "accuracy": float(np.trace(confusion[:, :n_labels]) / total) if total else 0.0,
        "macro_f1": macro_f1,
        "uar": uar,
        "per_class_recall": {label: _or_none(recall[i]) for i, label in enumerate(labels)},
        "per_class": {
            label: {
                "support": int(support[i]),
                "predicted": int(predicted[i]),
                "recall": _or_none(recall[i]),
                "precision": _or_none(precision[i]),
                "f1": _or_none(f1[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": {
            "labels": labels,
            "columns": [*labels, UNPARSED],
            "matrix": confusion.tolist(),
        },
        "unparsed_rate": float(confusion[:, n_labels].sum() / total) if total else 0.0,
    }


def task_labels(task: str, options_per_sample: Sequence[Sequence[str]]) -> list[str]:
    """The union of the samples' label sets, in first-seen order (several sources share a task)."""
    seen: dict[str, None] = {}
    for options in dict.fromkeys(tuple(o) for o in options_per_sample):
        for label in answer_options(task, options):
            seen.setdefault(label, None)
    return list(seen)


def read_sample(task: str, output: str | None, target: str, options: Sequence[str], strict: bool = False) -> dict:
    """What scoring keeps of one sample: ``{"target", "parsed"}``, plus ``"parsed_strict"`` when ``strict``.

    The evaluation task stores this per sample (in lmms-eval's samples file) and aggregates it with
    :func:`score_samples`, exactly as :func:`score_task` does in one call.
    """
    sample = {"target": target, "parsed": parse_answer(task, output, options)}
    if strict:
        sample["parsed_strict"] = parse_answer_strict(task, output, options)
    return sample


def score_samples(
    samples: Sequence[Mapping], labels: Sequence[str] | None = None, strict: bool = False
) -> dict:
    """:func:`score` over samples read by :func:`read_sample` (their ``parsed`` or ``parsed_strict``).

    ``labels`` defaults to the targets and answers that occur, sorted. Since :func:`score` leaves
    classes that occur nowhere out of macro-F1 and UAR, that gives the same metrics as the task's
    full label set (which the samples do not carry).
    """
    key = "parsed_strict" if strict else "parsed"
    parsed = [sample.get(key) for sample in samples]
    targets = [sample["target"] for sample in samples]
    if labels is None:
        labels = sorted(set(targets) | {p for p in parsed if p is not None and p != UNPARSED})
    return score(parsed, targets, labels)


def score_task(
    task: str,
    outputs: Sequence[str | None],
    references: Sequence[str],
    options: Sequence[Sequence[str]] | Sequence[str],
) -> dict:
    """Parse and score one sub-task; ``options`` is one label set for all samples or one per sample.

    The same two steps as evaluation (:func:`read_sample` per output, :func:`score_samples`), over
    the task's full label set. Adds ``strict_accuracy`` and ``strict_unparsed_rate`` (no lexicon)
    for every task, which for ``emo_o`` is the strict open-set accuracy reported next to the
    lexicon-mapped one.
    """
    if not options or isinstance(options[0], str):
        per_sample: Sequence[Sequence[str]] = [options] * len(outputs)  # type: ignore[list-item]
    else:
        per_sample = options  # type: ignore[assignment]
    if len(per_sample) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs but {len(per_sample)} option lists")
    if len(references) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs but {len(references)} references")
    labels = task_labels(task, per_sample)
    samples = [
        read_sample(task, output, target, opts, strict=True)
        for output, target, opts in zip(outputs, references, per_sample, strict=True)
    ]
    result = score_samples(samples, labels)
    strict_result = score_samples(samples, labels, strict=True)
    result["task"] = task
    result["strict_accuracy"] = strict_result["accuracy"]
    result["strict_unparsed_rate"] = strict_result["unparsed_rate"]
    return result
