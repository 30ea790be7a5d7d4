"""Images and video frames: the one loader and frame sampler shared by training, evaluation and
validation, and checks that turn "is this file usable?" into one line per problem.

A model trained on frames picked one way and evaluated on frames picked another way is tested on
a different input distribution, so every stage (the LLaVA dataset, the lmms-eval model,
``emollm data validate``) calls :func:`load_frames` / :func:`sample_frame_indices` from here.

Sampling is uniform over the whole clip and includes the first and last frame, the same indices
as lmms-eval's ``read_video`` (``linspace(0, n - 1, k)`` rounded down), so a clip gives the same
frames whichever side decodes it. A bad file raises :class:`MediaError` naming the file and the fix,
so it is reported (or quarantined) instead of crashing a long job.

Decoded frames are kept in the frame cache (:mod:`emollm_plugin.emobench.frame_cache`: on by
default, ``EMOLLM_FRAME_CACHE=off`` turns it off), so a clip is decoded once for all epochs,
arms, evaluations and teacher passes. :func:`map_in_processes` spreads media work (decode checks,
filling the cache) over processes, results in input order.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageFile
from tqdm import tqdm

from emollm_plugin.emobench import frame_cache

T = TypeVar("T")
R = TypeVar("R")

#: Bump when :func:`sample_frame_indices` picks other frames: cached frames of the old sampler are then ignored.
SAMPLER_VERSION = 1

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".m4v", ".mpg", ".mpeg")


class MediaError(ValueError):
    """An image or video that cannot be used; the message names the file and what to do."""


#: What the plugin's lmms-eval model answers, followed by the reason, for a sample whose media fails to
#: decode only when the model reads it (a video is handed over as a path): the EmoBench tasks count such a
#: sample as missing, never score the text. A log-likelihood request gets ``nan`` instead.
UNREADABLE_MEDIA_ANSWER = "[emollm: media unreadable] "


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


def media_problem(path: str | Path, modality: str, num_frames: int = 8, num_threads: int = 0) -> str | None:
    """``None`` when the file decodes as the given modality, else one line saying what is wrong.

    Images are decoded completely (a truncated file fails); videos are opened with decord and
    ``num_frames`` frames are decoded with the same sampler training uses (a frame-cache hit for
    the file as it is now counts as decoded, and a decode fills the cache for training).
    """
    try:
        if modality == "image":
            load_image(path)
        elif modality == "video":
            load_frame_array(path, num_frames=num_frames, num_threads=num_threads)
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


class Frames(list):
    """The sampled frames of one video: a list of images that stays a video when the clip has one frame.

    Models pool and count a video's tokens per frame (``--mm_video_pool``), so a one-frame clip must
    not be mistaken for an image at evaluation when training saw it as a video.
    """


def load_frames(
    path: str | Path,
    num_frames: int = 8,
    max_fps: float | None = None,
    *,
    num_threads: int = 0,
) -> list[Image.Image]:
    """The sampled frames of one video as RGB PIL images (:class:`Frames`): from the frame cache, else
    decoded (decord, CPU).

    Raises :class:`MediaError` naming the file when it is missing, empty or not a decodable
    video. ``num_threads=0`` lets decord choose; data-loader workers should pass 1.
    """
    return Frames(Image.fromarray(frame) for frame in load_frame_array(path, num_frames, max_fps, num_threads=num_threads))


@functools.lru_cache(maxsize=1)
def _decoder_version() -> str:
    try:
        return f"decord {metadata.version('decord')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - decord is a hard dependency
        return "decord ?"


def frame_options(num_frames: int, max_fps: float | None) -> dict[str, object]:
    """Everything that decides which frames a clip yields: the frame cache's key besides the file."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if max_fps is not None and max_fps <= 0:
        raise ValueError(f"max_fps must be > 0, got {max_fps}")
    return {
        "num_frames": int(num_frames),
        "max_fps": None if max_fps is None else float(max_fps),
        "sampler": SAMPLER_VERSION,
        "decoder": _decoder_version(),
    }


def load_frame_array(
    path: str | Path,
    num_frames: int = 8,
    max_fps: float | None = None,
    *,
    num_threads: int = 0,
    cache: bool = True,
) -> np.ndarray:
    """:func:`load_frames` as one ``uint8 [T, H, W, 3]`` array; ``cache=False`` always decodes."""
    path = require_file(path)
    options = frame_options(num_frames, max_fps)
    if cache:
        cached = frame_cache.get(path, options)
        if cached is not None:
            return cached
    frames = decode_frames(path, num_frames, max_fps, num_threads=num_threads)
    if cache:
        frame_cache.put(path, options, frames)
    return frames


def decode_frames(
    path: str | Path, num_frames: int = 8, max_fps: float | None = None, *, num_threads: int = 0
) -> np.ndarray:
    """Decode the sampled frames of one video with decord (no cache): ``uint8 [T, H, W, 3]``."""
    path = require_file(path)
    frame_cache.log_decode(path)
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
    return np.ascontiguousarray(batch, dtype=np.uint8)


def decoder_threads(workers: int) -> int:
    """decord threads per process when ``workers`` processes decode at once: 0 (decord's choice) for one,
    else the cores shared out, so the processes do not fight over them."""
    return 0 if workers <= 1 else max(1, (os.cpu_count() or 1) // workers)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes started by forkserver where the platform has it, else spawn: never a
    plain fork of a parent that may hold decoder threads or locks.

    Each worker takes the caller's environment as it is now: a forkserver started earlier would
    otherwise hand out its own, e.g. an older ``$EMOLLM_FRAME_CACHE``.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_adopt_environment, initargs=(dict(os.environ),)
    )


def _adopt_environment(environment: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(environment)


def map_in_processes(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int = 1,
    *,
    desc: str | None = None,
    unit: str = " files",
    progress: bool = False,
) -> list[R]:
    """``[fn(item) for item in items]``, over ``workers`` processes when > 1, in input order.

    ``fn`` must be picklable (a module-level function or a ``functools.partial`` of one). The
    same list comes back whatever ``workers`` is; a progress bar counts finished items.
    """
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    bar = tqdm(total=len(items), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
    try:
        if workers == 1 or len(items) <= 1:
            results = []
            for item in items:
                results.append(fn(item))
                bar.update(1)
            return results
        with process_pool(min(workers, len(items))) as pool:
            return list(_counted(pool.map(fn, items), bar))
    finally:
        bar.close()


def _counted(results: Iterable[R], bar: tqdm) -> Iterator[R]:
    for result in results:
        bar.update(1)
        yield result


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
