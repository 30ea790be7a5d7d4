"""Checks that an image or video file is usable, with errors that name the file and the fix.

Training, evaluation and ``emollm data validate`` all decode media through :mod:`frames`; this
module turns "is this file usable?" into one string per problem so that a bad file is reported
(or quarantined) instead of crashing a long job.
"""

from __future__ import annotations

from pathlib import Path

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
    from emollm_plugin.emobench import frames

    try:
        if modality == "image":
            frames.load_image(path)
        elif modality == "video":
            frames.load_frames(path, num_frames=num_frames)
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
