"""EmoPrompts: accepted (question, rationale, answer) exemplars put into the instruction.

:func:`format_with_exemplars` is the one place that inserts them, used unchanged by training
(``to-llava --k`` and the trainer's ``--emoprompt_k``) and by evaluation (the lmms-eval task), so
the model sees the same prompt shape in both. Exemplars are text-only demonstrations: their
images and videos are not attached (a LLaVA-1.5 prompt holds one image).

Selection is deterministic given the seed and spread over labels, so ``k`` exemplars of an
8-label task show ``k`` different labels where possible, not whatever label dominates the data.
The selection is written once (``emollm emoprompt exemplars``) to ``exemplars.json`` and read
back with :func:`load_exemplars`, so training and evaluation cannot drift apart.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from emollm_plugin.emobench.jsonl import write_json
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, TASKS

#: Header and footer around the demonstrations; change the wording here and both sides follow.
EXEMPLAR_HEADER = "Here are examples of reasoning about emotions (their images or videos are not shown):"
EXEMPLAR_ITEM = "Example {n}:\nQuestion: {question}\nReasoning: {reasoning}\n" + ANSWER_PREFIX + " {answer}"
EXEMPLAR_FOOTER = "Now answer:"

# A final line such as "Answer: joy", "**Answer:** joy" or "Final answer: joy".
_ANSWER_LINE = re.compile(r"^[\s*_#>`-]*(final\s+)?answer\s*[*_]*\s*:", re.IGNORECASE)


def split_answer_line(text: str) -> tuple[str, str | None]:
    """``(reasoning, answer_line)``: the text without its trailing answer line, and that line (or None)."""
    lines = text.strip().splitlines()
    if lines and _ANSWER_LINE.match(lines[-1]):
        return "\n".join(lines[:-1]).strip(), lines[-1].strip()
    return "\n".join(lines).strip(), None


@dataclass(frozen=True)
class Exemplar:
    id: str
    task: str
    question: str
    reasoning: str  # the rationale without its final answer line
    answer: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "exemplar") -> Exemplar:
        missing = [k for k in ("id", "task", "question", "reasoning", "answer") if not data.get(k)]
        if missing:
            raise ValueError(f"{where}: missing or empty field(s) {', '.join(missing)}")
        return cls(str(data["id"]), data["task"], data["question"], data["reasoning"], data["answer"])

    @classmethod
    def from_rationale(cls, entry: Mapping) -> Exemplar:
        """From an accepted entry of ``rationales.jsonl``."""
        reasoning, _ = split_answer_line(entry["rationale"])
        return cls(str(entry["id"]), entry["task"], entry["question"], reasoning, entry["answer"])


def select_exemplars(rationales: Iterable[Mapping], k: int, seed: int, task: str) -> list[Exemplar]:
    """``k`` accepted exemplars of ``task``, round-robin over its labels in a seeded order.

    Deterministic given ``seed`` whatever the order of ``rationales``; fewer than ``k`` come back
    when the task has fewer accepted rationales (with a non-empty reasoning).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if k == 0:
        return []
    by_label: dict[str, list[Exemplar]] = {}
    for entry in rationales:
        if entry.get("task") != task or not entry.get("accepted") or not entry.get("rationale") or not entry.get("question"):
            continue
        exemplar = Exemplar.from_rationale(entry)
        if exemplar.reasoning:
            by_label.setdefault(exemplar.answer, []).append(exemplar)
    rng = random.Random(f"emoprompt:{seed}:{task}")
    labels = sorted(by_label)
    rng.shuffle(labels)
    queues = []
    for label in labels:
        pool = sorted(by_label[label], key=lambda e: e.id)
        rng.shuffle(pool)
        queues.append(pool)
    chosen: list[Exemplar] = []
    depth = 0
    while len(chosen) < k and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(chosen) < k:
                chosen.append(queue[depth])
        depth += 1
    return chosen


def select_all(
    rationales: Iterable[Mapping], k: int, seed: int, tasks: Iterable[str] | None = None
) -> dict[str, list[Exemplar]]:
    """:func:`select_exemplars` for every task that has accepted rationales (or the given tasks)."""
    entries = list(rationales)
    wanted = list(tasks) if tasks is not None else [t for t in TASKS if any(e.get("task") == t for e in entries)]
    return {task: select_exemplars(entries, k, seed, task) for task in wanted}


def format_with_exemplars(question: str, exemplars: Iterable[Exemplar], exclude_id: str | None = None) -> str:
    """The instruction with demonstrations before the question; the question unchanged when there are none.

    ``exclude_id`` drops the exemplar made from the sample itself, so a training sample never sees
    its own target in its prompt (that sample then gets ``k - 1`` demonstrations).
    """
    kept = [e for e in exemplars if exclude_id is None or e.id != exclude_id]
    items = [
        EXEMPLAR_ITEM.format(n=n, question=e.question, reasoning=e.reasoning, answer=e.answer)
        for n, e in enumerate(kept, start=1)
    ]
    if not items:
        return question
    return "\n\n".join([EXEMPLAR_HEADER, *items, f"{EXEMPLAR_FOOTER}\n{question}"])


def write_exemplars(path: str | Path, selection: Mapping[str, list[Exemplar]]) -> Path:
    """``{task: [exemplar dicts]}`` as JSON, written atomically."""
    return write_json(path, {task: [e.to_dict() for e in items] for task, items in selection.items()})


def load_exemplars(path: str | Path) -> dict[str, list[Exemplar]]:
    """Read ``exemplars.json``; errors name the file, the task and the entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no exemplars file; create it with `emollm emoprompt exemplars`") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}); regenerate it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object {{task: [exemplars]}}, got {type(data).__name__}")
    out: dict[str, list[Exemplar]] = {}
    for task, items in data.items():
        if task not in TASKS:
            raise ValueError(f"{path}: unknown task {task!r}; known tasks: {', '.join(TASKS)}")
        if not isinstance(items, list):
            raise ValueError(f"{path}: task {task!r} must map to a list of exemplars")
        out[task] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"{path}: {task}[{i}] must be an object")
            exemplar = Exemplar.from_dict(item, where=f"{path}: {task}[{i}]")
            if exemplar.task != task:
                raise ValueError(f"{path}: {task}[{i}] has task {exemplar.task!r}; move it under its own task")
            out[task].append(exemplar)
    return out
