"""Check an EmoBench folder or records file: every record, every media file, every problem named.

Meant to run before a long training or evaluation job: it keeps going past bad lines and bad
files, prints each by file, line and record id, and can write them to a quarantine file (JSON
Lines of ``{"file", "line", "id", "problem"}``, plus ``"media"`` for media problems) that
other stages, or a person, use to drop those records.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from emollm_plugin.emobench.build import RECORDS_DIR, VIEW_DIRS, dataset_root, problem_kind
from emollm_plugin.emobench.jsonl import BadLine, iter_lines, read_objects, write_jsonl
from emollm_plugin.emobench.media import decoder_threads, map_in_processes, media_problem, require_file
from emollm_plugin.emobench.records import record_problems


@dataclass
class ValidationReport:
    files: list[Path]
    records: int = 0  # non-empty lines checked
    media_checked: int = 0  # distinct media files checked
    problems: list[dict] = field(default_factory=list)

    @property
    def bad_records(self) -> int:
        return len({(p["file"], p["line"]) for p in self.problems})

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems grouped by kind (file names, quoted values and details left out)."""
        return dict(Counter(problem_kind(p["problem"]) for p in self.problems).most_common())


def records_files(path: str | Path) -> list[Path]:
    """The records files to check under ``path``: ``records/*.jsonl`` if present, else the views."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such EmoBench folder or records file")
    files = sorted((path / RECORDS_DIR).glob("*.jsonl"))
    if not files:
        files = [f for split in VIEW_DIRS for f in sorted((path / split).glob("*.jsonl"))]
    if not files:
        files = sorted(path.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(
            f"{path}: no records found (looked for {RECORDS_DIR}/*.jsonl, train|val|test/*.jsonl, *.jsonl)"
        )
    return files


def _count_lines(files: list[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def _media_key(data: object) -> tuple[str, str] | None:
    """``(media, modality)`` of a record whose media can be checked, else ``None``."""
    if not isinstance(data, dict) or any(not isinstance(data.get(k), str) or not data.get(k) for k in ("media", "modality")):
        return None
    return (data["media"], data["modality"]) if data["modality"] in ("image", "video") else None


def _media_keys(files: list[Path]) -> list[tuple[str, str]]:
    """The distinct media keys of ``files`` in the order :func:`validate` meets them."""
    keys: dict[tuple[str, str], None] = {}
    for file in files:
        for _, data in iter_lines(file):
            key = _media_key(data)
            if key is not None:
                keys.setdefault(key, None)
    return list(keys)


def _key_issue(key: tuple[str, str], root: Path, num_frames: int, check_media: bool, num_threads: int) -> str | None:
    """:func:`_media_issue` for one key (picklable, for worker processes)."""
    return _media_issue(root, {"media": key[0], "modality": key[1]}, num_frames, check_media, num_threads)


def _media_issue(root: Path, data: dict, num_frames: int, check_media: bool, num_threads: int = 0) -> str | None:
    rel = PurePosixPath(data["media"])
    if rel.is_absolute() or ".." in rel.parts:
        return f"media path {data['media']!r} must be relative to the EmoBench folder {root}, without '..'"
    path = root / rel
    if not check_media:
        try:
            require_file(path)
        except ValueError as exc:
            return str(exc)
        return None
    return media_problem(path, data["modality"], num_frames=num_frames, num_threads=num_threads)


def validate(
    path: str | Path,
    *,
    num_frames: int = 8,
    check_media: bool = True,
    media_root: str | Path | None = None,
    progress: bool = True,
    echo: bool = True,
    max_echo: int = 50,
    workers: int = 1,
) -> ValidationReport:
    """Check every record and media file under ``path`` (an EmoBench folder or one ``.jsonl``).

    Media paths resolve against ``media_root`` (default: the EmoBench folder holding the file).
    ``check_media=False`` only checks that files exist and are not empty. Problems are printed
    as they are found (the first ``max_echo``) and returned. ``workers > 1`` checks the media files
    first, in that many processes; the report is the same as with one.
    """
    files = records_files(path)
    root = Path(media_root) if media_root is not None else dataset_root(path)
    report = ValidationReport(files=files)
    seen: dict[str, str] = {}
    media_cache: dict[tuple[str, str], str | None] = {}
    if workers > 1:
        keys = _media_keys(files)
        check = functools.partial(
            _key_issue, root=root, num_frames=num_frames, check_media=check_media,
            num_threads=decoder_threads(workers),
        )
        results = map_in_processes(check, keys, workers, desc="check media", progress=progress)
        media_cache.update(zip(keys, results, strict=True))
    bar = tqdm(
        total=_count_lines(files), desc="validate", unit=" records", disable=not progress, dynamic_ncols=True
    )

    def flag(file: Path, line: int, rid: str | None, problem: str, media: str | None = None) -> None:
        entry = {"file": str(file), "line": line, "id": rid, "problem": problem}
        if media is not None:
            entry["media"] = media
        report.problems.append(entry)
        if echo and len(report.problems) <= max_echo:
            where = f"{file}:{line}" + (f": record {rid!r}" if rid is not None else "")
            tqdm.write(f"{where}: {problem}")

    for file in files:
        for lineno, data in iter_lines(file):
            bar.update(1)
            report.records += 1
            if isinstance(data, BadLine):
                flag(file, lineno, None, data.problem)
                continue
            rid = data.get("id") if isinstance(data, dict) else None
            rid = str(rid) if rid is not None else None
            for issue in record_problems(data):
                flag(file, lineno, rid, issue)
            if rid is not None:
                where = f"{file.name}:{lineno}"
                if rid in seen:
                    flag(file, lineno, rid, f"duplicate id (first at {seen[rid]})")
                else:
                    seen[rid] = where
            key = _media_key(data)
            if key is None:
                continue
            if key not in media_cache:
                media_cache[key] = _media_issue(root, data, num_frames, check_media)
            if media_cache[key] is not None:
                flag(file, lineno, rid, media_cache[key], media=data["media"])
    bar.close()
    report.media_checked = len(media_cache)
    if echo and len(report.problems) > max_echo:
        tqdm.write(f"... and {len(report.problems) - max_echo} more problems")
    return report


def write_quarantine(report: ValidationReport, path: str | Path) -> Path:
    """Write the report's problems as JSON Lines, atomically (an empty file when there are none)."""
    write_jsonl(path, report.problems)
    return Path(path)


def read_quarantine(path: str | Path) -> set[str]:
    """The record ids a quarantine file lists (lines without an id are ignored).

    An unreadable line raises: a quarantine that silently lost an id would let that record through.
    """
    objects, bad = read_objects(path)
    if bad:
        raise ValueError(f"{bad[0]}; a quarantine file is written by `emollm data validate --quarantine`")
    return {str(entry["id"]) for entry in objects if entry.get("id") is not None}


def format_report(report: ValidationReport) -> str:
    status = "OK" if report.ok else f"{len(report.problems)} problems in {report.bad_records} records"
    lines = [
        f"checked {report.records} records in {len(report.files)} files and "
        f"{report.media_checked} media files: {status}"
    ]
    for kind, n in report.counts().items():
        lines.append(f"  {n:>6} x {kind}")
    return "\n".join(lines)
