"""Every adapter finds its release where people unpack it; wrong roots say what to pass instead.

Each release is written in its documented layout, archive top folder included, by the writer of
its own test module; here all 14 adapters go through the same checks.
"""

from __future__ import annotations

import json
import shutil

import pytest

from emollm_plugin.emobench.build import BuildError, build_source
from emollm_plugin.emobench.sources import available_sources, detect_sources, get_source
from emollm_plugin.emobench.sources.locate import SEARCH_DEPTH

from .helpers import collect, summary
from .test_emoset import write_emoset
from .test_emotion6 import write_emotion6
from .test_fi import write_fi
from .test_hateful_memes import write_memes
from .test_hatemm import write_hatemm
from .test_intentonomy import write_intentonomy
from .test_meld import write_meld
from .test_memotion import write_memotion
from .test_mintrec import write_mintrec
from .test_mmsd import write_mmsd
from .test_mustard import write_mustard
from .test_urfunny import write_urfunny

#: adapter -> (writer, the folder holding its markers, relative to the folder it was unpacked into)
RELEASES = {
    "emoset": (write_emoset, "EmoSet-118K"),
    "emotion6": (write_emotion6, "Emotion6"),
    "emotion6_votes": (write_emotion6, "Emotion6"),
    "fi": (write_fi, "emotion_dataset"),
    "hateful_memes": (write_memes, "data"),
    "hatemm": (write_hatemm, "HateMM"),
    "intentonomy": (write_intentonomy, "intentonomy"),
    "meld": (write_meld, "MELD.Raw"),
    "memotion": (write_memotion, "memotion_dataset_7k"),
    "mintrec": (write_mintrec, "MIntRec"),
    "mmsd": (write_mmsd, "MMSD2.0/data"),
    "mmsd2": (write_mmsd, "MMSD2.0/data"),
    "mustard": (write_mustard, "MUStARD/data"),
    "urfunny": (write_urfunny, "sdk_features"),
}


def test_every_adapter_has_a_release_writer():
    assert sorted(RELEASES) == available_sources() and len(RELEASES) == 14


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_root_is_the_unpack_folder_or_any_folder_above(tmp_path, name):
    writer, marker_folder = RELEASES[name]
    unpacked = writer(tmp_path / "home" / "datasets")
    source = get_source(name)
    assert source.locate(unpacked) == unpacked / marker_folder
    at_unpack, _ = collect(source, unpacked)
    above, _ = collect(get_source(name), tmp_path)  # two levels further up
    assert at_unpack, f"{name}: no records"
    assert summary(above) == {
        rid: (split, answer, f"home/datasets/{media}")
        for rid, (split, answer, media) in summary(at_unpack).items()
    }
    assert any(d.source == name and d.folder == unpacked / marker_folder for d in detect_sources(tmp_path))


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_root_below_the_release_names_the_folder_to_pass(tmp_path, name):
    writer, marker_folder = RELEASES[name]
    release = writer(tmp_path) / marker_folder
    inner = sorted(p for p in release.iterdir() if p.is_dir())
    deep = inner[0] if inner else release.parent / "urfunny2_videos"  # UR-FUNNY: the clips beside it
    with pytest.raises(FileNotFoundError) as info:
        get_source(name).check_layout(deep)
    message = str(info.value)
    assert message.startswith(f"{name}: no release under {deep}: looked for a folder holding ")
    if deep.parent == release:
        assert (
            f"the release is in {release.resolve()}, above the folder you passed: pass --root {release.resolve()}"
            in message
        )
    assert "\n" not in message


def test_detect_says_which_adapters_recognise_each_folder(tmp_path):
    for writer in {writer for writer, _ in RELEASES.values()}:
        writer(tmp_path)
    found = {(d.source, d.folder.relative_to(tmp_path).as_posix()) for d in detect_sources(tmp_path)}
    assert found == {(name, folder) for name, (_, folder) in RELEASES.items()}


def test_detect_on_a_folder_with_nothing_known(tmp_path):
    (tmp_path / "notes").mkdir()
    assert detect_sources(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        detect_sources(tmp_path / "absent")


def test_two_copies_are_listed_not_guessed(tmp_path):
    write_meld(tmp_path / "old")
    write_meld(tmp_path / "new")
    with pytest.raises(FileNotFoundError) as info:
        get_source("meld").check_layout(tmp_path)
    assert str(info.value) == (
        f"meld: 2 copies of the release under {tmp_path}: {tmp_path / 'new' / 'MELD.Raw'}, "
        f"{tmp_path / 'old' / 'MELD.Raw'}; pass the one to build as --root (e.g. --root {tmp_path / 'new' / 'MELD.Raw'})"
    )


def test_hidden_and_macos_residue_folders_are_not_copies(tmp_path):
    write_meld(tmp_path)
    shutil.copytree(tmp_path / "MELD.Raw", tmp_path / "__MACOSX" / "MELD.Raw")
    shutil.copytree(tmp_path / "MELD.Raw", tmp_path / ".Trash" / "MELD.Raw")
    assert get_source("meld").locate(tmp_path) == tmp_path / "MELD.Raw"


def test_wrong_source_suggests_the_right_one(tmp_path):
    write_memes(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        get_source("meld").check_layout(tmp_path)
    assert "data/ holds hateful_memes: did you mean --source hateful_memes?" in str(info.value)


def test_packed_archives_are_pointed_out(tmp_path):
    (tmp_path / "MELD.Raw.tar.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(
        FileNotFoundError, match=r"archives not unpacked yet: MELD\.Raw\.tar\.gz \(unpack them"
    ):
        get_source("meld").check_layout(tmp_path)


def test_search_depth_is_bounded_and_said(tmp_path):
    deep = tmp_path.joinpath(*"abcdefgh"[:SEARCH_DEPTH])
    write_hatemm(deep)  # markers SEARCH_DEPTH + 1 levels below tmp_path
    assert len((deep / "HateMM").relative_to(tmp_path).parts) == SEARCH_DEPTH + 1
    with pytest.raises(FileNotFoundError, match=f"in it and up to {SEARCH_DEPTH} levels below it"):
        get_source("hatemm").check_layout(tmp_path)
    assert get_source("hatemm").locate(tmp_path / "a") == deep / "HateMM"


def test_build_with_media_root_links_the_media_folder(tmp_path):
    """``build --media-root``: media paths are relative to it and OUT/media/<source> links to it."""
    root = write_mustard(tmp_path / "repo")
    clips = tmp_path / "big_disk"
    shutil.move(root / "MUStARD" / "data" / "videos", clips)
    with pytest.raises(BuildError, match="no utterances_final folder"):
        build_source("mustard", root, tmp_path / "bench0", progress=False)

    out = tmp_path / "bench"
    result = build_source("mustard", root, out, media_root=clips, progress=False)
    assert result.total == 2
    assert (out / "media" / "mustard").resolve() == clips.resolve()
    stored = [json.loads(line) for line in (out / "records" / "mustard.jsonl").read_text().splitlines()]
    assert {r["media"] for r in stored} == {
        "media/mustard/utterances_final/1_60.mp4",
        "media/mustard/utterances_final/2_301.mp4",
    }
    assert all((out / r["media"]).is_file() for r in stored)
    with pytest.raises(BuildError, match="--media-root .* is not a folder"):
        build_source("mustard", root, out, media_root=tmp_path / "absent", progress=False)


def test_build_from_the_unpack_folder_resolves_media_through_the_link(tmp_path):
    root = write_meld(tmp_path / "downloads")
    out = tmp_path / "bench"
    result = build_source("meld", root, out, progress=False)
    assert result.total == 8
    record = json.loads((out / "test" / "emo_c.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert record["media"] == "media/meld/MELD.Raw/test/output_repeated_splits_test/dia3_utt1.mp4"
    assert (out / record["media"]).is_file()


def test_an_emobench_folder_inside_the_root_is_not_a_second_copy(tmp_path):
    """OUT/media/<source> links back to --root; rebuilding must not see the release twice."""
    root = write_meld(tmp_path / "downloads")
    out = root / "emobench"
    assert build_source("meld", root, out, progress=False).total == 8
    assert (out / "media" / "meld" / "MELD.Raw").is_dir()
    again = build_source("meld", root, out, progress=False)
    assert (again.total, again.added) == (8, 0)
    assert [d.folder for d in detect_sources(root)] == [root / "MELD.Raw"]


def test_a_media_folder_missing_at_build_is_one_clear_error(tmp_path):
    root = write_urfunny(tmp_path / "downloads")
    with pytest.raises(BuildError) as info:
        build_source("urfunny", root / "sdk_features", tmp_path / "bench", progress=False)
    message = str(info.value)
    assert message.startswith("urfunny: no urfunny2_videos or videos folder beside ")
    assert (
        f"pass --root {root.resolve()} (a folder above both) or --media-root {root.resolve() / 'urfunny2_videos'}"
        in message
    )


def test_same_file_names_from_another_dataset_are_not_taken(tmp_path):
    """A GLUE task also ships train.tsv, dev.tsv, test.tsv; an EmoBench OUT has llava/train.json."""
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        (tmp_path / "SST-2" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "SST-2" / name).write_text("sentence\tlabel\nit is good\t1\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError) as info:
        get_source("mintrec").check_layout(tmp_path)
    assert (
        "SST-2/ has train.tsv, dev.tsv, test.tsv but not the expected contents (same names, another dataset's files?)"
        in str(info.value)
    )
    assert detect_sources(tmp_path) == []
