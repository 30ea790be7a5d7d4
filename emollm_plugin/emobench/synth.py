"""A small synthetic EmoBench, made in seconds, whose labels can be learned from the pixels.

Used by the demo, the tests and anyone without the public datasets. Every sub-task gets images
(PNG) and videos (MP4), train and test splits, in the standard layout (see :mod:`build`).

Each label has a colour (the background) and a shape (images) or a motion direction (videos);
colour, position and pixel noise vary per sample, so a model must read the cue, not memorise
files. Yes/no tasks carry a short neutral synthetic text, as the real ones carry meme text or
an utterance; the text does not give the answer away. Deterministic given the seed.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from emollm_plugin.emobench.build import MEDIA_DIR, RECORDS_DIR, write_views
from emollm_plugin.emobench.records import Record, write_records
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, YES_NO, build_question, get_task

SOURCE = "synth"

#: The label set of each synthetic sub-task (intent uses four MIntRec intents, one multi-word).
SYNTH_LABELS: dict[str, tuple[str, ...]] = {
    "emo_c": LABEL_SETS["ekman6"],
    "emo_o": LABEL_SETS["ekman6"],
    "intent": ("complain", "praise", "apologise", "ask for help"),
    "hate": YES_NO,
    "humor": YES_NO,
    "sarcasm": YES_NO,
}

#: Background colour of label i (well apart in RGB, so they survive video chroma subsampling).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 40, 40),
    (40, 200, 60),
    (40, 70, 220),
    (230, 210, 40),
    (200, 50, 200),
    (40, 210, 210),
    (240, 140, 30),
    (120, 120, 120),
)
#: Motion of the bright square in a video of label i, in pixels per frame (dx, dy).
MOTIONS: tuple[tuple[int, int], ...] = ((2, 0), (-2, 0), (0, 2), (0, -2), (2, 2), (-2, -2), (2, -2), (0, 0))

_WORDS = (
    "when",
    "the",
    "monday",
    "meeting",
    "starts",
    "my",
    "cat",
    "again",
    "this",
    "weekend",
    "coffee",
    "after",
    "lunch",
    "train",
    "is",
    "late",
    "weather",
    "today",
    "our",
    "team",
    "new",
    "phone",
)


def _shape_mask(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of label ``label``'s shape at a jittered position."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = size // 4
    cy, cx = (int(v) for v in rng.integers(r + 1, size - r - 1, size=2))
    kind = label % 6
    if kind == 0:  # square
        return (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
    if kind == 1:  # disk
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 2:  # triangle
        return (yy >= cy - r) & (yy <= cy + r) & (abs(xx - cx) <= (yy - (cy - r)) // 2)
    if kind == 3:  # horizontal bar
        return (abs(yy - cy) <= r // 2) & (abs(xx - cx) <= r + 3)
    if kind == 4:  # vertical bar
        return (abs(xx - cx) <= r // 2) & (abs(yy - cy) <= r + 3)
    return ((abs(yy - cy) <= 1) & (abs(xx - cx) <= r)) | ((abs(xx - cx) <= 1) & (abs(yy - cy) <= r))  # cross


def _background(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    colour = np.array(PALETTE[label % len(PALETTE)], dtype=np.float32) + rng.normal(0, 12, 3)
    return np.broadcast_to(colour, (size, size, 3)).copy()


def _finish(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255).astype(np.uint8)


def make_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """``[size, size, 3]`` uint8: label colour background, a white label shape, noise."""
    pixels = _background(label, size, rng)
    pixels[_shape_mask(label, size, rng)] = 245.0
    return _finish(pixels, rng)


def make_clip(label: int, rng: np.random.Generator, frames: int = 8, size: int = 32) -> np.ndarray:
    """``[frames, size, size, 3]`` uint8: label colour background, a white square moving the label's way."""
    background = _background(label, size, rng)
    dx, dy = MOTIONS[label % len(MOTIONS)]
    side = max(3, size // 5)
    span = size - side
    x0 = int(rng.integers(0, span + 1)) if dx == 0 else (0 if dx > 0 else span)
    y0 = int(rng.integers(0, span + 1)) if dy == 0 else (0 if dy > 0 else span)
    step = max(1, span // max(1, frames - 1))
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        x = int(np.clip(x0 + np.sign(dx) * step * t, 0, span))
        y = int(np.clip(y0 + np.sign(dy) * step * t, 0, span))
        frame = background.copy()
        frame[y : y + side, x : x + side] = 245.0
        clip[t] = _finish(frame, rng)
    return clip


def write_image(path: str | Path, pixels: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def write_video(
    path: str | Path,
    clip: np.ndarray,
    fps: int = 8,
    *,
    crf: int = 12,
    preset: str = "veryfast",
    threads: int = 1,
) -> Path:
    """Encode ``[T, H, W, 3]`` uint8 frames as H.264 MP4 (MPEG-4 part 2 if libx264 is missing).

    One encoder thread (the default) makes the bytes reproducible; benchmarks may use more.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = int(clip.shape[2]), int(clip.shape[1])
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = threads
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
        for frame in clip:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _text(rng: np.random.Generator) -> str:
    count = int(rng.integers(3, 7))
    return " ".join(str(w) for w in rng.choice(_WORDS, size=count))


def synth_records(
    out_dir: Path,
    split: str,
    count: int,
    rng: np.random.Generator,
    frames: int,
    size: int,
    tasks: Sequence[str] = TASKS,
) -> list[Record]:
    """Write the media of ``count`` samples per task for one split and return their records."""
    records = []
    for task in tasks:
        labels = SYNTH_LABELS[task]
        yesno = get_task(task).answer_kind == "yesno"
        for i in range(count):
            label = i % len(labels)
            # alternate, shifted every round of labels: each label gets both modalities
            modality = "image" if (i + i // len(labels)) % 2 == 0 else "video"
            rel = f"{MEDIA_DIR}/{SOURCE}/{split}/{task}/{i:05d}.{'png' if modality == 'image' else 'mp4'}"
            if modality == "image":
                write_image(out_dir / rel, make_image(label, rng, size))
            else:
                write_video(out_dir / rel, make_clip(label, rng, frames, size))
            options = [] if yesno else list(labels)
            text = _text(rng) if yesno else None
            shown = options if task != "emo_o" else []
            records.append(
                Record(
                    id=f"{SOURCE}-{split}-{task}-{i:05d}",
                    task=task,
                    modality=modality,
                    media=rel,
                    question=build_question(task, modality, shown, text),
                    answer=labels[label],
                    source=SOURCE,
                    split=split,
                    options=options,
                    text=text,
                )
            )
    return records


def synthesize(
    out_dir: str | Path,
    per_task: int = 40,
    test_per_task: int | None = None,
    seed: int = 0,
    frames: int = 8,
    size: int = 32,
) -> Path:
    """Write a synthetic EmoBench into ``out_dir`` and return it.

    ``per_task`` train and ``test_per_task`` (default half of it) test records per sub-task,
    half images, half ``frames``-frame videos, all ``size`` pixels square.
    """
    if per_task < 1:
        raise ValueError(f"per_task must be >= 1, got {per_task}")
    if size < 32 or size % 32:
        # decord 0.6 misreads H.264 frames of some tiny widths (16, 24, 48 px): keep to multiples of 32
        raise ValueError(f"size must be a multiple of 32 (32, 64, ...), got {size}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    test_count = max(1, per_task // 2) if test_per_task is None else test_per_task
    out = Path(out_dir)
    media = out / MEDIA_DIR / SOURCE
    if media.is_symlink():
        media.unlink()
    elif media.exists():
        shutil.rmtree(media)
    rng = np.random.default_rng(seed)
    records = synth_records(out, "train", per_task, rng, frames, size)
    if test_count:
        records += synth_records(out, "test", test_count, rng, frames, size)
    write_records(out / RECORDS_DIR / f"{SOURCE}.jsonl", records)
    write_views(out)
    return out
