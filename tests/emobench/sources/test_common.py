"""The shared CSV/TSV reader: every row is a record or a Skip with its line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import Skip, SourceError
from emollm_plugin.emobench.sources.common import iter_table


def read(path: Path, text: str, required: tuple[str, ...] = ("id", "label"), **kwargs) -> list:
    path.write_bytes(text.encode("utf-8"))
    return [
        (line, row if isinstance(row, Skip) else (row["id"], row["label"]))
        for line, row in iter_table(path, required, **kwargs)
    ]


def test_unclosed_quote_to_the_end_of_the_file(tmp_path):
    rows = read(tmp_path / "a.csv", 'id,label,text\n1,joy,fine\n2,anger,"never closed\n3,joy,x\n4,fear,y\n')
    assert rows == [
        (2, ("1", "joy")),
        (
            3,
            Skip(
                "a.csv:3",
                "unclosed quote: this row would swallow lines 4-5; line skipped, the following lines are read as rows",
            ),
        ),
        (4, ("3", "joy")),
        (5, ("4", "fear")),
    ]


def test_unclosed_quote_on_the_last_line(tmp_path):
    rows = read(tmp_path / "a.csv", 'id,label,text\n1,joy,fine\n2,"anger,text\n')
    assert rows[1] == (
        3,
        Skip("a.csv:3", "unclosed quote: the quote opened on this line is never closed; row skipped"),
    )


def test_two_broken_rows_and_crlf_line_numbers(tmp_path):
    text = 'id,label,text\r\n1,"joy,a\r\n2,anger,b\r\n\r\n3,"fear,c\r\n4,joy,"d, e"\r\n'
    rows = read(tmp_path / "a.csv", text)
    assert [line for line, _ in rows] == [2, 3, 5, 6]
    assert [row for _, row in rows if not isinstance(row, Skip)] == [("2", "anger"), ("4", "joy")]
    assert all("unclosed quote" in row.reason for _, row in rows if isinstance(row, Skip))


def test_a_quoted_multi_line_field_is_one_row(tmp_path):
    rows = read(tmp_path / "a.csv", 'id,label,text\n1,joy,"two\nlines, one field"\n2,anger,x\n')
    assert rows == [(2, ("1", "joy")), (4, ("2", "anger"))]


def test_swallowed_field_over_the_csv_size_limit(tmp_path):
    many = "".join(f"{n},joy,{'x' * 200}\n" for n in range(2, 900))  # ~180 kB after the open quote
    rows = read(tmp_path / "a.csv", f'id,label,text\n1,"anger,open\n{many}')
    assert rows[0][1] == Skip(
        "a.csv:2",
        "unreadable row (field larger than field limit (131072)); the quote opened on this line is never "
        "closed; line skipped",
    )
    assert len(rows) == 1 + 898
    assert rows[-1] == (900, ("899", "joy"))


def test_short_rows_keep_trailing_optional_columns_only(tmp_path):
    rows = read(tmp_path / "a.tsv", "id\tlabel\tnote\n1\tjoy\n2\n3\tfear\tok\t\t\n", delimiter="\t")
    assert rows == [
        (2, ("1", "joy")),
        (3, Skip("a.tsv:3", "1 fields where the header has 3; row skipped")),
        (4, ("3", "fear")),
    ]


def test_missing_required_column_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(SourceError, match=r"a\.csv: missing column\(s\) label \(header is \['id', 'x'\]\)"):
        read(tmp_path / "a.csv", "id,x\n1,2\n")
    with pytest.raises(SourceError, match="missing column"):
        read(tmp_path / "empty.csv", "")
