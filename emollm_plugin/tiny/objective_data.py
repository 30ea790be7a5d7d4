"""A synthetic *objective* instruction set: the first stage of the sequential recipe, offline.

The paper's best results came from training on objective instruction data first (for LLaVA-1.5,
its 665k mix), then on emotional data. The demo and the CI need a stand-in that needs no
download: images of one coloured shape with questions about the colour and the shape, in
LLaVA's conversation format. Real runs pass LLaVA's mix instead (``--objective-data``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30), "green": (30, 170, 40), "blue": (40, 60, 220), "yellow": (235, 215, 30),
    "purple": (140, 40, 180), "orange": (240, 140, 20), "white": (245, 245, 245), "black": (15, 15, 15),
}
SHAPES = ("circle", "square", "triangle")
QUESTIONS = {
    "colour": "What colour is the shape in the image? Answer with one word.",
    "shape": "Which shape is in the image: a circle, a square or a triangle? Answer with one word.",
}


def draw_shape(shape: str, colour: tuple[int, int, int], size: int, rng: random.Random) -> Image.Image:
    background = tuple(rng.randint(90, 160) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    margin = rng.randint(2, size // 6)
    box = (margin, margin, size - margin, size - margin)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(size // 2, margin), (margin, size - margin), (size - margin, size - margin)], fill=colour)
    return image


def write_objective_data(out_dir: str | Path, count: int = 120, size: int = 32, seed: int = 0) -> Path:
    """Write ``count`` images and ``llava.json`` (one colour and one shape question each); return the JSON."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = list(COLOURS)
    samples = []
    for i in range(count):
        colour, shape = names[i % len(names)], SHAPES[(i // len(names)) % len(SHAPES)]
        path = f"images/{i:05d}.png"
        draw_shape(shape, COLOURS[colour], size, rng).save(out_dir / path)
        kind = "colour" if i % 2 == 0 else "shape"
        samples.append({
            "id": f"objective-{i:05d}",
            "image": path,
            "conversations": [
                {"from": "human", "value": "<image>\n" + QUESTIONS[kind]},
                {"from": "gpt", "value": colour if kind == "colour" else shape},
            ],
        })
    data = out_dir / "llava.json"
    data.write_text(json.dumps(samples, indent=0))
    return data
