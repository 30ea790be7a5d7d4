"""build_source and write_views: layout, skipped samples, resume after a crash, idempotence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from emollm_plugin.emobench.build import (
    BuildError,
    build_source,
    dataset_root,
    format_summary,
    llava_entry,
    llava_entry_json,
    media_path,
    problem_kind,
    records_of,
    unsafe_media_path,
    write_views,
)
from emollm_plugin.emobench.records import Record, read_records
from emollm_plugin.emobench.sources import Skip, SourceAdapter
from emollm_plugin.emobench.synth import make_clip, make_image, write_image, write_video
from emollm_plugin.emobench.tasks import LABEL_SETS, build_question

EKMAN6 = list(LABEL_SETS["ekman6"])


class TinySource(SourceAdapter):
    """Follows the adapter contract: ``labels.txt`` lines ``<file> <label> <split>`` under root."""

    name = "tiny"
    tasks = ("emo_c", "sarcasm")
    modalities = ("image", "video")

    def __init__(self, crash_after: int | None = None, interrupt_after: int | None = None) -> None:
        self.crash_after = crash_after
        self.interrupt_after = interrupt_after

    def check_layout(self, root: Path) -> None:
        if not (Path(root) / "labels.txt").is_file():
            raise FileNotFoundError(f"{Path(root) / 'labels.txt'} is missing")

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        lines = (Path(root) / "labels.txt").read_text().splitlines()
        for n, line in enumerate(lines):
            if self.interrupt_after is not None and n == self.interrupt_after:
                raise KeyboardInterrupt
            if self.crash_after is not None and n == self.crash_after:
                raise RuntimeError("metadata row 3 is garbled")
            name, label, split = line.split()
            if label == "?":
                yield Skip(name, "no label in labels.txt")
                continue
            if label == "dict":  # an adapter bug: a plain dict instead of a Record
                yield {"id": name}
                continue
            modality = "video" if name.endswith(".mp4") else "image"
            stem = Path(name).stem
            if label in ("yes", "no"):
                yield Record(
                    f"tiny-{split}-{stem}",
                    "sarcasm",
                    modality,
                    name,
                    build_question("sarcasm", modality, text="oh great"),
                    label,
                    "tiny",
                    split,
                    text="oh great",
                )
                continue
            options = None if label == "broken" else EKMAN6  # "broken": an adapter bug (options=None)
            yield Record(
                f"tiny-{split}-{stem}",
                "emo_c",
                modality,
                name,
                build_question("emo_c", modality, EKMAN6),
                label if label != "broken" else "joy",
                "tiny",
                split,
                options=options,
            )


def make_root(root: Path, rows: list[tuple[str, str, str]], media: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, label, _ in rows:
        if not media or name.startswith("missing"):
            continue
        index = EKMAN6.index(label) if label in EKMAN6 else 0
        if name.endswith(".mp4"):
            write_video(root / name, make_clip(index, rng, frames=3, size=32))
        else:
            write_image(root / name, make_image(index, rng, size=16))
    (root / "labels.txt").write_text("".join(f"{n} {lab} {s}\n" for n, lab, s in rows))
    return root


GOOD_ROWS = [
    ("img/a1.png", "joy", "train"),
    ("img/a2.png", "fear", "train"),
    ("img/a3.png", "anger", "test"),
    ("vid/v1.mp4", "sadness", "train"),
    ("vid/v2.mp4", "joy", "test"),
    ("img/s1.png", "yes", "train"),
    ("vid/s2.mp4", "no", "test"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "tiny_release", GOOD_ROWS)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_build_writes_the_layout(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = build_source(TinySource(), root, out, progress=False)
    assert (result.total, result.added, result.resumed, result.skipped) == (7, 7, 0, [])
    records = read_records(out / "records" / "tiny.jsonl")
    assert [r.id for r in records] == [f"tiny-{s}-{n.split('/')[1].split('.')[0]}" for n, _, s in GOOD_ROWS]
    assert (out / "media" / "tiny").is_symlink()
    for record in records:
        assert record.media.startswith("media/tiny/")
        assert (
            media_path(out, record).resolve() == (root / record.media.removeprefix("media/tiny/")).resolve()
        )
    assert [r["id"] for r in records_of(out, "test", "emo_c")] == ["tiny-test-a3", "tiny-test-v2"]
    assert len(read_records(out / "train" / "sarcasm.jsonl")) == 1
    llava = json.loads((out / "llava" / "train.json").read_text())
    assert {e["id"] for e in llava} == {r.id for r in records if r.split == "train"}
    video = next(e for e in llava if e["id"] == "tiny-train-v1")
    assert video["video"] == "media/tiny/vid/v1.mp4" and "image" not in video
    assert video["conversations"][0]["value"].startswith("<image>\nIdentify the only emotion")
    assert video["conversations"][1] == {"from": "gpt", "value": "sadness"}
    assert video["task"] == "emo_c" and video["options"] == EKMAN6 and video["source"] == "tiny"
    sarcasm = next(e for e in llava if e["task"] == "sarcasm")
    assert sarcasm["options"] == ["yes", "no"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary
    assert summary["records"] == 7 and summary["splits"] == {"train": 4, "test": 3}
    assert summary["tasks"]["emo_c"]["labels"] == {"anger": 1, "fear": 1, "joy": 2, "sadness": 1}
    assert summary["tasks"]["emo_c"]["labels_by_split"]["test"] == {"anger": 1, "joy": 1}
    assert summary["tasks"]["emo_c"]["modalities"] == {"image": 3, "video": 2}
    assert summary["sources"]["tiny"]["records"] == 7
    assert "emo_c" in format_summary(summary, out) and "7 records" in format_summary(summary)


def test_bad_samples_are_skipped_with_reasons(tmp_path: Path) -> None:
    rows = [
        *GOOD_ROWS,
        ("img/nolabel.png", "?", "train"),  # the adapter's own Skip
        ("missing/gone.png", "joy", "train"),  # media file not there
        ("img/happy.png", "happy", "train"),  # label outside the label set
        ("img/bug.png", "broken", "train"),  # the adapter hands over options=None: an exception
        ("img/a1.png", "joy", "train"),  # the same id again
        ("img/odd.png", "dict", "train"),  # the adapter yields a plain dict
    ]
    root = make_root(tmp_path / "release", rows)
    (root / "img" / "empty.png").write_bytes(b"")
    (root / "labels.txt").write_text((root / "labels.txt").read_text() + "img/empty.png joy test\n")
    out = tmp_path / "bench"
    result = build_source(TinySource(), root, out, progress=False)
    assert result.total == 7
    reasons = {item["key"]: item["reason"] for item in result.skipped}
    assert reasons["img/nolabel.png"] == "no label in labels.txt"
    assert "missing/gone.png not found" in reasons["tiny-train-gone"]
    assert "outside the label set" in reasons["tiny-train-happy"]
    assert reasons["tiny-train-bug"].startswith("TypeError")
    assert reasons["tiny-train-a1"] == "duplicate id within the source"
    assert "zero bytes" in reasons["tiny-test-empty"]
    assert reasons["?"] == "adapter yielded dict, not a Record or Skip"
    assert len(result.skipped) == 7
    skipped_file = [json.loads(line) for line in lines_of(out / "skipped" / "tiny.jsonl")]
    assert skipped_file == result.skipped
    assert result.summary["skipped"]["tiny"]["count"] == 7
    assert result.summary["skipped"]["tiny"]["reasons"]["media file <file> not found under <file>"] == 1
    assert "skipped from tiny: 7" in format_summary(result.summary)


def test_decode_check_skips_a_truncated_image(root: Path, tmp_path: Path) -> None:
    data = (root / "img" / "a2.png").read_bytes()
    (root / "img" / "a2.png").write_bytes(data[: len(data) // 2])
    result = build_source(TinySource(), root, tmp_path / "bench", check_media="decode", progress=False)
    assert result.total == 6
    assert "cannot decode image" in result.skipped[0]["reason"]
    # the default check only stats files, so the truncated one is kept
    assert build_source(TinySource(), root, tmp_path / "b2", progress=False).total == 7


def test_rerun_after_completion_neither_loses_nor_duplicates(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    build_source(TinySource(), root, out, progress=False)
    before = (out / "records" / "tiny.jsonl").read_bytes()
    views = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json")}
    again = build_source(TinySource(), root, out, progress=False)
    assert (again.total, again.added, again.resumed) == (7, 0, 7)
    assert (out / "records" / "tiny.jsonl").read_bytes() == before
    assert {p: p.read_bytes() for p in views} == views
    assert not (out / "records" / "tiny.jsonl.partial").exists()


def test_resume_after_an_interrupt(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    with pytest.raises(KeyboardInterrupt):
        build_source(TinySource(interrupt_after=4), root, out, progress=False)
    partial = out / "records" / "tiny.jsonl.partial"
    assert len(lines_of(partial)) == 4  # flushed before the interrupt
    assert not (out / "records" / "tiny.jsonl").exists()
    result = build_source(TinySource(), root, out, progress=False)
    assert (result.total, result.added, result.resumed) == (7, 3, 4)
    ids = [r.id for r in read_records(out / "records" / "tiny.jsonl")]
    assert len(ids) == len(set(ids)) == 7
    assert not partial.exists()


def test_resume_after_a_torn_last_line(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    build_source(TinySource(), root, out, progress=False, views=False)
    final = out / "records" / "tiny.jsonl"
    lines = lines_of(final)
    # a crash in the middle of writing line 4: three good lines and half a line
    (out / "records" / "tiny.jsonl.partial").write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])
    final.unlink()
    result = build_source(TinySource(), root, out, progress=False)
    assert (result.total, result.added, result.resumed) == (7, 4, 3)
    assert sorted(lines_of(final)) == sorted(lines)


def test_adapter_failure_keeps_progress_and_says_how_to_resume(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    with pytest.raises(BuildError, match=r"stopped after 3 samples.*garbled.*rerun the same command"):
        build_source(TinySource(crash_after=3), root, out, progress=False)
    assert len(lines_of(out / "records" / "tiny.jsonl.partial")) == 3
    assert build_source(TinySource(), root, out, progress=False).resumed == 3


def test_fresh_discards_earlier_progress(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    build_source(TinySource(), root, out, progress=False)
    result = build_source(TinySource(), root, out, fresh=True, progress=False)
    assert (result.added, result.resumed) == (7, 0)


def test_empty_or_missing_source_folder_fails_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BuildError, match=r"empty.*is empty; download and unpack tiny"):
        build_source(TinySource(), empty, tmp_path / "out", progress=False)
    with pytest.raises(BuildError, match="does not exist"):
        build_source(TinySource(), tmp_path / "absent", tmp_path / "out", progress=False)
    (empty / "README").write_text("wrong folder")
    with pytest.raises(BuildError, match=r"does not look like tiny: .*labels\.txt is missing"):
        build_source(TinySource(), empty, tmp_path / "out", progress=False)


def test_no_usable_sample_fails_with_the_reasons(tmp_path: Path) -> None:
    root = make_root(tmp_path / "r", [("missing/a.png", "joy", "train"), ("missing/b.png", "fear", "test")])
    with pytest.raises(
        BuildError, match=r"no records from tiny.*\(2 x media file <file> not found under <file>\)"
    ):
        build_source(TinySource(), root, tmp_path / "out", progress=False)


def test_unknown_source_name_lists_the_available_ones(root: Path, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"unknown EmoBench source 'nope'.*meld"):
        build_source("nope", root, tmp_path / "out", progress=False)


def test_media_folder_that_is_not_a_link_is_refused(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    (out / "media" / "tiny").mkdir(parents=True)
    with pytest.raises(BuildError, match="exists and is not a symlink"):
        build_source(TinySource(), root, out, progress=False)


def test_two_datasets_share_one_folder(root: Path, tmp_path: Path) -> None:
    class OtherSource(TinySource):
        name = "other"

        def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
            for item in super().iter_samples(root):
                item.id = item.id.replace("tiny-", "other-")
                item.source = "other"
                yield item

    out = tmp_path / "bench"
    build_source(TinySource(), root, out, progress=False)
    result = build_source(OtherSource(), root, out, progress=False)
    assert set(result.summary["sources"]) == {"tiny", "other"}
    assert result.summary["records"] == 14
    test_ids = [r["id"] for r in records_of(out, "test", "emo_c")]
    assert sorted(test_ids) == ["other-test-a3", "other-test-v2", "tiny-test-a3", "tiny-test-v2"]


def test_write_views_reports_invalid_lines_and_duplicates(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    build_source(TinySource(), root, out, progress=False)
    lines = lines_of(out / "records" / "tiny.jsonl")
    bad = json.loads(lines[0])
    bad.update(id="tiny-train-bad", answer="happy")
    (out / "records" / "copy.jsonl").write_text("\n".join([lines[1], "{not json", json.dumps(bad)]) + "\n")
    (out / "train" / "humor.jsonl").write_text("stale\n")
    summary = write_views(out, quiet=True)
    assert summary["records"] == 7
    assert summary["duplicate_ids"]["count"] == 1
    assert summary["invalid_records"]["count"] == 2
    assert "malformed JSON" in summary["invalid_records"]["samples"][0]
    assert "outside the label set" in summary["invalid_records"]["samples"][1]
    assert not (out / "train" / "humor.jsonl").exists()


@pytest.mark.parametrize(
    "text",
    ["plain", 'quotes " and \\ backslash', "new\nline\ttab", "caf\u00e9 \U0001f602 \u2028", "\x00\x1f ctrl"],
)
def test_fast_llava_json_equals_json_dumps(text: str) -> None:
    for task, options in (("emo_c", EKMAN6), ("sarcasm", []), ("intent", ["ask for help", text])):
        record = {
            "id": f"id {text}",
            "task": task,
            "modality": "video",
            "media": f"media/{text}.mp4",
            "question": f"Q {text}",
            "answer": options[0] if options else "yes",
            "source": "s",
            "split": "test",
            "options": options,
            "text": text,
        }
        fast = llava_entry_json(record)
        assert fast == json.dumps(llava_entry(record), ensure_ascii=False)
        assert json.loads(fast) == llava_entry(record)


def test_write_views_needs_records(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no records"):
        write_views(tmp_path)


def test_dataset_root(tmp_path: Path) -> None:
    for sub in ("records/x.jsonl", "test/emo_c.jsonl", "train/hate.jsonl", "llava/train.json"):
        assert dataset_root(tmp_path / sub) == tmp_path
    assert dataset_root(tmp_path / "mine.jsonl") == tmp_path
    assert dataset_root(tmp_path) == tmp_path


@pytest.mark.parametrize(
    ("problem", "kind"),
    [
        ("media file a/x.png not found under /data/r", "media file <file> not found under <file>"),
        (
            "/d/v1.mp4: cannot decode video (Check failed: 3 vs 4); re-encode it",
            "<file>: cannot decode video",
        ),
        ("answer 'happy' is outside the label set [anger, joy]", "answer '...' is outside the label set"),
        ("row 17: missing clip 12_3.mp4", "row N: missing clip <file>"),
    ],
)
def test_problem_kind_groups_alike_problems(problem: str, kind: str) -> None:
    assert problem_kind(problem) == kind


@pytest.mark.parametrize(
    ("media", "unsafe"),
    [
        ("a/b.png", False),
        ("/abs/b.png", True),
        ("../up.png", True),
        ("a/../../b.png", True),
        ("C:/x.png", True),
        ("a..b.png", False),
    ],
)
def test_unsafe_media_path(media: str, unsafe: bool) -> None:
    assert unsafe_media_path(media) is unsafe
