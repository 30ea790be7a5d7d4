"""A small synthetic EmoBench, made in seconds, whose labels can be learned from the pixels and text.

Used by the demo, the tests, the ablations and anyone without the public datasets. Every sub-task
gets images (PNG) and videos (MP4), train and test splits, in the standard layout (see :mod:`build`).
Deterministic given the seed. Two difficulties:

``easy``: each label has a background colour and a white shape (images) or motion direction
(videos), both naming the label; colour, position and pixel noise vary per sample. Yes/no tasks
carry a short neutral text that does not give the answer away. A tiny model reaches the ceiling.

``hard``: labels follow rules over combinations and relations of cues (see :func:`label_for`),
with a distractor blob, a text on every sample (a misleading emotion word in ``emo_c``), more
colour and pixel noise, and an open-set task whose text names the emotion only by a synonym that
the scorer's lexicon maps to the label:

- ``emo_c``: colour family (warm: red, orange, yellow; cool: green, blue, purple) x figure
  family (round: circle, ring; angular: square, triangle; straight: bar, cross; for videos the
  motion: sideways, vertical, diagonal) -> one of six emotions (:data:`EMO_C_RULE`);
- ``emo_o``: the emotion synonym in the text (:data:`EMO_O_WORDS`, a word of ``scoring.LEXICON``);
- ``intent``: colour family x the figure's shade (white, black) (:data:`INTENT_RULE`);
- ``hate``: yes iff the text holds a hostile word **and** the background is warm;
- ``humor``: yes iff the figure's colour family differs from the background's (incongruity);
- ``sarcasm``: yes iff the text's valence (positive/negative word) differs from the
  background's (warm looks positive, cool negative).

One cue alone gives chance on ``intent``, ``humor`` and ``sarcasm``, half of ``emo_c`` (the figure
family narrows six labels to two) and 83% of ``hate``. Every record's cues are written to ``OUT/synth/cues.jsonl`` (:func:`load_cues`), so
the synthetic EmoPrompt teacher can name the evidence for a label as a real teacher would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from emollm_plugin.emobench.build import MEDIA_DIR, RECORDS_DIR, write_views
from emollm_plugin.emobench.jsonl import BadLine, iter_lines
from emollm_plugin.emobench.records import Record, write_records
from emollm_plugin.emobench.scoring import LEXICON
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, YES_NO, build_question, get_task

SOURCE = "synth"
DIFFICULTIES = ("easy", "hard")
#: Where :func:`synthesize` writes every record's cues (relative to the EmoBench folder).
CUES_FILE = "synth/cues.jsonl"

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

# --------------------------------------------------------------------------- cues and rules

#: Names of the easy set's colours, shapes and motions, in the order of PALETTE, _shape_mask, MOTIONS.
COLOUR_NAMES = ("red", "green", "blue", "yellow", "purple", "cyan", "orange", "grey")
SHAPE_NAMES = ("square", "circle", "triangle", "flat bar", "tall bar", "cross")
MOTION_NAMES = ("right", "left", "down", "up", "down and right", "up and left", "up and right", "still")

#: The hard set's colours by family: warm ones look positive, cool ones negative.
WARM = ("red", "orange", "yellow")
COOL = ("green", "blue", "purple")
RGB: dict[str, tuple[int, int, int]] = {
    **{name: PALETTE[i] for i, name in enumerate(COLOUR_NAMES)},
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
#: The hard set's figures: shapes (images) and motions (videos), three families of two each.
FIGURE_FAMILY: dict[str, str] = {
    "circle": "round", "ring": "round", "square": "angular", "triangle": "angular",
    "bar": "straight", "cross": "straight",
    "left": "sideways", "right": "sideways", "up": "vertical", "down": "vertical",
    "up and right": "diagonal", "down and left": "diagonal",
}
HARD_SHAPES = ("circle", "ring", "square", "triangle", "bar", "cross")
HARD_MOTIONS = ("left", "right", "up", "down", "up and right", "down and left")
_MOTION_VECTOR = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
                  "up and right": (1, -1), "down and left": (-1, 1)}
#: A video's motion family plays the part of an image's shape family in the rules.
_SLOT = {"round": 0, "sideways": 0, "angular": 1, "vertical": 1, "straight": 2, "diagonal": 2}

#: emo_c: (colour family, figure family slot) -> emotion.
EMO_C_RULE: dict[tuple[str, int], str] = {
    ("warm", 0): "joy", ("warm", 1): "anger", ("warm", 2): "surprise",
    ("cool", 0): "sadness", ("cool", 1): "fear", ("cool", 2): "disgust",
}
#: emo_o: the synonyms a text may use for each emotion (never the label word itself).
EMO_O_WORDS: dict[str, tuple[str, ...]] = {
    "anger": ("furious", "angry", "annoyed"),
    "disgust": ("disgusted", "revolted", "repulsed"),
    "fear": ("scared", "afraid", "terrified"),
    "joy": ("happy", "glad", "cheerful"),
    "sadness": ("sad", "gloomy", "miserable"),
    "surprise": ("surprised", "shocked", "astonished"),
}
#: intent: (colour family, the figure's shade) -> intent.
SHADES = ("white", "black")
INTENT_RULE: dict[tuple[str, str], str] = {
    ("warm", "white"): "praise", ("warm", "black"): "ask for help",
    ("cool", "white"): "complain", ("cool", "black"): "apologise",
}
HOSTILE_WORDS = ("stupid", "idiots", "losers", "pathetic")
CALM_WORDS = ("quiet", "sunny", "busy", "early")
POSITIVE_WORDS = ("lovely", "great", "wonderful", "perfect")
NEGATIVE_WORDS = ("awful", "terrible", "horrible", "dreadful")
SIZES = ("large", "small")


@dataclass(frozen=True)
class Cues:
    """What the generator put into one sample; the label follows from it by :func:`label_for`."""

    difficulty: str
    task: str
    modality: str
    colour: str  # background colour
    figure: str  # shape (image) or motion (video) of the main object
    figure_colour: str = "white"
    size: str = "large"  # decides nothing; humor's figures are always large
    text: str | None = None
    word: str | None = None  # the word of the text a rule reads (or, in emo_c, a misleading one)
    distractor: str | None = None  # colour of a small blob that never decides

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Cues:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def colour_family(colour: str) -> str:
    """``warm`` or ``cool`` (hard set colours only)."""
    if colour in WARM:
        return "warm"
    if colour in COOL:
        return "cool"
    raise ValueError(f"{colour!r} is neither a warm ({', '.join(WARM)}) nor a cool ({', '.join(COOL)}) colour")


def word_kind(word: str | None) -> str:
    """What a text's deciding word is: hostile, calm, positive, negative, or the emotion it names."""
    for kind, words in (("hostile", HOSTILE_WORDS), ("calm", CALM_WORDS), ("positive", POSITIVE_WORDS),
                        ("negative", NEGATIVE_WORDS)):
        if word in words:
            return kind
    if word in LEXICON:
        return LEXICON[word]
    raise ValueError(f"{word!r} is not a word the synthetic rules know")


def _yes(flag: bool) -> str:
    return YES_NO[0] if flag else YES_NO[1]


def label_for(cues: Cues) -> str:
    """The label the generator's rules give these cues (the rules of the module docstring)."""
    labels = SYNTH_LABELS[cues.task]
    if cues.difficulty == "easy":
        return labels[COLOUR_NAMES.index(cues.colour)]
    if cues.difficulty != "hard":
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, got {cues.difficulty!r}")
    family = colour_family(cues.colour)
    if cues.task == "emo_c":
        return EMO_C_RULE[(family, _SLOT[FIGURE_FAMILY[cues.figure]])]
    if cues.task == "emo_o":
        return word_kind(cues.word)
    if cues.task == "intent":
        return INTENT_RULE[(family, cues.figure_colour)]
    if cues.task == "hate":
        return _yes(word_kind(cues.word) == "hostile" and family == "warm")
    if cues.task == "humor":
        return _yes(colour_family(cues.figure_colour) != family)
    if cues.task == "sarcasm":
        return _yes((word_kind(cues.word) == "positive") != (family == "warm"))
    raise ValueError(f"unknown EmoBench task {cues.task!r}")


def easy_cues(task: str, label: int, modality: str, text: str | None) -> Cues:
    """The cues of an easy sample of label index ``label`` (colour and figure both name it)."""
    figure = SHAPE_NAMES[label % 6] if modality == "image" else MOTION_NAMES[label % len(MOTIONS)]
    return Cues("easy", task, modality, COLOUR_NAMES[label % len(PALETTE)], figure, text=text)


def _pick(rng: np.random.Generator, options: Sequence[str], avoid: str | None = None) -> str:
    return str(rng.choice([o for o in options if o != avoid]))


def draw_hard_cues(task: str, modality: str, rng: np.random.Generator) -> Cues:
    """Random hard cues for one sample (every cue drawn independently; the rules give its label)."""
    colour = _pick(rng, WARM + COOL)
    figure = _pick(rng, HARD_SHAPES if modality == "image" else HARD_MOTIONS)
    size = "large" if task == "humor" else _pick(rng, SIZES)
    figure_colour = {"humor": _pick(rng, WARM + COOL, avoid=colour), "intent": _pick(rng, SHADES)}.get(task, "white")
    distractor = _pick(rng, (*WARM, *COOL, "white"), avoid=colour)
    pool = {
        "emo_c": [w for words in EMO_O_WORDS.values() for w in words],  # misleading: the rule ignores it
        "emo_o": [w for words in EMO_O_WORDS.values() for w in words],
        "hate": HOSTILE_WORDS + CALM_WORDS,
        "sarcasm": POSITIVE_WORDS + NEGATIVE_WORDS,
    }.get(task)
    word = _pick(rng, pool) if pool else None
    filler = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(2, 5)))]
    if word:
        filler.insert(int(rng.integers(0, len(filler) + 1)), word)
    return Cues("hard", task, modality, colour, figure, figure_colour, size, " ".join(filler), word, distractor)


def hard_cues_for_label(task: str, modality: str, label: str, rng: np.random.Generator) -> Cues:
    """Hard cues whose rule gives ``label``: independent draws, kept when the rule agrees."""
    for _ in range(1000):
        cues = draw_hard_cues(task, modality, rng)
        if label_for(cues) == label:
            return cues
    raise RuntimeError(f"no hard {task} cues for label {label!r} in 1000 draws; the rules cannot give it")


def load_cues(bench_dir: str | Path) -> dict[str, Cues]:
    """Every record's cues by record id, from a synthetic EmoBench folder."""
    path = Path(bench_dir) / CUES_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no generator cues; this is not a synthetic EmoBench (write one with `emollm data synth`)"
        )
    cues = {}
    for lineno, data in iter_lines(path):
        try:
            if isinstance(data, BadLine):
                raise ValueError(data.problem)
            cues[str(data["id"])] = Cues.from_dict(data["cues"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a cues entry ({exc}); rerun `emollm data synth`") from None
    return cues


def cues_for(record: Record, cues: Mapping[str, Cues]) -> Cues:
    """The cues of one record (``cues`` from :func:`load_cues`); KeyError names the record."""
    try:
        return cues[record.id]
    except KeyError:
        raise KeyError(f"record {record.id!r} has no cues in {CUES_FILE}; was the folder written by synth?") from None


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


def _figure_mask(shape: str, radius: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of a hard-set shape of ``radius`` pixels at a random position."""
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = (int(v) for v in rng.integers(radius + 1, size - radius - 1, size=2))
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        return dy**2 + dx**2 <= radius**2
    if shape == "ring":
        return (dy**2 + dx**2 <= radius**2) & (dy**2 + dx**2 >= (radius * 0.55) ** 2)
    if shape == "square":
        return (abs(dy) <= radius * 0.8) & (abs(dx) <= radius * 0.8)
    if shape == "triangle":
        return (dy >= -radius) & (dy <= radius) & (abs(dx) <= (dy + radius) // 2)
    if shape == "bar":
        return (abs(dy) <= max(1, radius // 3)) & (abs(dx) <= radius)
    if shape == "cross":
        arm = max(1, radius // 4)
        return ((abs(dy) <= arm) & (abs(dx) <= radius)) | ((abs(dx) <= arm) & (abs(dy) <= radius))
    raise ValueError(f"unknown hard-set shape {shape!r}")


#: Hard-set noise: colour jitter of the background and per-pixel noise (standard deviations).
_HARD_JITTER, _HARD_NOISE = 18.0, 16.0


def _hard_canvas(cues: Cues, size: int, rng: np.random.Generator) -> np.ndarray:
    """The background of a hard sample with its distractor blob (3 to 5 px) somewhere on it."""
    colour = np.array(RGB[cues.colour], dtype=np.float32) + rng.normal(0, _HARD_JITTER, 3)
    pixels = np.broadcast_to(colour, (size, size, 3)).copy()
    if cues.distractor:
        side = int(rng.integers(3, 6))
        y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        pixels[y : y + side, x : x + side] = RGB[cues.distractor]
    return pixels


def _radius(cues: Cues, size: int) -> int:
    return max(3, size * (9 if cues.size == "large" else 5) // 32)


def make_hard_image(cues: Cues, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """``[size, size, 3]`` uint8 of hard cues: background, distractor, the figure, noise."""
    pixels = _hard_canvas(cues, size, rng)
    pixels[_figure_mask(cues.figure, _radius(cues, size), size, rng)] = RGB[cues.figure_colour]
    return np.clip(pixels + rng.normal(0, _HARD_NOISE, pixels.shape), 0, 255).astype(np.uint8)


def make_hard_clip(cues: Cues, rng: np.random.Generator, frames: int = 8, size: int = 32) -> np.ndarray:
    """``[frames, size, size, 3]`` uint8 of hard cues: a square of the figure's colour moving its way."""
    canvas = _hard_canvas(cues, size, rng)
    dx, dy = _MOTION_VECTOR[cues.figure]
    side = _radius(cues, size) + (3 if cues.size == "large" else 1)
    span = size - side
    x0 = int(rng.integers(0, span + 1)) if dx == 0 else (0 if dx > 0 else span)
    y0 = int(rng.integers(0, span + 1)) if dy == 0 else (0 if dy > 0 else span)
    step = span / max(1, frames - 1)
    clip = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        x, y = int(round(x0 + dx * step * t)), int(round(y0 + dy * step * t))
        frame = canvas.copy()
        frame[y : y + side, x : x + side] = RGB[cues.figure_colour]
        clip[t] = np.clip(frame + rng.normal(0, _HARD_NOISE, frame.shape), 0, 255).astype(np.uint8)
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
    difficulty: str = "easy",
) -> list[tuple[Record, Cues]]:
    """Write the media of ``count`` samples per task for one split; return their records and cues."""
    out = []
    for task in tasks:
        labels = SYNTH_LABELS[task]
        yesno = get_task(task).answer_kind == "yesno"
        for i in range(count):
            label = i % len(labels)
            # alternate, shifted every round of labels: each label gets both modalities
            modality = "image" if (i + i // len(labels)) % 2 == 0 else "video"
            rel = f"{MEDIA_DIR}/{SOURCE}/{split}/{task}/{i:05d}.{'png' if modality == 'image' else 'mp4'}"
            if difficulty == "hard":
                cues = hard_cues_for_label(task, modality, labels[label], rng)
                if modality == "image":
                    write_image(out_dir / rel, make_hard_image(cues, rng, size))
                else:
                    write_video(out_dir / rel, make_hard_clip(cues, rng, frames, size))
            else:
                if modality == "image":
                    write_image(out_dir / rel, make_image(label, rng, size))
                else:
                    write_video(out_dir / rel, make_clip(label, rng, frames, size))
                cues = easy_cues(task, label, modality, _text(rng) if yesno else None)
            options = [] if yesno else list(labels)
            shown = options if task != "emo_o" else []
            record = Record(
                id=f"{SOURCE}-{split}-{task}-{i:05d}",
                task=task,
                modality=modality,
                media=rel,
                question=build_question(task, modality, shown, cues.text),
                answer=labels[label],
                source=SOURCE,
                split=split,
                options=options,
                text=cues.text,
            )
            out.append((record, cues))
    return out


def synthesize(
    out_dir: str | Path,
    per_task: int = 40,
    test_per_task: int | None = None,
    seed: int = 0,
    frames: int = 8,
    size: int = 32,
    difficulty: str = "easy",
) -> Path:
    """Write a synthetic EmoBench into ``out_dir`` and return it.

    ``per_task`` train and ``test_per_task`` (default half of it) test records per sub-task,
    half images, half ``frames``-frame videos, all ``size`` pixels square; ``difficulty`` is
    ``easy`` or ``hard`` (see the module docstring). Every record's cues go to ``CUES_FILE``.
    """
    if per_task < 1:
        raise ValueError(f"per_task must be >= 1, got {per_task}")
    if size < 32 or size % 32:
        # decord 0.6 misreads H.264 frames of some tiny widths (16, 24, 48 px): keep to multiples of 32
        raise ValueError(f"size must be a multiple of 32 (32, 64, ...), got {size}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}")
    test_count = max(1, per_task // 2) if test_per_task is None else test_per_task
    out = Path(out_dir)
    media = out / MEDIA_DIR / SOURCE
    if media.is_symlink():
        media.unlink()
    elif media.exists():
        shutil.rmtree(media)
    rng = np.random.default_rng(seed)
    made = synth_records(out, "train", per_task, rng, frames, size, difficulty=difficulty)
    if test_count:
        made += synth_records(out, "test", test_count, rng, frames, size, difficulty=difficulty)
    write_records(out / RECORDS_DIR / f"{SOURCE}.jsonl", [record for record, _ in made])
    cues_path = out / CUES_FILE
    cues_path.parent.mkdir(parents=True, exist_ok=True)
    cues_path.write_text(
        "".join(json.dumps({"id": record.id, "cues": cues.to_dict()}) + "\n" for record, cues in made),
        encoding="utf-8",
    )
    write_views(out)
    return out
