"""The one JSON Lines reader (bad lines reported, never fatal) and the one atomic writer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emollm_plugin.emobench.jsonl import (
    BadLine,
    JsonlAppender,
    iter_lines,
    read_objects,
    write_json,
    write_jsonl,
    write_text_atomic,
)


def test_bad_lines_are_reported_with_file_and_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"id": "a"}\n'  # a BOM on the first line is not an error
        b"\n"
        b'{"id": "caf\xe9"}\n'  # Latin-1, not UTF-8
        b'{"id": "b",\n'  # cut short
        b'["not", "an", "object"]\r\n'
        b'{"id": "\xc3\xa9t\xc3\xa9"}'  # no final newline
    )
    items = list(iter_lines(path))
    assert [n for n, _ in items] == [1, 3, 4, 5, 6]
    assert items[0][1] == {"id": "a"} and items[4][1] == {"id": "été"}
    assert items[3][1] == ["not", "an", "object"]
    latin, cut = items[1][1], items[2][1]
    assert isinstance(latin, BadLine) and str(latin).startswith(f"{path}:3: not UTF-8 text (byte 0xe9 at column 12)")
    assert isinstance(cut, BadLine) and str(cut).startswith(f"{path}:4: malformed JSON")
    objects, bad = read_objects(path)
    assert objects == [{"id": "a"}, {"id": "été"}]
    assert [b.lineno for b in bad] == [3, 4, 5] and "expected a JSON object, got list" in bad[2].problem


def test_a_missing_file_is_an_error_not_an_empty_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_lines(tmp_path / "none.jsonl"))


def test_writes_are_atomic_and_leave_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "out.jsonl"
    assert write_jsonl(path, [{"a": 1}, {"b": "ü"}]) == 2
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": "ü"}\n'

    def failing():
        yield {"c": 3}
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_jsonl(path, failing())
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": "ü"}\n'  # the old file, whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.jsonl"]  # no temp file left behind
    write_json(tmp_path / "x.json", {"k": [1, 2]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"k": [1, 2]}


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        written = write_text_atomic(tmp_path / "t.txt", "text")
    finally:
        os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o644  # not tempfile's owner-only 0o600


def test_appender_starts_a_fresh_line_after_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "rat', encoding="utf-8")  # a crash cut the last line
    with JsonlAppender(path) as appender:
        appender.write({"id": "c"})
    objects, bad = read_objects(path)
    assert objects == [{"id": "a"}, {"id": "c"}] and [b.lineno for b in bad] == [2]
    with JsonlAppender(path) as appender:  # a whole last line gets no extra blank line
        appender.write({"id": "d"})
    assert path.read_text(encoding="utf-8").endswith('{"id": "c"}\n{"id": "d"}\n')
