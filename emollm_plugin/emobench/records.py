"""EmoBench records: one JSON object per question, in JSON Lines files.

Every stage reads and writes these: source adapters produce them, the LLaVA dataset and the
lmms-eval tasks consume them, EmoPrompt attaches rationales to their ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from emollm_plugin.emobench.jsonl import BadLine, iter_lines, write_jsonl
from emollm_plugin.emobench.tasks import MODALITIES, SPLITS, TASKS, YES_NO, answer_options, get_task

REQUIRED_FIELDS = ("id", "task", "modality", "media", "question", "answer", "source", "split")


class RecordError(ValueError):
    """A record that breaks the schema; the message names the file, the line and the fix."""


@dataclass
class Record:
    id: str
    task: str
    modality: str
    media: str  # relative path: to the EmoBench folder in stored records (build.dataset_root), to --root from an adapter
    question: str
    answer: str
    source: str
    split: str
    options: list[str] = field(default_factory=list)  # for emo_o: the hidden label set
    text: str | None = None  # meme text, utterance, tweet: part of the prompt where it exists

    def to_dict(self) -> dict:
        # Spelled out rather than dataclasses.asdict: asdict deep-copies and is the slowest step
        # of building 287k records. Same keys, same order, ``text`` left out when absent.
        data = {
            "id": self.id, "task": self.task, "modality": self.modality, "media": self.media,
            "question": self.question, "answer": self.answer, "source": self.source,
            "split": self.split, "options": list(self.options),
        }
        if self.text is not None:
            data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        problems = record_problems(data)
        if problems:
            raise RecordError("; ".join(problems))
        return cls(
            id=str(data["id"]),
            task=data["task"],
            modality=data["modality"],
            media=data["media"],
            question=data["question"],
            answer=data["answer"],
            source=data["source"],
            split=data["split"],
            options=list(data.get("options") or []),
            text=data.get("text"),
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """The label set the answer is scored against."""
        return answer_options(self.task, self.options)


_REQUIRED = frozenset(REQUIRED_FIELDS)
_get_required = itemgetter(*REQUIRED_FIELDS)
_ANSWER_KIND = {name: get_task(name).answer_kind for name in TASKS}


def _clearly_valid(data: dict) -> bool:
    """A fast check for the common case, a valid record (C-level set and map operations only)."""
    if not _REQUIRED.issubset(data):
        return False
    values = _get_required(data)
    if set(map(type, values)) != {str} or not all(map(str.strip, values)):
        return False
    task = data["task"]
    if task not in _ANSWER_KIND or data["modality"] not in MODALITIES or data["split"] not in SPLITS:
        return False
    options = data.get("options") or []
    if type(options) is not list or (options and set(map(type, options)) != {str}):
        return False
    text = data.get("text")
    if text is not None and type(text) is not str:
        return False
    if _ANSWER_KIND[task] == "yesno":
        return data["answer"] in YES_NO
    return bool(options) and data["answer"] in options


def record_problems(data: object) -> list[str]:
    """Every schema problem of one decoded JSON object (empty when it is a valid record)."""
    if type(data) is dict and _clearly_valid(data):
        return []
    if not isinstance(data, dict):
        return [f"a record must be a JSON object, got {type(data).__name__}"]
    problems = [f"missing field {name!r}" for name in REQUIRED_FIELDS if name not in data]
    if problems:
        return problems
    for name in REQUIRED_FIELDS:
        if not isinstance(data[name], str) or not data[name].strip():
            problems.append(f"field {name!r} must be a non-empty string")
    if problems:
        return problems
    if data["task"] not in TASKS:
        problems.append(f"task {data['task']!r} is not one of {', '.join(TASKS)}")
    if data["modality"] not in MODALITIES:
        problems.append(f"modality {data['modality']!r} is not one of {', '.join(MODALITIES)}")
    if data["split"] not in SPLITS:
        problems.append(f"split {data['split']!r} is not one of {', '.join(SPLITS)}")
    options = data.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        problems.append("field 'options' must be a list of strings")
        return problems
    if problems:
        return problems
    kind = get_task(data["task"]).answer_kind
    if kind in ("option", "open") and not options:
        problems.append(f"task {data['task']!r} needs its label set in 'options'")
    labels = answer_options(data["task"], options)
    if labels and data["answer"] not in labels:
        problems.append(f"answer {data['answer']!r} is outside the label set [{', '.join(labels)}]")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        problems.append("field 'text' must be a string or absent")
    return problems


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Record | RecordError]]:
    """Yield ``(line_number, record_or_error)`` for every non-empty line; never stops on a bad line."""
    for lineno, data in iter_lines(path):
        if isinstance(data, BadLine):
            yield lineno, RecordError(str(data))
            continue
        try:
            yield lineno, Record.from_dict(data)
        except RecordError as exc:
            rid = data.get("id", "?") if isinstance(data, dict) else "?"
            yield lineno, RecordError(f"{path}:{lineno}: record {rid!r}: {exc}")


def read_records(path: str | Path, strict: bool = True) -> list[Record]:
    """All records of a JSONL file. ``strict`` raises on the first bad line, else bad lines are skipped."""
    records = []
    for _, item in iter_jsonl(path):
        if isinstance(item, RecordError):
            if strict:
                raise item
            continue
        records.append(item)
    return records


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records atomically (see :mod:`emollm_plugin.emobench.jsonl`) and return how many were written."""
    return write_jsonl(path, (record.to_dict() for record in records))


def llava_entry(
    record: Record | dict, *, target: str | None = None, media: str | None = None, question: str | None = None
) -> dict:
    """One LLaVA training conversation for a record: the one emitter of LLaVA JSON.

    ``{"id", "image" | "video": media, "conversations": [{"from": "human", "value": "<image>\\n" +
    question}, {"from": "gpt", "value": target}], "task", "options", "source"}``. ``options`` is
    the label set the answer is scored against (yes/no for the yes/no tasks). By default the
    target is the answer, the media path and question the record's own; EmoPrompt passes a
    rationale as target, a resolved media path and the question with its exemplars.
    """
    data = record.to_dict() if isinstance(record, Record) else record
    return {
        "id": data["id"],
        data["modality"]: data["media"] if media is None else media,
        "conversations": [
            {"from": "human", "value": "<image>\n" + (data["question"] if question is None else question)},
            {"from": "gpt", "value": data["answer"] if target is None else target},
        ],
        "task": data["task"],
        "options": list(answer_options(data["task"], data.get("options") or [])),
        "source": data["source"],
    }
