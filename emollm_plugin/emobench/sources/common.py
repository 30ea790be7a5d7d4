"""Small pure helpers shared by the adapters: ids, hash splits, record building, file readers."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.jsonl import BadLine, iter_lines
from emollm_plugin.emobench.media import IMAGE_SUFFIXES
from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceError
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.sources.locate import is_hidden as hidden_name
from emollm_plugin.emobench.tasks import YES_NO, build_question

#: Files operating systems leave in image folders; not samples, so not even Skips.
OS_JUNK = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})

#: Anything but word characters (letters and digits of any script, '_') and '.'.
_UNSAFE_ID_CHARS = re.compile(r"[^\w.]+")
#: Longest native id kept as is; longer ones are cut and get the hash suffix (an id stays a usable name).
MAX_NATIVE_ID = 120
_DIGEST_CHARS = 8


def clean_id(native_id: object) -> str:
    """The native id as a safe, unique and stable id part.

    Letters and digits of any script, '_' and '.' are kept (``喜び`` stays ``喜び``); anything else
    becomes '_'. When that loses information (``a-b`` and ``a b`` would both be ``a_b``; ``😀😀``
    would be empty) or the id is too long, ``_`` plus 8 hex digits of the SHA-256 of the original
    is appended, so distinct file names always give distinct ids, the same on every run and
    machine. Text is NFC-normalised first: macOS (NFD) and Linux copies of a file get one id.
    Record ids are ``<source>-<split>-<native id>``; keeping '-' and '/' out of the native part
    keeps them unambiguous. ``clean_id(clean_id(x)) == clean_id(x)``.
    """
    text = unicodedata.normalize("NFC", str(native_id).strip())
    cleaned = _UNSAFE_ID_CHARS.sub("_", text).strip("_")
    if cleaned == text and 0 < len(cleaned) <= MAX_NATIVE_ID:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    head = cleaned[: MAX_NATIVE_ID - _DIGEST_CHARS - 1].rstrip("_")
    return f"{head}_{digest}" if head else digest


def record_id(source: str, split: str, native_id: object, suffix: str = "") -> str:
    base = f"{source}-{split}-{clean_id(native_id)}"
    return f"{base}-{suffix}" if suffix else base


def hash_split(native_id: object, train: int = 80, val: int = 10) -> str:
    """A deterministic split from the id alone (``train``/``val`` percent, rest test).

    Used for sources without an official split, so that re-running a build (or adding files)
    never moves a sample between splits.
    """
    bucket = int(hashlib.sha256(str(native_id).encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < train:
        return "train"
    return "val" if bucket < train + val else "test"


def clean_text(value: object) -> str | None:
    """Whitespace-collapsed text, or ``None`` for empty / non-string values."""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def parse_binary(value: object) -> bool | None:
    """A 0/1 label (bool, int, float, NumPy scalar or digit string) as bool; anything else -> None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.strip()
        return value == "1" if value in ("0", "1") else None
    try:
        number = float(value)  # ints, floats and NumPy scalars
    except (TypeError, ValueError):
        return None
    return bool(number) if number in (0.0, 1.0) else None


def yes_no(flag: bool) -> str:
    return YES_NO[0] if flag else YES_NO[1]


def media_file(layout: Layout, folder: Path, name: str, key: str, strip: Sequence[str] = ()) -> str | Skip:
    """A media file named by the metadata, as a record's ``media`` (relative to ``layout.base``), or a Skip.

    ``folder`` is the located media folder; ``name`` the path the metadata gives
    (``img/42953.png``), whose leading component is dropped when it is in ``strip`` (the folder's
    own name, already in ``folder``). Absolute paths and '..' are refused: metadata must not
    point records outside the release.
    """
    pure = PurePosixPath(str(name).strip().replace("\\", "/"))
    parts = pure.parts
    if not parts or pure.is_absolute() or ".." in parts or ":" in parts[0]:
        return Skip(key, f"media path {name!r} is not a relative path inside the dataset root")
    if len(parts) > 1 and parts[0] in strip:
        parts = parts[1:]
    relative = layout.relative(Path(folder).joinpath(*parts))
    return media_skip(layout.base, relative, key) or relative


def inside_folder(name: str, strip: Sequence[str]) -> str:
    """A metadata media path without its leading media-folder component (``img/1.png`` -> ``1.png``)."""
    parts = PurePosixPath(str(name).strip().replace("\\", "/")).parts
    return PurePosixPath(*parts[1:]).as_posix() if len(parts) > 1 and parts[0] in strip else "/".join(parts)


def clip_path(layout: Layout, folder: Path, key: str) -> str | Skip:
    """The clip ``<folder>/<key>.mp4`` as a record's ``media``, or the Skip that says why not."""
    return media_file(layout, folder, f"{key}.mp4", key)


def media_skip(root: Path, relative: str, key: str) -> Skip | None:
    """A Skip when the media file is missing or empty (one stat; media are never decoded here).

    Paths read from metadata must stay inside the dataset root: an absolute path or a '..'
    component is refused, so a crafted metadata file cannot point records at arbitrary files.
    """
    parts = PurePosixPath(relative).parts
    if (
        not relative
        or PurePosixPath(relative).is_absolute()
        or ".." in parts
        or ":" in (parts[0] if parts else "")
    ):
        return Skip(key, f"media path {relative!r} is not a relative path inside the dataset root")
    path = Path(root) / relative
    try:
        if not path.is_file():
            return Skip(key, f"media file not found: {relative}")
        if path.stat().st_size == 0:
            return Skip(key, f"media file is empty (interrupted download?): {relative}")
    except OSError as exc:  # e.g. a name over the file system's limit (ENAMETOOLONG): skip it, never stop
        shown = relative if len(relative) <= 120 else f"{relative[:100]}... ({len(relative)} characters)"
        return Skip(key, f"media file cannot be read: {shown} ({exc.strerror or exc})")
    from emollm_plugin.emobench.build import link_outside

    outside = link_outside(Path(root), path)
    if outside is not None:
        return Skip(key, f"media path {relative!r} is a link to {outside}, outside the dataset root; copy the file in")
    return None


def head_has(path: Path, *needles: str, size: int = 4096) -> bool:
    """Whether the first ``size`` bytes of a file hold every needle (a cheap look at a header)."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(size).decode("utf-8", errors="replace")
    except OSError:
        return False
    return all(needle in head for needle in needles)


def is_hidden(path: Path) -> bool:
    """Dot files, ``__MACOSX`` and OS residue such as ``Thumbs.db``: never samples."""
    return hidden_name(path.name) or path.name.lower() in OS_JUNK


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def iter_folder_images(layout: Layout, base: Path) -> Iterator[tuple[str, Path, str] | Skip]:
    """``(folder name, image path, path relative to the layout)`` for every file one level below ``base``.

    Each folder is noted once as read (the build's per-file counts); a file that is not an image is
    yielded as a Skip, so it is reported rather than dropped unseen. Hidden entries (``.DS_Store``,
    ``__MACOSX``, ``Thumbs.db``) are left out: they are not samples. Sorting makes the record order,
    and so every build, reproducible.
    """
    for folder in sorted(p for p in Path(base).iterdir() if p.is_dir() and not is_hidden(p)):
        files = [path for path in sorted(folder.iterdir()) if path.is_file() and not is_hidden(path)]
        if files:
            layout.reading(folder)
        for path in files:
            relative = layout.relative(path)
            if is_image(path):
                yield folder.name, path, relative
            else:
                yield Skip(relative, f"not an image file ({path.suffix or 'no suffix'})")


def emotion_records(
    source: str,
    split: str,
    native_id: object,
    media: str,
    modality: str,
    labels: tuple[str, ...],
    answer: str,
    text: str | None = None,
) -> list[Record]:
    """The close-set (``emo_c``) and open-set (``emo_o``) questions about one sample.

    Both carry the label set in ``options``: emo_c shows it in the question, emo_o keeps it hidden
    for scoring. The emo_o id gets an ``-emo_o`` suffix so both ids stay unique.
    """
    close_set = option_record("emo_c", source, split, native_id, media, modality, labels, answer, text)
    open_set = dataclasses.replace(
        close_set,
        id=record_id(source, split, native_id, "emo_o"),
        task="emo_o",
        question=build_question("emo_o", modality, (), text),
    )
    return [close_set, open_set]


def option_record(
    task: str,
    source: str,
    split: str,
    native_id: object,
    media: str,
    modality: str,
    labels: tuple[str, ...],
    answer: str,
    text: str | None = None,
) -> Record:
    """One question whose options are listed (intent); no options for the yes/no tasks."""
    return Record(
        id=record_id(source, split, native_id),
        task=task,
        modality=modality,
        media=media,
        question=build_question(task, modality, labels, text),
        answer=answer,
        source=source,
        split=split,
        options=list(labels),
        text=text,
    )


def yes_no_record(
    task: str,
    source: str,
    split: str,
    native_id: object,
    media: str,
    modality: str,
    flag: bool,
    text: str | None = None,
) -> Record:
    """One yes/no question (hate, humor, sarcasm); the answer set is implied by the task."""
    return option_record(task, source, split, native_id, media, modality, (), yes_no(flag), text)


def read_json(path: Path) -> object:
    """Parsed JSON; SourceError naming the file when it is not valid JSON."""
    try:
        with Path(path).open(encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); re-download or re-extract the file"
        ) from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason}); re-download the file") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict | Skip]]:
    """``(line_number, object)`` per non-empty line; a malformed line yields a Skip, not an error."""
    for lineno, data in iter_lines(path):
        key = f"{Path(path).name}:{lineno}"
        if isinstance(data, BadLine):
            yield lineno, Skip(key, data.problem)
        elif not isinstance(data, dict):
            yield lineno, Skip(key, f"expected a JSON object, got {type(data).__name__}")
        else:
            yield lineno, data


def iter_table(
    path: Path, required: tuple[str, ...], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str] | Skip]]:
    """``(line number, row)`` for every row of a CSV/TSV file with a header, or a Skip naming the line.

    Every row is accounted for. A field with an unclosed quote would otherwise run on to the next
    quote or the end of the file and swallow every row in between: a row that spans several lines
    while a line inside it is a complete row of its own, or that has the wrong number of fields,
    is taken for that. Its first line becomes a Skip and reading resumes on the next line, so the
    swallowed rows are read as the rows they are. A row with a different number of fields than the
    header is a Skip too (its columns cannot be trusted), unless only trailing optional columns
    are missing. SourceError when a required column is missing from the header. Decoding errors
    are replaced rather than fatal: several releases (MELD, Memotion) contain a few mis-encoded
    characters in otherwise valid text.
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = list(handle)  # split on \n, \r\n and \r as csv does; line i is lines[i - 1]
    header, start = _table_header(path, lines, required, delimiter)
    width = len(header)
    needed = max(header.index(name) for name in required) + 1 if required else 0
    while start < len(lines):
        start = yield from _table_rows(path, lines, start, header, needed, delimiter, width)


def _table_header(
    path: Path, lines: list[str], required: tuple[str, ...], delimiter: str
) -> tuple[list[str], int]:
    """(column names, index of the first line after the header); SourceError when columns are missing."""
    index = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    header = [name.strip() for name in next(csv.reader(lines[index : index + 1], delimiter=delimiter), [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise SourceError(
            f"{path}: missing column(s) {', '.join(missing)} (header is {header}); "
            "is this the file from the official release?"
        )
    return header, index + 1


def _table_rows(
    path: Path,
    lines: list[str],
    start: int,
    header: list[str],
    needed: int,
    delimiter: str,
    width: int,
) -> Iterator[tuple[int, dict[str, str] | Skip]]:
    """Rows from ``lines[start:]`` until the end or a broken row; returns where to resume."""
    reader = csv.reader(itertools.islice(lines, start, None), delimiter=delimiter)
    consumed = 0
    while True:
        first = start + consumed  # index of the row's first line
        try:
            row = next(reader)
        except StopIteration:
            return len(lines)
        except csv.Error as exc:  # NUL byte, or a swallowed field over csv's size limit
            quote = (
                "; the quote opened on this line is never closed"
                if _odd_quotes(lines[first : first + 1])
                else ""
            )
            yield first + 1, Skip(f"{path.name}:{first + 1}", f"unreadable row ({exc}){quote}; line skipped")
            return first + 1
        consumed = reader.line_num
        last = start + consumed - 1
        if not row or (len(row) == 1 and not row[0].strip() and first == last):
            continue  # blank line
        if last > first and _runs_on(row, lines[first + 1 : last + 1], delimiter, width):
            yield (
                first + 1,
                Skip(
                    f"{path.name}:{first + 1}",
                    f"unclosed quote: this row would swallow lines {first + 2}-{last + 1}; "
                    "line skipped, the following lines are read as rows",
                ),
            )
            return first + 1
        if any("\n" in value or "\r" in value for value in row) and _odd_quotes(lines[first : last + 1]):
            yield (
                first + 1,
                Skip(
                    f"{path.name}:{first + 1}",
                    "unclosed quote: the quote opened on this line is never closed; row skipped",
                ),
            )
            continue
        problem = _width_problem(row, lines[first : last + 1], width, needed)
        if problem:
            yield first + 1, Skip(f"{path.name}:{first + 1}", problem)
            continue
        row = row + [""] * (width - len(row))
        yield first + 1, dict(zip(header, row[:width], strict=True))


def _runs_on(row: list[str], continuation: list[str], delimiter: str, width: int) -> bool:
    """Whether a row spanning several lines is a quote left open rather than a multi-line field.

    A real multi-line field fills the header's columns, and no line inside it is a row by itself.
    """
    if len(row) < width or (len(row) > width and any(value.strip() for value in row[width:])):
        return True
    for line in continuation:
        if line.strip() and len(next(csv.reader([line], delimiter=delimiter), [])) == width:
            return True
    return False


def _odd_quotes(raw: list[str]) -> bool:
    """An odd number of '"' over a row's lines: a quote was opened and never closed."""
    return sum(line.count('"') for line in raw) % 2 == 1


def _width_problem(row: list[str], raw: list[str], width: int, needed: int) -> str | None:
    """Why a row's field count cannot be trusted, or None."""
    if len(row) < needed or (len(row) > width and any(value.strip() for value in row[width:])):
        problem = f"{len(row)} fields where the header has {width}"
    else:
        return None
    if _odd_quotes(raw):
        problem += " (an unclosed quote?)"
    return problem + "; row skipped"
