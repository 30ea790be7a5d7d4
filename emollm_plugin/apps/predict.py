"""``emollm predict``: answers for one's own images and videos, straight from a checkpoint.

Each file gets the EmoBench question of the chosen sub-task (or ``--question``), asked through
:class:`~emollm_plugin.llava_glue.inference.EmoLLMRunner` with the checkpoint's own template and
image preparation, and videos are sampled with the frame sampler training used. The full answer
(the rationale) and the label :func:`~emollm_plugin.emobench.scoring.parse_answer` reads from it go
to one JSON line per file, written batch by batch, so a killed run resumes where it stopped: a
file already in ``--out`` with the same task and question is not asked again. A file that cannot
be decoded is reported with its reason and skipped; the others still run, and its line holds the
``error`` instead of an answer (so every file is accounted for; ``--retry-unreadable`` tries again).

The task helpers here (default label sets, questions, the parsed label) are shared with
``emollm serve``'s demo page, so both ask and read exactly the same way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from PIL import Image

from emollm_plugin.emobench.media import MediaError, guess_modality, load_frames, load_image
from emollm_plugin.emobench.scoring import parse_answer
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, YES_NO, build_question, get_task

#: Label sets asked (emo_c, intent) or read against (emo_o's hidden set) when none is given.
DEFAULT_OPTIONS: dict[str, tuple[str, ...]] = {
    "emo_c": LABEL_SETS["ekman7"],
    "emo_o": LABEL_SETS["ekman7"],
    "intent": LABEL_SETS["mintrec20"],
    "hate": YES_NO,
    "humor": YES_NO,
    "sarcasm": YES_NO,
}


def task_options(task: str, options: Sequence[str] | None = None) -> tuple[str, ...]:
    """The label set of a sub-task: the given one, else :data:`DEFAULT_OPTIONS`."""
    get_task(task)
    return tuple(options) if options else DEFAULT_OPTIONS[task]


def task_question(task: str, modality: str, options: Sequence[str] | None = None, text: str | None = None) -> str:
    """The EmoBench question for one file; the open-set task lists no options."""
    listed = () if get_task(task).answer_kind == "open" else task_options(task, options)
    return build_question(task, modality, listed, text)


def parse_label(task: str, answer: str, options: Sequence[str] | None = None) -> str | None:
    """The label an answer names, read exactly as EmoBench scores it (``None`` when unreadable)."""
    return parse_answer(task, answer, task_options(task, options))


# --------------------------------------------------------------------------- inputs


def collect_media(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Image and video files to answer (folders expanded recursively, sorted) and one line per bad path."""
    files: list[Path] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and guess_modality(p) is not None
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{path}: no image or video files in this folder")
            for file in found:
                add(file)
        elif path.is_file():
            if guess_modality(path) is None:
                problems.append(f"{path}: not an image or video file name (suffix {path.suffix or 'none'}); skipped")
            else:
                add(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def load_media(path: Path, num_frames: int, max_fps: float | None = None) -> list[Image.Image]:
    """One image, or the sampled frames of one video; :class:`MediaError` names a file that cannot be used."""
    if guess_modality(path) == "video":
        return load_frames(path, num_frames=num_frames, max_fps=max_fps)
    return [load_image(path)]


# --------------------------------------------------------------------------- output and resume


def record_key(path: Path | str, task: str, question: str) -> str:
    """What makes two answers the same job: the file, the task and the exact question."""
    return f"{Path(path).resolve()}\t{task}\t{question}"


def read_done(out: Path, retry_unreadable: bool = False) -> tuple[set[str], list[str]]:
    """Keys already in ``out`` (answers, and unreadable files unless retried) and notes on what was repaired.

    A line cut short by a kill is removed from the file; with ``retry_unreadable`` the records of
    unreadable files are removed too, so those files are tried again without leaving two records.
    """
    if not out.is_file():
        return set(), []
    raw = out.read_bytes()
    notes = []
    cut = bool(raw) and not raw.endswith(b"\n")
    if cut:
        raw = raw[: raw.rfind(b"\n") + 1]
        notes.append(f"{out}: removed an unfinished last line (the previous run was interrupted)")
    done, kept, dropped = set(), [], 0
    for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(keepends=True), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = record_key(entry["file"], entry["task"], entry["question"])
        except (json.JSONDecodeError, KeyError, TypeError):
            notes.append(f"{out}:{lineno}: not a prediction record; left as is and not counted as done")
            kept.append(line)
            continue
        if retry_unreadable and entry.get("error"):
            dropped += 1
            continue
        done.add(key)
        kept.append(line)
    if dropped:
        notes.append(f"{out}: {dropped} unreadable file(s) will be tried again")
    if cut or dropped:
        out.write_text("".join(kept), encoding="utf-8")
    return done, notes


@dataclass
class Job:
    """One file with its question."""

    path: Path
    modality: str
    question: str


@dataclass
class PredictSummary:
    answered: int = 0
    resumed: int = 0
    skipped: list[str] = field(default_factory=list)


class Generator(Protocol):
    """What prediction needs of a runner: ``generate`` plus ``num_frames``/``max_fps`` for videos."""

    num_frames: int
    max_fps: float | None

    def generate(self, prompts: list[str], media: list[list[Image.Image] | None], max_new_tokens: int = 128,
                 temperature: float = 0.0) -> list[str]: ...


def plan(files: Sequence[Path], task: str, question: str | None = None, text: str | None = None,
         options: Sequence[str] | None = None, done: set[str] | None = None) -> tuple[list[Job], int]:
    """The files still to answer, each with its question, and how many ``done`` already holds."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    jobs, resumed = [], 0
    for path in files:
        modality = guess_modality(path) or "image"
        asked = question or task_question(task, modality, options, text)
        if done and record_key(path, task, asked) in done:
            resumed += 1
        else:
            jobs.append(Job(path, modality, asked))
    return jobs, resumed


def _say(line: str) -> None:
    """A line on stderr that does not tear the progress bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _batches(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def _load_batch(batch: list[Job], num_frames: int, max_fps: float | None) -> list[list[Image.Image] | MediaError]:
    loaded: list[list[Image.Image] | MediaError] = []
    for job in batch:
        try:
            loaded.append(load_media(job.path, num_frames, max_fps))
        except MediaError as exc:
            loaded.append(exc)
    return loaded


def predict(
    runner: Generator,
    files: Sequence[Path],
    task: str,
    sink: TextIO,
    *,
    question: str | None = None,
    text: str | None = None,
    options: Sequence[str] | None = None,
    done: set[str] | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 256,
    model: str = "",
    progress: bool = True,
    report: Callable[[str], Any] | None = None,
) -> PredictSummary:
    """Answer ``files`` batch by batch and write one JSON line per answer to ``sink`` (flushed per batch).

    Media for the next batch is decoded in a background thread while the model answers this one.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    jobs, resumed = plan(files, task, question, text, options, done)
    summary = PredictSummary(resumed=resumed)
    bar = tqdm(total=len(jobs), unit="file", desc="emollm predict", disable=not progress, file=sys.stderr)
    batches = list(_batches(jobs, batch_size))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future | None = None
        if batches:
            pending = pool.submit(_load_batch, batches[0], runner.num_frames, runner.max_fps)
        for index, batch in enumerate(batches):
            loaded = pending.result()
            if index + 1 < len(batches):
                pending = pool.submit(_load_batch, batches[index + 1], runner.num_frames, runner.max_fps)
            ready = [(job, media) for job, media in zip(batch, loaded, strict=True) if not isinstance(media, MediaError)]
            answers = iter(runner.generate([job.question for job, _ in ready], [media for _, media in ready],
                                           max_new_tokens=max_new_tokens) if ready else [])
            for job, media in zip(batch, loaded, strict=True):
                entry = {"file": str(job.path), "modality": job.modality, "task": task, "question": job.question}
                if isinstance(media, MediaError):
                    summary.skipped.append(str(media))
                    (report or _say)(f"skipped {media}")
                    entry.update(frames=0, answer=None, label=None, error=str(media))
                else:
                    answer = next(answers)
                    entry.update(frames=len(media), answer=answer, label=parse_label(task, answer, options))
                entry["model"] = model
                sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
            sink.flush()
            summary.answered += len(ready)
            bar.update(len(batch))
    bar.close()
    return summary
