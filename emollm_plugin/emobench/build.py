"""Build EmoBench records from a public source, and the layout every other stage reads.

Layout of an EmoBench folder ``OUT`` (media paths in every file are relative to ``OUT``)::

    OUT/records/<source>.jsonl   every record of one source (the source of truth); build writes
                                 OUT/records/<source>.jsonl.partial while it runs
    OUT/records/<source>.files.json  records and skips per metadata file, as the adapter read them
    OUT/media/<source>           a symlink to the source's --root (or --media-root), or the media itself
                                 (synth writes OUT/media/synth/...); records say media/<source>/<rel>
    OUT/skipped/<source>.jsonl   samples the build could not use: {"key", "reason"}
    OUT/train/<task>.jsonl       all train-split records of one task over all sources
    OUT/test/<task>.jsonl        likewise for the test split (what the lmms-eval tasks read);
                                 OUT/val/<task>.jsonl when a source has a validation split
    OUT/llava/train.json         LLaVA training JSON: [{"id", "image" | "video", "conversations":
                                 [{"from": "human", "value": "<image>\\n" + question},
                                  {"from": "gpt", "value": answer}], "task", "options", "source"}]
    OUT/llava/test.json          likewise for the test split (val.json for val)
    OUT/summary.json             counts per source, task, label, split, modality; skipped samples

Everything but ``records/``, ``skipped/`` and ``media/`` is derived: :func:`write_views`
regenerates it from ``records/*.jsonl``, so several sources build into one ``OUT``, one at a time.

A build is resumable and idempotent: records are appended to the ``.partial`` file and flushed
as they come; a rerun reads it (or the finished file), skips ids already written and appends
the rest, then renames it. One bad sample is skipped and reported, never fatal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from emollm_plugin.emobench.jsonl import BadLine, iter_lines, read_objects, write_json, write_jsonl
from emollm_plugin.emobench.records import Record, record_problems
from emollm_plugin.emobench.records import llava_entry as llava_entry  # the emitter llava_entry_json mirrors
from emollm_plugin.emobench.tasks import SPLITS, TASKS, answer_options

RECORDS_DIR = "records"
MEDIA_DIR = "media"
SKIPPED_DIR = "skipped"
LLAVA_DIR = "llava"
SUMMARY_FILE = "summary.json"
PARTIAL_SUFFIX = ".partial"
FILES_SUFFIX = ".files.json"  # records/<source>.files.json: per-file counts of the adapter
VIEW_DIRS = SPLITS  # train/, val/, test/
MAX_LISTED = 50  # skipped samples / problems listed by name in summary.json (the rest are counted)

CheckMedia = Literal["none", "exists", "decode"]


class BuildError(RuntimeError):
    """A build that cannot go on; the message names the folder or sample and what to do."""


@dataclass
class BuildResult:
    source: str
    records_path: Path
    total: int  # records in the finished file
    added: int  # written by this run
    resumed: int  # already written by an earlier (interrupted or finished) run
    skipped: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- layout helpers


def dataset_root(path: str | Path) -> Path:
    """The EmoBench folder that media paths are relative to, for a folder or any file in the layout."""
    path = Path(path)
    if path.is_dir():
        return path
    parent = path.parent
    if parent.name in (RECORDS_DIR, *VIEW_DIRS, LLAVA_DIR):
        return parent.parent
    return parent


def media_path(root: str | Path, record: Record | dict) -> Path:
    """Where a record's media file lives, given the EmoBench folder."""
    media = record.media if isinstance(record, Record) else record["media"]
    return Path(root) / media


# ----------------------------------------------------------------------------- views + summary


def _read_store(path: Path, problems: list[str]) -> Iterator[tuple[dict, str]]:
    """(record dict, its JSON line) for every valid line; bad lines (bad JSON, not UTF-8) go to ``problems``."""
    for lineno, data in iter_lines(path):
        if isinstance(data, BadLine):
            problems.append(str(data))
            continue
        issues = record_problems(data)
        if issues:
            rid = data.get("id", "?") if isinstance(data, dict) else "?"
            problems.append(f"{path}:{lineno}: record {rid!r}: {'; '.join(issues)}")
            continue
        yield data, json.dumps(data, ensure_ascii=False)


def _read_file_counts(out: Path, source: str) -> dict:
    """``{metadata file: {"records", "skipped"}}`` the adapter reported for ``source`` (empty if none)."""
    path = out / RECORDS_DIR / f"{source}{FILES_SUFFIX}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_skipped(out: Path) -> dict[str, list[dict]]:
    skipped: dict[str, list[dict]] = {}
    folder = out / SKIPPED_DIR
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        skipped[path.stem], bad = read_objects(path)
        for line in bad:
            print(f"warning: {line} (a skip list of an earlier build; left out of the summary)")
    return skipped


_quote = json.encoder.py_encode_basestring  # replaced by the C version below when available
if getattr(json.encoder, "c_encode_basestring", None) is not None:
    _quote = json.encoder.c_encode_basestring


def llava_entry_json(record: dict) -> str:
    """``json.dumps(llava_entry(record), ensure_ascii=False)``, assembled from quoted fields.

    Five times faster than encoding the dict, which matters at 287k records; a test holds the
    two equal.
    """
    q = _quote
    options = ", ".join(q(o) for o in answer_options(record["task"], record.get("options") or []))
    return (
        f'{{"id": {q(record["id"])}, {q(record["modality"])}: {q(record["media"])}, '
        f'"conversations": [{{"from": "human", "value": {q("<image>" + chr(10) + record["question"])}}}, '
        f'{{"from": "gpt", "value": {q(record["answer"])}}}], "task": {q(record["task"])}, '
        f'"options": [{options}], "source": {q(record["source"])}}}'
    )


class _Outputs:
    """Derived files written as they stream in (temp names), renamed into place only on success."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.handles: dict[Path, Any] = {}

    def write(self, path: Path, text: str, first: str = "", between: str = "") -> None:
        handle = self.handles.get(path)
        if handle is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.handles[path] = path.with_name(path.name + ".tmp").open("w", encoding="utf-8")
            handle.write(first)
        else:
            handle.write(between)
        handle.write(text)

    def commit(self, closing: dict[str, str]) -> None:
        """Close (writing ``closing[suffix]`` last), rename into place, delete stale derived files."""
        for path, handle in self.handles.items():
            handle.write(closing.get(path.suffix, ""))
            handle.close()
            path.with_name(path.name + ".tmp").replace(path)
        for folder, pattern in [
            *((self.out / s, "*.jsonl") for s in VIEW_DIRS),
            (self.out / LLAVA_DIR, "*.json"),
        ]:
            for stale in folder.glob(pattern) if folder.is_dir() else []:
                if stale not in self.handles:
                    stale.unlink()

    def abort(self) -> None:
        for path, handle in self.handles.items():
            handle.close()
            path.with_name(path.name + ".tmp").unlink(missing_ok=True)


def _count_summary(counts: Counter) -> tuple[dict, dict, dict]:
    """(per task, per source, per split) tables from counts keyed (source, split, task, modality, label)."""
    tasks: dict[str, dict] = {}
    sources: dict[str, dict] = {}
    splits: Counter = Counter()
    for (source, split, task, modality, label), n in counts.items():
        splits[split] += n
        entry = tasks.setdefault(
            task,
            {
                "records": 0,
                "splits": Counter(),
                "labels": Counter(),
                "modalities": Counter(),
                "labels_by_split": {},
            },
        )
        entry["records"] += n
        entry["splits"][split] += n
        entry["labels"][label] += n
        entry["modalities"][modality] += n
        entry["labels_by_split"].setdefault(split, Counter())[label] += n
        src = sources.setdefault(
            source, {"records": 0, "splits": Counter(), "tasks": Counter(), "modalities": Counter()}
        )
        src["records"] += n
        src["splits"][split] += n
        src["tasks"][task] += n
        src["modalities"][modality] += n
    ordered_tasks = {task: _plain(tasks[task]) for task in TASKS if task in tasks}
    return ordered_tasks, {name: _plain(sources[name]) for name in sorted(sources)}, dict(splits)


def write_views(out_dir: str | Path, *, quiet: bool = False) -> dict:
    """Regenerate ``train/``, ``test/``, ``val/``, ``llava/`` and ``summary.json`` from ``records/``.

    Streams: memory holds the ids (for duplicates) and the counts, not the records. Invalid lines
    and duplicate ids (the first one wins) are left out and listed in the summary, which is
    returned.
    """
    out = Path(out_dir)
    store = out / RECORDS_DIR
    files = sorted(store.glob("*.jsonl")) if store.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"{store}: no records (*.jsonl); build a source first (`emollm data build`) or "
            "`emollm data synth`"
        )
    problems: list[str] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    counts: Counter = Counter()
    outputs = _Outputs(out)
    paths: dict[tuple[str, str], tuple[Path, Path]] = {}
    try:
        for path in files:
            for data, line in _read_store(path, problems):
                rid = data["id"]
                if rid in seen:
                    duplicates.append(f"{path.name}: {rid}")
                    continue
                seen.add(rid)
                split, task = data["split"], data["task"]
                counts[(path.stem, split, task, data["modality"], data["answer"])] += 1
                targets = paths.get((split, task))
                if targets is None:
                    targets = paths[(split, task)] = (
                        out / split / f"{task}.jsonl",
                        out / LLAVA_DIR / f"{split}.json",
                    )
                outputs.write(targets[0], line + "\n")
                outputs.write(targets[1], llava_entry_json(data), "[\n", ",\n")
        outputs.commit({".json": "\n]\n"})
    except BaseException:
        outputs.abort()
        raise

    tasks, sources, splits = _count_summary(counts)
    for name, entry in sources.items():
        files = _read_file_counts(out, name)
        if files:
            entry["files"] = files
    skipped = _read_skipped(out)
    summary = {
        "records": len(seen),
        "splits": splits,
        "tasks": tasks,
        "sources": sources,
        "skipped": {
            name: {
                "count": len(items),
                "reasons": dict(
                    Counter(problem_kind(item.get("reason", "?")) for item in items).most_common()
                ),
                "samples": items[:MAX_LISTED],
            }
            for name, items in skipped.items()
        },
        "invalid_records": {"count": len(problems), "samples": problems[:MAX_LISTED]},
        "duplicate_ids": {"count": len(duplicates), "samples": duplicates[:MAX_LISTED]},
    }
    write_json(out / SUMMARY_FILE, summary)
    if not quiet and (problems or duplicates):
        print(
            f"warning: left out {len(problems)} invalid lines and {len(duplicates)} duplicate ids; "
            f"see {out / SUMMARY_FILE} and run `emollm data validate {out}`"
        )
    return summary


def _plain(value: Any) -> Any:
    """Counters as plain, sorted dicts for JSON."""
    if isinstance(value, Counter):
        return dict(sorted(value.items()))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_NUMBER = re.compile(r"\b\d+\b")
_PATHLIKE = re.compile(
    r"[^\s:;,]*/[^\s:;,]+|[^\s:;,]+\.(?:jpe?g|png|gif|bmp|webp|tiff?|mp4|avi|mkv|mov|webm|flv|wav|json|jsonl|csv|tsv|txt|pkl)\b",
    re.IGNORECASE,
)


def problem_kind(problem: str) -> str:
    """A problem message without file names, quoted values and details, to count alike problems."""
    kind = _BRACKETED.sub("", _QUOTED.sub("'...'", problem))
    kind = _NUMBER.sub("N", _PATHLIKE.sub("<file>", kind.split("; ", 1)[0]))
    return " ".join(kind.split()).rstrip(":") or problem[:80]


def format_summary(summary: dict, root: str | Path | None = None) -> str:
    """A short human-readable table of a summary (counts per task, split, label; skipped)."""
    splits = ", ".join(f"{k} {v}" for k, v in sorted(summary["splits"].items()))
    where = f" at {root}" if root is not None else ""
    out = [f"EmoBench{where}: {summary['records']} records ({splits})"]
    out.append(
        f"{'task':<8} {'records':>7} {'train':>6} {'val':>5} {'test':>6} {'image':>6} {'video':>6}  labels"
    )
    for task, entry in summary["tasks"].items():
        sp, mo = entry["splits"], entry["modalities"]
        labels = ", ".join(f"{label} {n}" for label, n in entry["labels"].items())
        out.append(
            f"{task:<8} {entry['records']:>7} {sp.get('train', 0):>6} {sp.get('val', 0):>5} "
            f"{sp.get('test', 0):>6} {mo.get('image', 0):>6} {mo.get('video', 0):>6}  {labels}"
        )
    for name, entry in summary["sources"].items():
        files = "; ".join(
            f"{file} {n.get('records', 0)}" + (f" ({n['skipped']} skipped)" if n.get("skipped") else "")
            for file, n in entry.get("files", {}).items()
        )
        out.append(f"source {name}: {entry['records']} records" + (f", read from {files}" if files else ""))
    for name, entry in summary["skipped"].items():
        if entry["count"]:
            reasons = "; ".join(f"{n} x {reason}" for reason, n in list(entry["reasons"].items())[:5])
            out.append(f"skipped from {name}: {entry['count']} ({reasons})")
    for key in ("invalid_records", "duplicate_ids"):
        if summary[key]["count"]:
            out.append(
                f"{key.replace('_', ' ')}: {summary[key]['count']} (first: {summary[key]['samples'][0]})"
            )
    return "\n".join(out)


# ----------------------------------------------------------------------------- build


def _load_partial(path: Path) -> set[str]:
    """Ids in a partial/finished records file; rewrites it without a torn last line if a crash left one."""
    ids: set[str] = set()
    kept: list[dict] = []
    dirty = False
    for _, data in iter_lines(path):
        if isinstance(data, BadLine) or not isinstance(data, dict) or "id" not in data or data["id"] in ids:
            dirty = True
            continue
        ids.add(data["id"])
        kept.append(data)
    if dirty:
        write_jsonl(path, kept)
    return ids


def _link_media(out: Path, source: str, root: Path) -> None:
    link = out / MEDIA_DIR / source
    target = root.resolve()
    if link.is_symlink():
        if link.resolve() == target:
            return
        print(f"note: {link} pointed at {os.readlink(link)}; now points at {target}")
        link.unlink()
    elif link.exists():
        raise BuildError(
            f"{link} exists and is not a symlink; remove it or build into another --out "
            f"(build links {MEDIA_DIR}/<source> to --root)"
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def _check_root(root: Path, adapter: Any) -> None:
    name = adapter.name
    if not root.exists():
        raise BuildError(f"--root {root} does not exist; download {name} there first")
    if not root.is_dir():
        raise BuildError(f"--root {root} is not a folder; point it at the unpacked {name} release")
    if not any(root.iterdir()):
        raise BuildError(f"--root {root} is empty; download and unpack {name} into it first")
    try:
        adapter.check_layout(root)
    except FileNotFoundError as exc:
        raise BuildError(f"{root} does not look like {name}: {exc}") from exc


def unsafe_media_path(media: str) -> bool:
    """True for an absolute path or one that climbs out of its root with '..'."""
    return media.startswith(("/", "\\")) or ":" in media[:3] or ".." in media.replace("\\", "/").split("/")


def link_outside(root: Path, path: Path) -> Path | None:
    """Where ``path`` really is when a symlink on the way takes it out of ``root`` (None when it stays inside).

    Like a '..' path, a link out of the release would let a record point at any file on the machine.
    """
    real = Path(os.path.realpath(path))
    return None if real.is_relative_to(os.path.realpath(root)) else real


def _media_reason(
    root: Path, record: Record, check_media: CheckMedia, num_frames: int, decoded: dict | None = None
) -> str | None:
    if unsafe_media_path(record.media):
        return f"media path {record.media!r} must be relative to the source root, without '..'"
    path = root / record.media
    outside = link_outside(root, path)
    if outside is not None:
        return f"media path {record.media!r} is a link to {outside}, outside the source root; copy the file in"
    if check_media == "none":
        return None
    if check_media == "exists":
        try:
            size = path.stat().st_size
        except OSError:
            return f"media file {record.media} not found under {root}"
        return None if size > 0 else f"media file {record.media} is empty (zero bytes)"
    if decoded is not None and (record.media, record.modality) in decoded:
        result = decoded[record.media, record.modality]  # checked ahead by _decode_ahead's workers
        if isinstance(result, Exception):
            raise result  # the sample is skipped with it, as when decoded here
        return result
    from emollm_plugin.emobench.media import media_problem

    return media_problem(path, record.modality, num_frames=num_frames)


def _decode_ahead(
    items: Iterator[Any], root: Path, num_frames: int, workers: int, done: set[str], decoded: dict
) -> Iterator[Any]:
    """The adapter's items, unchanged and in order, while ``workers`` processes decode the media of
    the next ``8 * workers`` records; each result is in ``decoded[(media, modality)]`` before its
    record is yielded. An adapter error is raised after the items it followed, as without workers.
    """
    from collections import deque

    from emollm_plugin.emobench.media import decoder_threads, media_problem, process_pool

    buffer: deque = deque()
    pending: dict[tuple[str, str], Any] = {}
    error: BaseException | None = None
    exhausted = False
    pool = process_pool(workers)
    try:
        while True:
            while not exhausted and len(buffer) < 8 * workers:
                try:
                    item = next(items)
                except StopIteration:
                    exhausted = True
                    break
                except Exception as exc:
                    error, exhausted = exc, True
                    break
                buffer.append(item)
                key = (getattr(item, "media", None), getattr(item, "modality", None))
                if (isinstance(item, Record) and item.id not in done and not unsafe_media_path(item.media)
                        and key not in pending and key not in decoded):
                    pending[key] = pool.submit(
                        media_problem, root / item.media, item.modality, num_frames, decoder_threads(workers)
                    )
            if not buffer:
                break
            item = buffer.popleft()
            key = (getattr(item, "media", None), getattr(item, "modality", None))
            if key in pending:
                future = pending.pop(key)
                decoded[key] = future.exception() or future.result()
            yield item
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error


def _resolve_adapter(source: Any) -> Any:
    if not isinstance(source, str):
        return source
    try:
        from emollm_plugin.emobench.sources import get_source
    except ImportError as exc:
        raise BuildError(
            f"the source adapters (emollm_plugin.emobench.sources) cannot be imported: {exc}"
        ) from exc
    try:
        return get_source(source)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc


def _skip_entry(item: Any) -> dict:
    """``{"key", "reason"}`` for an adapter's Skip (or for anything else it should not have yielded)."""
    reason = getattr(item, "reason", None)
    if reason is None:
        return {"key": "?", "reason": f"adapter yielded {type(item).__name__}, not a Record or Skip"}
    return {"key": str(getattr(item, "key", "?")), "reason": str(reason)}


#: Held in ``--out`` while a build writes there: two builds into one folder would interleave their records.
LOCK_NAME = ".build.lock"


def _one_build_per_out(build: Any) -> Any:
    """Refuse a second ``build_source`` into the same ``out_dir`` while one runs (any process)."""
    import functools

    @functools.wraps(build)
    def locked(source: Any, root: str | Path, out_dir: str | Path, *args: Any, **kwargs: Any) -> BuildResult:
        from filelock import FileLock, Timeout

        out = Path(out_dir)
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise BuildError(
                f"{out} is being written by another `emollm data build` (it holds {out / LOCK_NAME}); wait for "
                "it to finish, or build into another --out"
            ) from None
        try:
            return build(source, root, out_dir, *args, **kwargs)
        finally:
            lock.release()
            if created and [p.name for p in out.iterdir()] == [LOCK_NAME]:  # a build that wrote nothing
                (out / LOCK_NAME).unlink(missing_ok=True)
                out.rmdir()

    return locked


@_one_build_per_out
def build_source(
    source: Any,
    root: str | Path,
    out_dir: str | Path,
    *,
    check_media: CheckMedia = "exists",
    num_frames: int = 8,
    fresh: bool = False,
    progress: bool = True,
    flush_every: int = 1000,
    views: bool = True,
    media_root: str | Path | None = None,
    workers: int = 1,
) -> BuildResult:
    """Turn one source's native release under ``root`` into ``OUT/records/<source>.jsonl``.

    ``source`` is a registered adapter name or an adapter object. ``check_media``: ``exists``
    (default, one stat per sample), ``decode`` (decode each file, slow) or ``none``. ``fresh``
    discards earlier progress. Writes the views unless ``views=False``. ``media_root`` is where
    the media are when not under ``root``: the adapter looks for them there instead, media paths
    are relative to it, and ``OUT/media/<source>`` links to it. ``workers`` > 1 runs
    ``check_media="decode"`` in that many processes (same records and skips as one).
    """
    adapter = _resolve_adapter(source)
    name = adapter.name
    root = Path(root)
    out = Path(out_dir)
    _check_root(root, adapter)
    base = root if media_root is None else Path(media_root)  # what the adapter's media paths are relative to
    if not base.is_dir():
        raise BuildError(f"--media-root {base} is not a folder; pass the folder that holds {name}'s media")
    store = out / RECORDS_DIR
    store.mkdir(parents=True, exist_ok=True)
    final = store / f"{name}.jsonl"
    partial = store / f"{name}.jsonl{PARTIAL_SUFFIX}"
    if fresh:
        for path in (final, partial):
            path.unlink(missing_ok=True)
    if not partial.exists() and final.exists():
        shutil.copyfile(final, partial)
    done = _load_partial(partial) if partial.exists() else set()
    _link_media(out, name, base)

    prefix = f"{MEDIA_DIR}/{name}/"
    skipped: list[dict] = []
    seen: set[str] = set()
    added = resumed = 0
    iterator = iter(adapter.iter_samples(root) if media_root is None else adapter.iter_samples(root, base))
    decoded: dict[tuple[str, str], str | None] = {}  # --check-media decode results of the workers
    if check_media == "decode" and workers > 1:
        iterator = _decode_ahead(iterator, base, num_frames, workers, done, decoded)
    bar = tqdm(desc=f"build {name}", unit=" samples", disable=not progress, dynamic_ncols=True)
    last_flush = time.monotonic()
    with partial.open("a", encoding="utf-8") as handle:
        try:
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                except Exception as exc:
                    if isinstance(exc, FileNotFoundError) and not (added or resumed or skipped):
                        raise BuildError(str(exc)) from exc  # a setup problem (media folder not found)
                    raise BuildError(
                        f"the {name} adapter stopped after {added + resumed + len(skipped)} samples: "
                        f"{type(exc).__name__}: {exc}. The {added + len(done)} records so far are kept "
                        f"in {partial}; fix the cause and rerun the same command to resume"
                    ) from exc
                bar.update(1)
                key = "?"
                try:
                    if isinstance(item, Record):
                        key = item.id
                    else:
                        skipped.append(_skip_entry(item))
                        continue
                    if key in seen:
                        skipped.append({"key": key, "reason": "duplicate id within the source"})
                        continue
                    seen.add(key)
                    if key in done:
                        resumed += 1
                        continue
                    if item.source != name:
                        skipped.append(
                            {"key": key, "reason": f"record source {item.source!r} is not {name!r}"}
                        )
                        continue
                    data = item.to_dict()
                    issues = record_problems(data)
                    if not issues:
                        reason = _media_reason(base, item, check_media, num_frames, decoded)
                        issues = [reason] if reason else []
                    if issues:
                        skipped.append({"key": key, "reason": "; ".join(issues)})
                        continue
                    data["media"] = prefix + item.media.replace("\\", "/")
                    handle.write(json.dumps(data, ensure_ascii=False) + "\n")
                    added += 1
                    if added % flush_every == 0 or time.monotonic() - last_flush > 2.0:
                        handle.flush()
                        last_flush = time.monotonic()
                except Exception as exc:  # one bad sample never kills the build
                    skipped.append({"key": key, "reason": f"{type(exc).__name__}: {exc}"})
        finally:
            handle.flush()
            bar.close()
    total = len(done) + added
    if total == 0:
        reasons = Counter(problem_kind(item["reason"]) for item in skipped).most_common(3)
        hint = "; ".join(f"{n} x {r}" for r, n in reasons) or "the adapter yielded nothing"
        raise BuildError(f"no records from {name} under {root} ({hint}); check --root and the source layout")
    write_jsonl(out / SKIPPED_DIR / f"{name}.jsonl", skipped)
    write_json(store / f"{name}{FILES_SUFFIX}", getattr(adapter, "file_counts", None) or {})
    partial.replace(final)
    summary = write_views(out) if views else {}
    return BuildResult(name, final, total, added, resumed, skipped, summary)


def records_of(out_dir: str | Path, split: str, task: str) -> Iterator[dict]:
    """The record dicts of one view file (``OUT/<split>/<task>.jsonl``), for readers of the layout."""
    for _, value in iter_lines(Path(out_dir) / split / f"{task}.jsonl"):
        if isinstance(value, BadLine):
            raise ValueError(f"{value}; rebuild the view with `emollm data build`")
        yield value
