"""Ground-truth-guided rationales (EmoPrompt, reconstructed) and the LLaVA training data built from them.

For each training record a teacher sees the media, the question, the sample's text **and the
correct answer**, and writes a short rationale ending in ``Answer: <label>``. The final answer is
read back with :func:`emollm_plugin.emobench.scoring.parse_answer` (the scorer evaluation uses);
a rationale whose answer differs from the ground truth is rejected and asked for again, up to
``max_attempts`` times. That is the reconstruction of "reasoning in the correct direction".

Normalisation (decided here, applied to accepted rationales only): the stored rationale is the
teacher's reasoning followed by exactly one canonical final line ``Answer: <ground truth>``. A
reply whose answer line is spelled differently ("**Answer:** Joy.", "Answer: happiness" that the
lexicon maps to joy) has that line rewritten; a reply with no answer line whose free text still
parses to the ground truth gets the line appended (``require_answer_line`` / the CLI's
``--require-answer-line`` rejects those instead, for weak teachers that merely echo label words).
Either way ``normalised`` is true in its entry and counted in the summary. Training targets
therefore always end in the line the scorer reads first. A reply with no reasoning besides the
answer line is rejected: it teaches nothing.

Results are cached per record id in ``OUT/rationales.jsonl`` (append + flush per record), so a
crashed or interrupted run resumes: accepted records are never asked again, rejected ones only
with ``retry_rejected``, failed ones (network, media) are retried. The last line of an id wins.
"""

from __future__ import annotations

import logging
import os
import string
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from emollm_plugin.emobench.jsonl import BadLine, JsonlAppender, iter_lines, write_json
from emollm_plugin.emobench.records import Record, RecordError, iter_jsonl, llava_entry
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, TASKS, get_task
from emollm_plugin.emoprompt.exemplars import Exemplar, format_with_exemplars, split_answer_line
from emollm_plugin.emoprompt.teachers import Teacher, TeacherError, TeacherRequest

log = logging.getLogger(__name__)

CACHE_NAME = "rationales.jsonl"
SUMMARY_NAME = "summary.json"

#: What the teacher is asked. Fields: task_title, modality, question, text_block, answer, labels,
#: answer_prefix. Replace it with ``--prompt-file``; it must keep ``{answer}``.
RATIONALE_PROMPT = """\
You are writing a worked example that teaches a model to understand emotions in images and videos.

Task: {task_title}.
Question about the {modality}: {question}
{text_block}The correct answer is: {answer}

Write a short rationale (two to four sentences) that reasons from the evidence to this answer: \
first the visual cues (facial expressions, gestures and body language, colours, lighting, scene, \
objects), then any cues in the text, then the emotion, intent or judgement they point to. Write \
it as if you were answering the question yourself; do not say that you were given the answer. \
Finish with one last line of exactly this form:
{answer_prefix} {answer}"""

TEMPLATE_FIELDS = ("task_title", "modality", "question", "text_block", "answer", "labels", "answer_prefix")


# --------------------------------------------------------------------------- prompt and judging


def check_template(template: str) -> str:
    """The template, after checking it only uses known fields and contains ``{answer}``."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"rationale prompt is not a valid format string ({exc}); escape braces as {{{{ }}}}") from None
    unknown = sorted(n for n in names if n not in TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(
            f"rationale prompt uses unknown field(s) {', '.join(unknown)}; allowed: {', '.join(TEMPLATE_FIELDS)}"
        )
    if "answer" not in names:
        raise ValueError("rationale prompt must contain {answer}: the teacher is guided by the ground truth")
    return template


def teacher_prompt(record: Record, template: str = RATIONALE_PROMPT) -> str:
    """The text sent to the teacher for one record (media go alongside it)."""
    text_block = f'The sample\'s text is: "{" ".join(record.text.split())}"\n' if record.text else ""
    return template.format(
        task_title=get_task(record.task).title,
        modality=record.modality,
        question=record.question,
        text_block=text_block,
        answer=record.answer,
        labels=", ".join(record.labels),
        answer_prefix=ANSWER_PREFIX,
    )


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    parsed: str | None  # the answer read from the reply
    rationale: str  # normalised when accepted, the raw reply otherwise
    normalised: bool = False
    reason: str = ""


def judge(record: Record, text: str, require_answer_line: bool = False) -> Verdict:
    """Accept a reply when its final answer is the ground truth; normalise its answer line."""
    from emollm_plugin.emobench.scoring import parse_answer

    parsed = parse_answer(record.task, text, record.labels)
    if parsed != record.answer:
        return Verdict(False, parsed, text, reason=f"answer {parsed!r} != ground truth {record.answer!r}")
    reasoning, line = split_answer_line(text)
    if not reasoning:
        return Verdict(False, parsed, text, reason="no reasoning besides the answer line")
    if line is None and require_answer_line:
        return Verdict(False, parsed, text, reason="no final answer line")
    canonical = f"{ANSWER_PREFIX} {record.answer}"
    rationale = f"{reasoning}\n{canonical}"
    return Verdict(True, parsed, rationale, normalised=(line != canonical))


# --------------------------------------------------------------------------- cache


def read_cache(path: str | Path) -> tuple[dict[str, dict], list[dict], int]:
    """``(latest entry per id, every entry, unreadable lines)``; a line cut by a crash is skipped."""
    path = Path(path)
    latest: dict[str, dict] = {}
    entries: list[dict] = []
    bad = 0
    if not path.exists():
        return latest, entries, bad
    for lineno, entry in iter_lines(path):
        if isinstance(entry, BadLine):
            bad += 1
            log.warning("%s (cut by a crash?); it is ignored", entry)
            continue
        if not isinstance(entry, dict) or "id" not in entry:
            bad += 1
            log.warning("%s:%d: not a rationale entry; it is ignored", path, lineno)
            continue
        entries.append(entry)
        latest[str(entry["id"])] = entry
    return latest, entries, bad


def load_accepted(rationales: str | Path) -> dict[str, dict]:
    """Accepted entries by id, from an output folder or a ``rationales.jsonl`` path."""
    path = Path(rationales)
    if path.is_dir():
        path = path / CACHE_NAME
    if not path.exists():
        raise ValueError(f"{path}: no rationales; create them with `emollm emoprompt generate --out {path.parent}`")
    latest, _, _ = read_cache(path)
    return {rid: e for rid, e in latest.items() if e.get("accepted")}


def needs_work(entry: dict | None, retry_rejected: bool) -> bool:
    """Whether a record must be (re)generated given its latest cache entry."""
    if entry is None:
        return True
    status = entry.get("status") or ("accepted" if entry.get("accepted") else "rejected")
    if status == "accepted":
        return False
    if status == "rejected":
        return retry_rejected
    return True  # failed: network or media trouble is worth another try


# --------------------------------------------------------------------------- generation


@dataclass
class _Job:
    record: Record
    images: list = field(default_factory=list)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last: Verdict | None = None


def media_path(record: Record, media_root: str | Path) -> Path:
    return Path(media_root) / record.media


def load_media(record: Record, media_root: str | Path, num_frames: int) -> list:
    """The record's image (one item) or sampled video frames, via the shared frame loader."""
    from emollm_plugin.emobench import media

    path = media_path(record, media_root)
    if record.modality == "video":
        return media.load_frames(path, num_frames=num_frames)
    return [media.load_image(path)]


def _entry(job: _Job, status: str, teacher_name: str, error: str | None = None) -> dict:
    record, verdict = job.record, job.last
    entry: dict[str, Any] = {
        "id": record.id,
        "task": record.task,
        "question": record.question,
        "answer": record.answer,
        "rationale": verdict.rationale if verdict else None,
        "accepted": status == "accepted",
        "status": status,
        "attempts": job.attempts,
        "parsed": verdict.parsed if verdict else None,
        "normalised": bool(verdict and verdict.accepted and verdict.normalised),
        "prompt_tokens": job.prompt_tokens,
        "completion_tokens": job.completion_tokens,
        "teacher": teacher_name,
        "time": round(time.time(), 3),
    }
    if error:
        entry["error"] = error
    return entry


def generate_rationales(
    records: Sequence[Record],
    teacher: Teacher,
    out_dir: str | Path,
    media_root: str | Path,
    *,
    max_attempts: int = 3,
    num_frames: int = 8,
    retry_rejected: bool = False,
    template: str = RATIONALE_PROMPT,
    max_tokens: int = 256,
    temperature: float = 0.2,
    retry_temperature: float = 0.8,
    chunk_size: int | None = None,
    require_answer_line: bool = False,
    teacher_name: str = "",
    progress: bool = True,
) -> dict:
    """Generate, judge and cache a rationale for every record that still needs one; return the summary.

    Records go to the teacher in chunks (``teacher.complete_batch``); within a chunk, rejected
    records are asked again (at ``retry_temperature``, so a retry can differ) until accepted or
    ``max_attempts`` replies were rejected. One record's failure (unreadable media, a teacher
    error after its retries) is written as ``failed`` and the run goes on.
    """
    from tqdm import tqdm

    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    check_template(template)
    out = Path(out_dir)
    cache = out / CACHE_NAME
    latest, _, _ = read_cache(cache)
    todo = [r for r in records if needs_work(latest.get(r.id), retry_rejected)]
    # enough records per round to keep every connection (or a local batch) busy
    chunk = chunk_size or max(2 * int(getattr(teacher, "concurrency", 1)), int(getattr(teacher, "batch_size", 1)))
    run = Counter()
    started = time.time()
    writer = JsonlAppender(cache)
    bar = tqdm(total=len(todo), desc="rationales", unit="rec", disable=not progress)

    def finish(job: _Job, status: str, error: str | None = None) -> None:
        writer.write(_entry(job, status, teacher_name, error))
        run[status] += 1
        run["prompt_tokens"] += job.prompt_tokens
        run["completion_tokens"] += job.completion_tokens
        bar.update(1)
        bar.set_postfix(accepted=run["accepted"], rejected=run["rejected"], failed=run["failed"])

    try:
        for start in range(0, len(todo), chunk):
            active: list[_Job] = []
            for record in todo[start : start + chunk]:
                job = _Job(record)
                try:
                    job.images = load_media(record, media_root, num_frames)
                except Exception as exc:  # MediaError and anything a decoder throws
                    finish(job, "failed", f"media: {exc}")
                    continue
                active.append(job)
            for attempt in range(max_attempts):
                if not active:
                    break
                requests = [
                    TeacherRequest(
                        prompt=teacher_prompt(job.record, template),
                        images=job.images,
                        video=job.record.modality == "video",
                        max_tokens=max_tokens,
                        temperature=temperature if attempt == 0 else retry_temperature,
                    )
                    for job in active
                ]
                try:
                    replies = teacher.complete_batch(requests)
                except Exception as exc:  # a teacher that raises instead of returning errors
                    log.exception("teacher failed on a batch of %d records", len(requests))
                    replies = [TeacherError(f"{type(exc).__name__}: {exc}")] * len(requests)
                still: list[_Job] = []
                for job, reply in zip(active, replies, strict=True):
                    if isinstance(reply, BaseException):
                        finish(job, "failed", f"teacher: {reply}")
                        continue
                    job.attempts += 1
                    job.prompt_tokens += reply.prompt_tokens
                    job.completion_tokens += reply.completion_tokens
                    try:
                        job.last = judge(job.record, reply.text, require_answer_line)
                    except Exception as exc:  # a scorer bug on odd text must not end the run
                        finish(job, "failed", f"judging: {type(exc).__name__}: {exc}")
                        continue
                    if job.last.accepted:
                        finish(job, "accepted")
                    elif attempt + 1 == max_attempts:
                        finish(job, "rejected")
                    else:
                        still.append(job)
                active = still
    finally:
        bar.close()
        writer.close()
        summary = summarise(cache, records)
        summary["this_run"] = {
            "processed": run["accepted"] + run["rejected"] + run["failed"],
            "accepted": run["accepted"],
            "rejected": run["rejected"],
            "failed": run["failed"],
            "prompt_tokens": run["prompt_tokens"],
            "completion_tokens": run["completion_tokens"],
            "skipped_done": len(records) - len(todo),
            "seconds": round(time.time() - started, 2),
        }
        summary["teacher"] = teacher_name
        summary["max_attempts"] = max_attempts
        write_json(out / SUMMARY_NAME, summary)
    return summary


# --------------------------------------------------------------------------- summary


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(cache: str | Path, records: Iterable[Record] | None = None) -> dict:
    """Counts per task from the cache: accepted/rejected/failed (latest entry per id), tokens and attempts (all lines).

    ``rejection_rate`` = rejected / (accepted + rejected) records; ``attempt_rejection_rate`` =
    replies rejected / replies received (it includes the rejected tries of accepted records).
    """
    latest, entries, bad = read_cache(cache)
    per: dict[str, Counter] = defaultdict(Counter)
    for entry in latest.values():
        status = entry.get("status") or ("accepted" if entry.get("accepted") else "rejected")
        per[entry.get("task", "?")][status] += 1
        per[entry.get("task", "?")]["normalised"] += bool(entry.get("accepted") and entry.get("normalised"))
    for entry in entries:
        c = per[entry.get("task", "?")]
        c["attempts"] += int(entry.get("attempts") or 0)
        c["rejected_attempts"] += int(entry.get("attempts") or 0) - (1 if entry.get("accepted") else 0)
        c["prompt_tokens"] += int(entry.get("prompt_tokens") or 0)
        c["completion_tokens"] += int(entry.get("completion_tokens") or 0)

    def row(c: Counter) -> dict:
        return {
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "failed": c["failed"],
            "rejection_rate": _rate(c["rejected"], c["accepted"] + c["rejected"]),
            "normalised": c["normalised"],
            "attempts": c["attempts"],
            "attempt_rejection_rate": _rate(c["rejected_attempts"], c["attempts"]),
            "prompt_tokens": c["prompt_tokens"],
            "completion_tokens": c["completion_tokens"],
        }

    order = [t for t in TASKS if t in per] + sorted(t for t in per if t not in TASKS)
    total = sum(per.values(), Counter())
    summary: dict[str, Any] = {"cache": str(cache), "tasks": {t: row(per[t]) for t in order}, "total": row(total)}
    summary["unreadable_lines"] = bad
    failed = [e for e in latest.values() if e.get("status") == "failed"]
    summary["example_errors"] = [f"{e['id']}: {e.get('error', '?')}" for e in failed[:3]]
    if records is not None:
        summary["pending"] = sum(1 for r in records if needs_work(latest.get(r.id), False))
    return summary


def format_summary(summary: Mapping) -> str:
    """A small table for the terminal."""
    rows = [
        [name, r["accepted"], r["rejected"], r["failed"],
         "-" if r["rejection_rate"] is None else f"{r['rejection_rate']:.1%}", r["prompt_tokens"], r["completion_tokens"]]
        for name, r in [*summary["tasks"].items(), ("total", summary["total"])]
    ]
    headers = ["task", "accepted", "rejected", "failed", "rej.rate", "tokens in", "tokens out"]
    lines = tabulate(rows, headers=headers, colalign=("left", *["right"] * 6)).splitlines()
    if "this_run" in summary:
        t = summary["this_run"]
        lines.append(
            f"this run: {t['processed']} processed ({t['accepted']} accepted, {t['rejected']} rejected, "
            f"{t['failed']} failed), {t['skipped_done']} already done, "
            f"{t['prompt_tokens']}+{t['completion_tokens']} tokens, {t['seconds']} s"
        )
    normalised = summary["total"].get("normalised", 0)
    if normalised:
        lines.append(f"accepted with a normalised answer line (appended or rewritten): {normalised}")
    for error in summary.get("example_errors", []):
        lines.append(f"failed: {error}")
    if summary.get("pending"):
        lines.append(f"still pending (failed or never asked): {summary['pending']}; rerun to resume")
    return "\n".join(lines)


# --------------------------------------------------------------------------- records in


def load_records_for_run(path: str | Path, splits: Sequence[str] | None = ("train",)) -> tuple[list[Record], dict]:
    """Valid records of the given splits; bad lines are reported and skipped, duplicate ids refused.

    Returns the records and counts ``{"bad_lines", "other_splits"}``. Rationales and exemplars
    come from training records only by default, so no test question leaks into a prompt.
    """
    records: list[Record] = []
    bad: list[str] = []
    other = Counter()
    seen: dict[str, int] = {}
    for lineno, item in iter_jsonl(path):
        if isinstance(item, RecordError):
            bad.append(str(item))
            continue
        if item.id in seen:
            raise RecordError(
                f"{path}:{lineno}: record id {item.id!r} already used on line {seen[item.id]}; "
                "ids must be unique (rationales are cached by id)"
            )
        seen[item.id] = lineno
        if splits and item.split not in splits:
            other[item.split] += 1
            continue
        records.append(item)
    for message in bad[:5]:
        log.warning("skipping bad record: %s", message)
    if len(bad) > 5:
        log.warning("... and %d more bad records (run `emollm data validate`)", len(bad) - 5)
    return records, {"bad_lines": len(bad), "other_splits": dict(other)}


# --------------------------------------------------------------------------- LLaVA training data


def llava_media_path(record: Record, media_root: str | Path, relative_to: str | Path | None) -> str:
    """Absolute media path, or relative to ``relative_to`` (pass that folder as LLaVA's ``--image_folder``)."""
    path = (Path(media_root) / record.media).resolve()
    if relative_to is None:
        return str(path)
    return os.path.relpath(path, Path(relative_to).resolve())


def build_llava_items(
    records: Iterable[Record],
    accepted: Mapping[str, Mapping],
    media_root: str | Path,
    *,
    answer_only: bool = False,
    exemplars: Mapping[str, Sequence[Exemplar]] | None = None,
    relative_to: str | Path | None = None,
) -> tuple[list[dict], dict]:
    """LLaVA conversations for records: the accepted rationale as target, or the bare answer.

    Returns the items and counts per task ``{"rationale": n, "answer_only": n, "fallback": n}``
    (``fallback``: wanted a rationale, had none accepted, used the answer).
    """
    items: list[dict] = []
    stats: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        entry = accepted.get(record.id)
        if answer_only:
            target, kind = record.answer, "answer_only"
        elif entry and entry.get("answer") == record.answer and entry.get("rationale"):
            target, kind = entry["rationale"], "rationale"
        else:
            target, kind = record.answer, "fallback"
        stats[record.task][kind] += 1
        media = llava_media_path(record, media_root, relative_to)
        question = format_with_exemplars(
            record.question, (exemplars or {}).get(record.task, ()), exclude_id=record.id
        )
        items.append(llava_entry(record, target=target, media=media, question=question))
    return items, {t: dict(c) for t, c in stats.items()}


def iter_tasks(stats: Mapping[str, Mapping[str, int]]) -> Iterator[tuple[str, Mapping[str, int]]]:
    for task in [t for t in TASKS if t in stats]:
        yield task, stats[task]
