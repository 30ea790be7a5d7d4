"""Decoded video frames on disk, so a clip is decoded once, not on every epoch, arm, evaluation or teacher pass.

:func:`emollm_plugin.emobench.media.load_frames` (the one frame loader the LLaVA dataset, the
``emollm`` lmms-eval model, ``emollm serve`` and the teachers call) looks here first and stores
what it decodes, so every caller shares the cache without a change of its own.

**Where and how to switch it off.** ``$EMOLLM_FRAME_CACHE`` names the folder (default
``$XDG_CACHE_HOME/emollm/frames``, i.e. ``~/.cache/emollm/frames``); ``EMOLLM_FRAME_CACHE=off``
(or ``0``, ``false``, ``no``, ``none``) turns it off. ``emollm data frames`` fills it ahead of time.

**Key.** One entry per (resolved path, file size, mtime in ns, and every option that changes
the frames: ``num_frames``, ``max_fps``, the sampler's version and the decoder's version), hashed
with SHA-256. A file that is replaced, re-encoded or touched gets a new key, so a stale entry is
never returned; it simply ages out.

**Format: one uncompressed ``.npy`` per entry** (``uint8 [T, H, W, 3]``, the frames stacked),
read with ``np.load(allow_pickle=False)``. numpy's format is a fixed header plus raw bytes: a read
is one sequential file read with no decoding, which is what makes a hit cheap. Measured on this
machine (2 busy cores) for the 8 frames of a 10 s clip: 480p reads in ~5 ms where decord decodes
it in ~400 ms; at 720p the plain read took 20 ms, lossless PNG frames 670 ms and a zstd-compressed
array 97 ms (decompression dominates). JPEG would be lossy: the frames would differ from decoding.
The price is size: 8 frames are ~9.8 MB at 480p and ~22 MB at 720p, hence the cap below. No
pickle is ever loaded.

**Safe with many writers.** An entry is written to a temporary file in the same folder and moved
into place with ``os.replace`` (atomic on POSIX), so DataLoader workers and DeepSpeed ranks that
decode the same clip at once each write a whole file and readers never see a partial one. An
entry that does not load (truncated, foreign, wrong shape) is deleted and decoded again: a bad
cache entry never stops a run.

**Bounded: least recently used entries go first.** ``$EMOLLM_FRAME_CACHE_MAX`` caps the folder
(bytes, or with a K/M/G/T suffix; default 32G). A hit refreshes the entry's mtime; when a writer
finds the folder over the cap it deletes the entries with the oldest mtime until the folder is at
90% of it. Each process checks after its first write and then after every cap/20 bytes it wrote,
so the folder can run past the cap by that much per writing process between checks. Keep the cap
above the size of the clips you train on (``emollm data frames`` prints it): a cache smaller than
one epoch's clips is rewritten every epoch.

``$EMOLLM_FRAME_CACHE_LOG`` (a file path, optional) gets one JSON line per decode (``{"path",
"pid"}``), from every process: how you check that a run decoded each clip once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ENV_DIR = "EMOLLM_FRAME_CACHE"
ENV_MAX = "EMOLLM_FRAME_CACHE_MAX"
ENV_LOG = "EMOLLM_FRAME_CACHE_LOG"
OFF_VALUES = ("off", "0", "false", "no", "none")
DEFAULT_MAX = "32G"
LAYOUT = "v1"  # bump when the entry format or key changes; older entries are then ignored and age out
SUFFIX = ".npy"
TMP_SUFFIX = ".tmp"
LOW_WATER = 0.9  # an eviction sweep stops at this fraction of the cap
STALE_TMP_S = 3600.0  # temporary files older than this are left-overs of killed writers
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

#: Per-process counts: ``hit``, ``miss``, ``write``, ``corrupt``, ``evicted``, ``write_error``.
STATS: Counter = Counter()
_written_since_sweep: int | None = None  # None: this process has not swept yet


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when ``$EMOLLM_FRAME_CACHE`` turns the cache off."""
    value = os.environ.get(ENV_DIR)
    if value is not None and value.strip().lower() in OFF_VALUES:
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emollm" / "frames"


def enabled() -> bool:
    return cache_dir() is not None


def parse_size(text: str) -> int:
    """Bytes from ``"500M"``, ``"32G"``, ``"1.5T"`` or a plain number."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1] if value and value[-1] in _UNITS else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        raise ValueError(f"${ENV_MAX}={text!r}: expected bytes, e.g. 500M, 32G or 1T") from None
    if number < 0:
        raise ValueError(f"${ENV_MAX}={text!r}: the cap cannot be negative")
    return int(number * _UNITS[unit])


def max_bytes() -> int:
    return parse_size(os.environ.get(ENV_MAX) or DEFAULT_MAX)


def entry_path(path: str | Path, options: Mapping[str, object], root: Path | None = None) -> Path | None:
    """Where the frames of ``path`` under ``options`` live (``None`` when the cache is off).

    ``options`` must hold everything that changes the frames (JSON-serialisable values).
    """
    root = cache_dir() if root is None else root
    if root is None:
        return None
    real = Path(path).resolve()
    stat = real.stat()
    fields = {"path": str(real), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, **options}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    return root / LAYOUT / digest[:2] / f"{digest}{SUFFIX}"


def _valid(frames: np.ndarray) -> bool:
    return frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[0] >= 1 and frames.shape[-1] == 3


def get(path: str | Path, options: Mapping[str, object]) -> np.ndarray | None:
    """The cached frames (``uint8 [T, H, W, 3]``), or ``None`` on a miss (and always when off).

    A corrupt entry is deleted and reported as a miss, so the caller decodes and rewrites it.
    """
    entry = _entry_or_none(path, options)
    if entry is None:
        return None
    try:
        frames = np.load(entry, allow_pickle=False)
    except FileNotFoundError:
        STATS["miss"] += 1
        return None
    except (OSError, ValueError, EOFError) as exc:
        return _drop_corrupt(entry, str(exc))
    if not isinstance(frames, np.ndarray) or not _valid(frames):
        return _drop_corrupt(entry, f"not uint8 [T, H, W, 3] frames: {getattr(frames, 'shape', '?')}")
    with contextlib.suppress(OSError):
        os.utime(entry)  # least recently used goes first: a hit makes the entry recent
    STATS["hit"] += 1
    return frames


def _drop_corrupt(entry: Path, reason: str) -> None:
    logger.warning("frame cache: ignoring unreadable entry %s (%s); decoding the clip again", entry, reason)
    STATS["corrupt"] += 1
    STATS["miss"] += 1
    with contextlib.suppress(OSError):
        entry.unlink(missing_ok=True)
    return None


def _entry_or_none(path: str | Path, options: Mapping[str, object]) -> Path | None:
    """:func:`entry_path`, or ``None`` when the clip cannot be stat'ed (the decoder names that problem)."""
    try:
        return entry_path(path, options)
    except OSError:
        return None


def contains(path: str | Path, options: Mapping[str, object]) -> bool:
    """Whether an entry exists (one stat; it is not loaded or checked)."""
    entry = _entry_or_none(path, options)
    return entry is not None and entry.is_file()


@functools.cache
def _file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (temp files get 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def put(path: str | Path, options: Mapping[str, object], frames: np.ndarray) -> Path | None:
    """Store ``frames`` for ``path`` under ``options`` atomically; ``None`` when off or not writable.

    A failed write (disk full, read-only folder) is logged once per process and otherwise ignored:
    the run goes on decoding.
    """
    if not _valid(frames):
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    entry = _entry_or_none(path, options)
    if entry is None:
        return None
    tmp_name = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=entry.parent, prefix=f".{entry.stem}.", suffix=TMP_SUFFIX, delete=False
        ) as handle:
            tmp_name = handle.name
            np.save(handle, np.ascontiguousarray(frames), allow_pickle=False)
        os.chmod(tmp_name, _file_mode())  # a shared cache: readable as any file this process creates
        os.replace(tmp_name, entry)
    except OSError as exc:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        if not STATS["write_error"]:
            logger.warning("frame cache: cannot write %s (%s); going on without caching", entry, exc)
        STATS["write_error"] += 1
        return None
    STATS["write"] += 1
    with contextlib.suppress(OSError):  # a sweep that loses a race with another one is no reason to stop
        _maybe_sweep(entry.parents[2], frames.nbytes)
    return entry


def log_decode(path: str | Path) -> None:
    """Append ``{"path", "pid"}`` to ``$EMOLLM_FRAME_CACHE_LOG`` when it is set (one write: safe across processes)."""
    target = os.environ.get(ENV_LOG)
    if not target:
        return
    line = json.dumps({"path": str(Path(path).resolve()), "pid": os.getpid()}) + "\n"
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError as exc:
        logger.warning("frame cache: cannot append to $%s=%s (%s)", ENV_LOG, target, exc)


def _maybe_sweep(root: Path, written: int) -> None:
    global _written_since_sweep
    cap = max_bytes()
    if _written_since_sweep is not None:
        _written_since_sweep += written
        if _written_since_sweep < cap / 20:
            return
    _written_since_sweep = 0
    sweep(root, cap)


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """``(mtime, size, path)`` of every entry under ``root``; removes old temporary files on the way."""
    found = []
    now = time.time()
    layout = root / LAYOUT
    if not layout.is_dir():
        return found
    for shard in os.scandir(layout):
        if not shard.is_dir():
            continue
        for item in os.scandir(shard.path):
            try:
                stat = item.stat()
            except FileNotFoundError:
                continue
            if item.name.endswith(TMP_SUFFIX):
                if now - stat.st_mtime > STALE_TMP_S:
                    Path(item.path).unlink(missing_ok=True)
                continue
            if item.name.endswith(SUFFIX):
                found.append((stat.st_mtime, stat.st_size, Path(item.path)))
    return found


def usage(root: Path | None = None) -> tuple[int, int]:
    """``(entries, bytes)`` held in the cache folder."""
    root = cache_dir() if root is None else root
    if root is None:
        return 0, 0
    entries = _entries(root)
    return len(entries), sum(size for _, size, _ in entries)


def sweep(root: Path | None = None, cap: int | None = None) -> int:
    """Delete least recently used entries until the folder is at 90% of ``cap``; returns how many went.

    Safe while others read and write: a reader that loses the race sees a miss and decodes again.
    """
    root = cache_dir() if root is None else root
    if root is None:
        return 0
    cap = max_bytes() if cap is None else cap
    entries = _entries(root)
    total = sum(size for _, size, _ in entries)
    if total <= cap:
        return 0
    removed = 0
    for _, size, path in sorted(entries):
        if total <= cap * LOW_WATER:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    STATS["evicted"] += removed
    return removed


# ----------------------------------------------------------------------------- filling ahead of time


@dataclass
class FillReport:
    """What ``emollm data frames`` did: clips seen, already cached, decoded now, and the bad ones."""

    clips: int = 0
    cached: int = 0
    decoded: int = 0
    problems: list[str] = field(default_factory=list)
    entry_bytes: int = 0  # size of the entries of these clips (cached + decoded now)


def video_paths(emobench_dir: str | Path, media_root: str | Path | None = None) -> list[Path]:
    """Every distinct video of an EmoBench folder's records, in records order (bad lines are left to validate)."""
    from emollm_plugin.emobench.build import dataset_root
    from emollm_plugin.emobench.jsonl import iter_lines
    from emollm_plugin.emobench.validate import records_files

    root = Path(media_root) if media_root is not None else dataset_root(emobench_dir)
    seen: dict[str, None] = {}
    for file in records_files(emobench_dir):
        for _, data in iter_lines(file):
            if isinstance(data, dict) and data.get("modality") == "video" and isinstance(data.get("media"), str):
                seen.setdefault(data["media"], None)
    return [root / media for media in seen]


def _fill_one(path: Path, num_frames: int, max_fps: float | None, num_threads: int) -> tuple[str | None, int]:
    """Decode and store one clip (in a worker process): ``(problem or None, entry bytes)``."""
    from emollm_plugin.emobench.media import MediaError, load_frame_array

    try:
        frames = load_frame_array(path, num_frames, max_fps, num_threads=num_threads)
    except MediaError as exc:
        return str(exc), 0
    return None, frames.nbytes


def fill(
    paths: list[Path],
    *,
    num_frames: int = 8,
    max_fps: float | None = None,
    workers: int = 1,
    progress: bool = True,
) -> FillReport:
    """Decode every clip not yet in the cache, over ``workers`` processes; resumable (done clips are skipped)."""
    from emollm_plugin.emobench.media import decoder_threads, frame_options, map_in_processes

    if cache_dir() is None:
        raise ValueError(f"the frame cache is off (${ENV_DIR}={os.environ.get(ENV_DIR)}); unset it or name a folder")
    options = frame_options(num_frames, max_fps)
    report = FillReport(clips=len(paths))
    todo = []
    for path in paths:
        entry = _entry_or_none(path, options)  # None for a missing clip: the decode names the problem
        if entry is not None and entry.is_file():
            report.cached += 1
            report.entry_bytes += entry.stat().st_size
        else:
            todo.append(path)
    work = functools.partial(
        _fill_one, num_frames=num_frames, max_fps=max_fps, num_threads=decoder_threads(workers)
    )
    results = map_in_processes(work, todo, workers, desc="decode frames", unit=" clips", progress=progress)
    for problem, size in results:
        if problem is None:
            report.decoded += 1
            report.entry_bytes += size
        else:
            report.problems.append(problem)
    return report
