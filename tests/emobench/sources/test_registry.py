"""The registry contract and the shared helpers every adapter relies on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import (
    Skip,
    SourceAdapter,
    available_sources,
    get_source,
    register_source,
)
from emollm_plugin.emobench.sources.base import _REGISTRY
from emollm_plugin.emobench.sources.common import clean_id, hash_split, media_skip, parse_binary, record_id
from emollm_plugin.emobench.tasks import MODALITIES, TASKS

EXPECTED = {
    "emoset",
    "emotion6",
    "emotion6_votes",
    "fi",
    "hateful_memes",
    "hatemm",
    "intentonomy",
    "meld",
    "memotion",
    "mintrec",
    "mmsd",
    "mmsd2",
    "mustard",
    "urfunny",
}


def test_importing_the_package_registers_every_adapter():
    assert set(available_sources()) == EXPECTED
    assert available_sources() == sorted(available_sources())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_adapter_documents_itself(name):
    source = get_source(name)
    assert isinstance(source, SourceAdapter) and source.name == name
    assert source.tasks and set(source.tasks) <= set(TASKS)
    assert source.modalities and set(source.modalities) <= set(MODALITIES)
    for field in ("description", "homepage", "licence", "expected_layout"):
        assert isinstance(getattr(source, field), str) and len(getattr(source, field)) > 10, field
    assert source.required_files, "every release has at least one metadata file or folder to check"


def test_every_task_has_image_and_video_sources():
    covered = {
        (task, modality)
        for name in available_sources()
        for task in get_source(name).tasks
        for modality in get_source(name).modalities
    }
    missing = [(t, m) for t in TASKS for m in MODALITIES if (t, m) not in covered]
    assert missing == []


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown EmoBench source 'nope'") as info:
        get_source("nope")
    assert "meld" in str(info.value) and "urfunny" in str(info.value)


def test_register_source_rejects_bad_definitions():
    class NoName(SourceAdapter):
        tasks = ("hate",)
        modalities = ("image",)

    class BadTask(SourceAdapter):
        name = "bad_task"
        tasks = ("joke",)
        modalities = ("image",)

    class Taken(SourceAdapter):
        name = "meld"
        tasks = ("hate",)
        modalities = ("image",)

    for cls in (NoName, BadTask, Taken):
        with pytest.raises(ValueError):
            register_source(cls)
    assert "bad_task" not in _REGISTRY and get_source("meld").tasks == ("emo_c", "emo_o")


def test_check_layout_on_a_missing_root_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        get_source("fi").check_layout(tmp_path / "absent")


def test_hash_split_is_deterministic_and_roughly_80_10_10():
    ids = [f"sample_{i}" for i in range(3000)]
    first = [hash_split(i) for i in ids]
    assert first == [hash_split(i) for i in ids]
    shares = {k: v / len(ids) for k, v in Counter(first).items()}
    assert (
        abs(shares["train"] - 0.8) < 0.03
        and abs(shares["val"] - 0.1) < 0.03
        and abs(shares["test"] - 0.1) < 0.03
    )


def test_ids_are_safe_and_unambiguous():
    # '/', ' ' and '-' become '_'; a hash of the original keeps ids that collapsed apart.
    assert clean_id("anger/1.jpg").startswith("anger_1.jpg_")
    assert clean_id(" S05 E02-99 ").startswith("S05_E02_99_")
    assert clean_id("S05 E02-99") != clean_id("S05_E02_99") == "S05_E02_99"
    assert all("-" not in clean_id(x) and "/" not in clean_id(x) for x in ("a-b", "a/b", "😀", "x" * 500))
    assert record_id("meld", "test", "dia3_utt1") == "meld-test-dia3_utt1"
    assert record_id("meld", "test", "dia3_utt1", "emo_o") == "meld-test-dia3_utt1-emo_o"


def test_parse_binary_accepts_only_zero_and_one():
    assert [parse_binary(v) for v in (1, 0, True, False, "1", " 0", 1.0)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    assert [parse_binary(v) for v in (2, "yes", None, [1], -1.0)] == [None] * 5


def test_media_skip_refuses_paths_outside_the_root(tmp_path: Path):
    (tmp_path / "ok.jpg").write_bytes(b"x")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert media_skip(tmp_path, "ok.jpg", "k") is None
    assert "not found" in media_skip(tmp_path, "gone.jpg", "k").reason
    assert "empty" in media_skip(tmp_path, "empty.jpg", "k").reason
    for bad in ("../ok.jpg", "/etc/passwd", "a/../../ok.jpg", ""):
        skip = media_skip(tmp_path, bad, "k")
        assert isinstance(skip, Skip) and "inside the dataset root" in skip.reason
