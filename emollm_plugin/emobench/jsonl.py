"""JSON Lines and JSON files: the one reader and the one atomic writer every stage uses.

Records, rationales, quarantine lists and lmms-eval samples are all JSON Lines. A long job must not
die on line 40 312 of a file someone edited by hand, so :func:`iter_lines` never raises for a bad
line: it yields a :class:`BadLine` naming the file, the line and what is wrong (malformed JSON, or
bytes that are not UTF-8, decoded per line so one mis-encoded line does not hide the rest), and
the caller decides whether that is a skip, a quarantine entry or an error.

Writers replace a file in one step: the text goes to a temporary file in the same folder, is
flushed and fsynced, then ``os.replace`` puts it in place. A crash leaves the old file or the new
one, never half of either. Appending caches (rationales) use :class:`JsonlAppender`, which
flushes every line, so a crash loses at most the line being written.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class BadLine:
    """A line that is not one JSON value; ``str()`` is ``path:line: problem``."""

    path: Path
    lineno: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.problem}"


def _decode(raw: bytes, first: bool) -> str:
    """One line as text; UnicodeDecodeError when it is not UTF-8 (a BOM on the first line is dropped)."""
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff") if first else text


def iter_lines(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value or BadLine)`` for every non-blank line of a JSON Lines file.

    Never raises for the content of a line; a missing file raises ``FileNotFoundError`` as usual.
    """
    path = Path(path)
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = _decode(raw, lineno == 1)
            except UnicodeDecodeError as exc:
                yield lineno, BadLine(
                    path, lineno, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "re-save the file as UTF-8 or delete the line",
                )
                continue
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, BadLine(
                    path, lineno, f"malformed JSON ({exc.msg} at column {exc.colno}); fix or delete the line"
                )


def read_objects(path: str | Path) -> tuple[list[dict], list[BadLine]]:
    """Every JSON object of a JSON Lines file, and the lines that are not one (bad JSON, not an object)."""
    objects: list[dict] = []
    bad: list[BadLine] = []
    for lineno, value in iter_lines(path):
        if isinstance(value, BadLine):
            bad.append(value)
        elif not isinstance(value, dict):
            bad.append(BadLine(Path(path), lineno, f"expected a JSON object, got {type(value).__name__}"))
        else:
            objects.append(value)
    return objects, bad


def dumps_line(value: Any) -> str:
    """One JSON Lines line (UTF-8 text kept as is, newline included)."""
    return json.dumps(value, ensure_ascii=False) + "\n"


def write_text_atomic(path: str | Path, chunks: Iterable[str] | str) -> Path:
    """Write text to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``.

    The temp file is created like any new file (mode 0o666 less the umask), not owner-only as
    ``tempfile`` would make it, so the result is as readable as a plain ``open(path, "w")``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8") as handle:
            if isinstance(chunks, str):
                handle.write(chunks)
            else:
                handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_jsonl(path: str | Path, values: Iterable[Any]) -> int:
    """Write one JSON value per line, atomically; return how many lines were written."""
    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        for value in values:
            yield dumps_line(value)
            count += 1

    write_text_atomic(path, lines())
    return count


def write_json(path: str | Path, data: Any, indent: int | None = 2) -> Path:
    """Write one JSON document, atomically (indented for people unless ``indent=None``)."""
    return write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


class JsonlAppender:
    """Appends one JSON line per call and flushes it, so a crash loses at most the line in progress.

    A file whose last line was cut by an earlier crash gets a newline first, so the next entry
    starts on a line of its own (the cut line then reads back as one :class:`BadLine`).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as existing:
                existing.seek(-1, os.SEEK_END)
                torn = existing.read(1) != b"\n"
        self.handle: TextIO = path.open("a", encoding="utf-8")
        if torn:
            self.handle.write("\n")

    def write(self, value: Any) -> None:
        self.handle.write(dumps_line(value))
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
