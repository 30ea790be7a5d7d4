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


def collect(source: SourceAdapter, root: Path) -> tuple[list[Record], list[Skip]]:
    """Check the layout, run the adapter and split its output; every record must be valid."""
    source.check_layout(root)
    items = list(source.iter_samples(root))
    records = [item for item in items if isinstance(item, Record)]
    skips = [item for item in items if isinstance(item, Skip)]
    assert len(records) + len(skips) == len(items), "adapters yield only Records and Skips"
    for record in records:
        assert record_problems(record.to_dict()) == [], record
        assert record.source == source.name
        assert record.task in source.tasks and record.modality in source.modalities
        assert not Path(record.media).is_absolute() and (root / record.media).is_file(), record.media
        assert record.id.startswith(f"{source.name}-{record.split}-")
    duplicates = [rid for rid, n in Counter(r.id for r in records).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    return records, skips


def by_id(records: list[Record]) -> dict[str, Record]:
    return {record.id: record for record in records}


def skip_reasons(skips: list[Skip]) -> dict[str, str]:
    return {skip.key: skip.reason for skip in skips}
