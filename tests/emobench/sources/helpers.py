"""Fixture writers and checks shared by the adapter tests (fixtures are generated in tmp_path)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from emollm_plugin.emobench.records import Record, record_problems
from emollm_plugin.emobench.sources import Skip, SourceAdapter


def write_image(path: Path, colour: tuple[int, int, int] = (200, 40, 40)) -> Path:
    """A real 4x4 image in the format the suffix names (.jpg, .png)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), colour).save(path)
    return path


def write_clip(path: Path) -> Path:
    """A placeholder clip: adapters only stat media, never decode it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(32))
    return path


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_table(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def collect(
    source: SourceAdapter, root: Path, media_root: Path | None = None
) -> tuple[list[Record], list[Skip]]:
    """Check the layout, run the adapter and split its output; every record must be valid.

    Media paths must resolve from ``media_root`` when given, else from ``root`` (what build links).
    """
    source.check_layout(root)
    items = list(source.iter_samples(root, media_root))
    records = [item for item in items if isinstance(item, Record)]
    skips = [item for item in items if isinstance(item, Skip)]
    assert len(records) + len(skips) == len(items), "adapters yield only Records and Skips"
    base = media_root if media_root is not None else root
    for record in records:
        assert record_problems(record.to_dict()) == [], record
        assert record.source == source.name
        assert record.task in source.tasks and record.modality in source.modalities
        assert not Path(record.media).is_absolute() and (base / record.media).is_file(), record.media
        assert ".." not in Path(record.media).parts, record.media
        assert record.id.startswith(f"{source.name}-{record.split}-")
    duplicates = [rid for rid, n in Counter(r.id for r in records).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    counted = sum(n["records"] + n["skipped"] for n in source.file_counts.values())
    assert counted == len(items), f"file_counts {source.file_counts} miss some of {len(items)} items"
    return records, skips


def summary(records: list[Record]) -> dict[str, tuple[str, str, str]]:
    """``{id: (split, answer, media)}`` for the emo_c / single-question records: what a test pins down."""
    return {r.id: (r.split, r.answer, r.media) for r in records if not r.id.endswith("-emo_o")}


def by_id(records: list[Record]) -> dict[str, Record]:
    return {record.id: record for record in records}


def skip_reasons(skips: list[Skip]) -> dict[str, str]:
    return {skip.key: skip.reason for skip in skips}
