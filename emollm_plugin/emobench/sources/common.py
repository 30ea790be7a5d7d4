"""Small pure helpers shared by the adapters: ids, hash splits, record building, file readers."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceError
from emollm_plugin.emobench.tasks import YES_NO, build_question

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
HIDDEN_PREFIXES = (".", "__MACOSX")

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.]+")


def clean_id(native_id: object) -> str:
    """The native id with anything but letters, digits, '_' and '.' turned into '_'.

    Record ids are ``<source>-<split>-<native id>``; keeping '-' and '/' out of the native part
    keeps them unambiguous and usable as file names.
    """
    return _UNSAFE_ID_CHARS.sub("_", str(native_id).strip()).strip("_") or "_"


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


def clip_path(root: Path, clip_dir: Path | None, key: str, looked_for: Sequence[str]) -> str | Skip:
    """A video clip ``<clip_dir>/<key>.mp4`` relative to ``root``, or the Skip that says why not."""
    if clip_dir is None:
        return Skip(key, f"clip folder not found (looked for {' or '.join(looked_for)})")
    relative = (clip_dir / f"{key}.mp4").relative_to(root).as_posix()
    return media_skip(root, relative, key) or relative


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
    if not path.is_file():
        return Skip(key, f"media file not found: {relative}")
    if path.stat().st_size == 0:
        return Skip(key, f"media file is empty (interrupted download?): {relative}")
    return None


def is_hidden(path: Path) -> bool:
    return path.name.startswith(HIDDEN_PREFIXES)


def iter_folder_images(base: Path) -> Iterator[tuple[str, Path]]:
    """``(folder name, image path)`` for every image one level below ``base``, sorted.

    Hidden entries (``.DS_Store``, ``__MACOSX``) and non-image files are ignored: they are not
    samples. Sorting makes the record order, and so every build, reproducible.
    """
    for folder in sorted(p for p in Path(base).iterdir() if p.is_dir() and not is_hidden(p)):
        for path in sorted(folder.iterdir()):
            if path.is_file() and not is_hidden(path) and path.suffix.lower() in IMAGE_SUFFIXES:
                yield folder.name, path


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
    with Path(path).open(encoding="utf-8-sig", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            key = f"{Path(path).name}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, Skip(key, f"malformed JSON line ({exc.msg})")
                continue
            if not isinstance(data, dict):
                yield lineno, Skip(key, f"expected a JSON object, got {type(data).__name__}")
                continue
            yield lineno, data


def read_table(path: Path, required: tuple[str, ...], delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a CSV/TSV file with a header; SourceError when a required column is missing.

    Decoding errors are replaced rather than fatal: several releases (MELD, Memotion) contain a
    few mis-encoded characters in otherwise valid text.
    """
    with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise SourceError(
                f"{path}: missing column(s) {', '.join(missing)} (header is {header}); "
                "is this the file from the official release?"
            )
        rows = []
        for row in reader:
            rows.append({(k or "").strip(): (v if isinstance(v, str) else "") for k, v in row.items()})
        return rows
