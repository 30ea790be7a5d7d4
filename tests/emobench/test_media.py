"""The shared frame sampler, the image/video loaders and the media checks, on generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from emollm_plugin.emobench.media import (
    MediaError,
    guess_modality,
    load_frames,
    load_image,
    media_problem,
    require_file,
    sample_frame_indices,
)
from emollm_plugin.emobench.synth import PALETTE, make_clip, write_image, write_video

# ----------------------------------------------------------------------------- sampler


@pytest.mark.parametrize(("total", "count"), [(300, 8), (10, 8), (8, 8), (97, 16), (2, 2), (1000, 3)])
def test_uniform_sampling_matches_linspace_with_both_ends(total: int, count: int) -> None:
    indices = sample_frame_indices(total, count)
    assert indices == np.linspace(0, total - 1, count, dtype=int).tolist()
    assert indices[0] == 0 and indices[-1] == total - 1
    assert indices == sorted(set(indices))


def test_short_clip_gives_each_frame_once() -> None:
    assert sample_frame_indices(5, 8) == [0, 1, 2, 3, 4]


def test_one_frame_is_the_middle_one() -> None:
    assert sample_frame_indices(9, 1) == [4]
    assert sample_frame_indices(1, 8) == [0]


def test_fps_cap_limits_frames_per_second_of_clip() -> None:
    # a 10 s clip at 30 fps, at most 0.5 frames per second: 5 frames
    assert len(sample_frame_indices(300, 8, fps=30.0, max_fps=0.5)) == 5
    # the cap never raises the count and never drops below one frame
    assert len(sample_frame_indices(300, 8, fps=30.0, max_fps=100.0)) == 8
    assert len(sample_frame_indices(10, 8, fps=30.0, max_fps=0.1)) == 1
    # without the clip's fps the cap cannot apply
    assert len(sample_frame_indices(300, 8, max_fps=0.5)) == 8


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 8), "at least one frame"), ((10, 0), "num_frames"), ((10, 4, 30.0, 0.0), "max_fps")],
)
def test_sampler_rejects_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_frame_indices(*args)


# ----------------------------------------------------------------------------- video loading


@pytest.fixture
def clip_path(tmp_path: Path) -> Path:
    clip = make_clip(0, np.random.default_rng(0), frames=8, size=32)  # label 0: red, moving right
    return write_video(tmp_path / "clip.mp4", clip, fps=8)


def test_load_frames_decodes_the_sampled_frames(clip_path: Path) -> None:
    frames = load_frames(clip_path, num_frames=4)
    assert len(frames) == 4
    assert all(f.mode == "RGB" and f.size == (32, 32) for f in frames)
    arrays = [np.asarray(f, dtype=np.float32) for f in frames]
    # the background keeps label 0's colour (red dominates) through the H.264 round trip
    background = np.median(arrays[0].reshape(-1, 3), axis=0)
    assert background[0] > 150 and background[1] < 100 and background[2] < 100
    assert np.abs(background - np.array(PALETTE[0])).max() < 50

    # the white square moves right: its mean column grows from the first to the last frame
    def square_x(a: np.ndarray) -> float:
        return float(np.nonzero(a.min(axis=2) > 200)[1].mean())

    assert square_x(arrays[-1]) > square_x(arrays[0]) + 10


def test_load_frames_returns_all_frames_of_a_short_clip(clip_path: Path) -> None:
    assert len(load_frames(clip_path, num_frames=32)) == 8


def test_load_frames_fps_cap(clip_path: Path) -> None:
    # 8 frames at 8 fps is one second: at most 2 frames at max_fps=2
    assert len(load_frames(clip_path, num_frames=8, max_fps=2)) == 2


def test_missing_video_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(MediaError, match=r"nope\.mp4.*not found"):
        load_frames(path)


def test_zero_byte_video(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.mp4.*zero-byte"):
        load_frames(path)


def test_non_video_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 20)
    with pytest.raises(MediaError, match=r"notes\.mp4: cannot decode video.*re-encode"):
        load_frames(path)


def test_truncated_video(tmp_path: Path, clip_path: Path) -> None:
    data = clip_path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=r"cut\.mp4: cannot decode video"):
        load_frames(cut)


def test_a_directory_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not a regular file"):
        require_file(tmp_path)


# ----------------------------------------------------------------------------- images


def test_load_image_converts_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    Image.new("L", (8, 6), 128).save(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (8, 6)
    assert image.getpixel((0, 0)) == (128, 128, 128)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
@pytest.mark.parametrize("library_allows_truncation", [False, True])
def test_truncated_image_raises_even_if_pil_was_told_to_allow_it(
    tmp_path: Path, fmt: str, library_allows_truncation: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lmms-eval sets ImageFile.LOAD_TRUNCATED_IMAGES = True on import; the loader must still refuse
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", library_allows_truncation)
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    full = tmp_path / f"full.{fmt}"
    Image.fromarray(pixels).save(full)
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(MediaError, match=rf"cut\.{fmt}: cannot decode image.*truncated"):
        load_image(cut)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is library_allows_truncation  # restored
    assert load_image(full).size == (64, 64)


def test_zero_byte_and_non_image_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="zero-byte"):
        load_image(empty)
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    with pytest.raises(MediaError, match=r"text\.jpg: cannot decode image"):
        load_image(text)


def test_media_problem_summarises_each_case(tmp_path: Path, clip_path: Path) -> None:
    image = write_image(tmp_path / "ok.png", np.zeros((4, 4, 3), dtype=np.uint8))
    assert media_problem(image, "image") is None
    assert media_problem(clip_path, "video", num_frames=4) is None
    assert "cannot decode image" in media_problem(clip_path, "image")
    assert "cannot decode video" in media_problem(image, "video")
    assert "not found" in media_problem(tmp_path / "missing.png", "image")
    assert "unknown modality" in media_problem(image, "audio")


def test_guess_modality() -> None:
    assert guess_modality("a/b.JPG") == "image"
    assert guess_modality("clip.mp4") == "video"
    assert guess_modality("notes.txt") is None
