"""Images and video frames: the one loader and frame sampler shared by training, evaluation and
validation, and checks that turn "is this file usable?" into one line per problem.

A model trained on frames picked one way and evaluated on frames picked another way is tested on
a different input distribution, so every stage (the LLaVA dataset, the lmms-eval model,
``emollm data validate``) calls :func:`load_frames` / :func:`sample_frame_indices` from here.

Sampling is uniform over the whole clip and includes the first and last frame, the same indices
as lmms-eval's ``read_video`` (``linspace(0, n - 1, k)`` rounded down), so a clip gives the same
frames whichever side decodes it. A bad file raises :class:`MediaError` naming the file and the fix,
so it is reported (or quarantined) instead of crashing a long job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageFile

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".m4v", ".mpg", ".mpeg")


class MediaError(ValueError):
    """An image or video that cannot be used; the message names the file and what to do."""


def require_file(path: str | Path) -> Path:
    """The path, after checking it is an existing, non-empty regular file (cheap: one stat)."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found; check the record's media path and the data root")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file; media paths must point at one image or video")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: zero-byte file (an interrupted download or copy?); fetch it again")
    return path


def media_problem(path: str | Path, modality: str, num_frames: int = 8) -> str | None:
    """``None`` when the file decodes as the given modality, else one line saying what is wrong.

    Images are decoded completely (a truncated file fails); videos are opened with decord and
    ``num_frames`` frames are decoded with the same sampler training uses.
    """
    try:
        if modality == "image":
            load_image(path)
        elif modality == "video":
            load_frames(path, num_frames=num_frames)
        else:
            return f"{path}: unknown modality {modality!r}; expected 'image' or 'video'"
    except MediaError as exc:
        return str(exc)
    return None


def guess_modality(path: str | Path) -> str | None:
    """``"image"`` or ``"video"`` from the file suffix; ``None`` when the suffix is neither."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


_TRUNCATION_LOCK = threading.Lock()


def sample_frame_indices(
    num_total: int,
    num_frames: int,
    fps: float | None = None,
    max_fps: float | None = None,
) -> list[int]:
    """Indices of the frames to decode: ``num_frames`` spread uniformly over ``num_total``.

    Returns fewer indices when the clip is shorter than ``num_frames`` (never a frame twice), and
    when ``max_fps`` is given with the clip's ``fps``, at most ``duration * max_fps`` of them (at
    least one), so a 1 s clip is not sampled as densely as its encoding allows. One frame is the
    middle frame.
    """
    if num_total <= 0:
        raise ValueError(f"a clip needs at least one frame, got num_total={num_total}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    count = min(num_frames, num_total)
    if max_fps is not None and fps:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be > 0, got {max_fps}")
        count = min(count, max(1, int(num_total / fps * max_fps)))
    if count == 1:
        return [(num_total - 1) // 2]
    last = num_total - 1
    return [(i * last) // (count - 1) for i in range(count)]


def load_frames(
    path: str | Path,
    num_frames: int = 8,
    max_fps: float | None = None,
    *,
    num_threads: int = 0,
) -> list[Image.Image]:
    """Decode the sampled frames of one video as RGB PIL images (decord, CPU).

    Raises :class:`MediaError` naming the file when it is missing, empty or not a decodable
    video. ``num_threads=0`` lets decord choose; data-loader workers should pass 1.
    """
    path = require_file(path)
    try:
        import decord
    except ImportError as exc:  # pragma: no cover - decord is a hard dependency
        raise MediaError(f"{path}: decord is not installed; run `pip install decord`") from exc
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=num_threads)
        total = len(reader)
        if total <= 0:
            raise MediaError(f"{path}: the video has no frames; re-encode or remove it")
        indices = sample_frame_indices(total, num_frames, fps=reader.get_avg_fps(), max_fps=max_fps)
        batch = reader.get_batch(indices).asnumpy()
    except MediaError:
        raise
    except Exception as exc:  # decord raises RuntimeError / DECORDError with C++ context
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise MediaError(
            f"{path}: cannot decode video ({reason}); re-encode it "
            "(e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`) or remove its records"
        ) from exc
    return [Image.fromarray(frame) for frame in batch]


@contextmanager
def _refuse_truncated() -> Iterator[None]:
    """Decode with PIL's truncation check on, even where a library switched it off globally.

    lmms-eval sets ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` on import, which makes a half
    downloaded image load silently as grey; a benchmark must notice that instead.
    """
    with _TRUNCATION_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def load_image(path: str | Path) -> Image.Image:
    """One image, fully decoded and converted to RGB; :class:`MediaError` names a bad file."""
    path = require_file(path)
    try:
        with _refuse_truncated(), Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(
            f"{path}: cannot decode image ({exc}); the file is truncated or not an image; "
            "fetch it again or remove its records"
        ) from exc
