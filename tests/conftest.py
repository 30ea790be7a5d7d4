"""Shared fixtures: a tiny offline LLaVA base and small colour-coded datasets, built once per session."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
    "DS_ACCELERATOR": "cpu",
}.items():
    os.environ.setdefault(_name, _value)

REPO = Path(__file__).resolve().parents[1]

#: Six labels with one colour each: learnable from the pixels by a tiny model.
COLOUR_LABELS = {
    "anger": (220, 20, 20),
    "disgust": (20, 160, 20),
    "fear": (30, 30, 200),
    "joy": (240, 220, 20),
    "sadness": (120, 120, 120),
    "surprise": (200, 20, 200),
}


@pytest.fixture(scope="session", autouse=True)
def frame_cache_dir(tmp_path_factory) -> Path:
    """The frame cache of every test and the processes it starts: a session folder, never ~/.cache."""
    folder = tmp_path_factory.mktemp("frame_cache")
    os.environ["EMOLLM_FRAME_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from emollm_plugin.tiny.llava import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_mpt(tmp_path_factory) -> Path:
    """A tiny MPT base with a GPT-NeoX fast tokenizer, in a folder whose path does not say "mpt"."""
    from emollm_plugin.tiny.llava import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_neox"), llm_type="mpt")


def write_colour_dataset(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` 32x32 noisy single-colour images and a LLaVA training JSON asking for the emotion."""
    import random

    from PIL import Image

    from emollm_plugin.emobench.tasks import build_question

    rng = random.Random(seed)
    labels = list(COLOUR_LABELS)
    question = build_question("emo_c", "image", labels)
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(count):
        label = labels[i % len(labels)]
        base = COLOUR_LABELS[label]
        image = Image.new("RGB", (32, 32))
        image.putdata([tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in base) for _ in range(32 * 32)])
        name = f"img_{i:04d}.png"
        image.save(folder / name)
        samples.append(
            {
                "id": f"colour-{i}",
                "image": name,
                "task": "emo_c",
                "options": labels,
                "conversations": [
                    {"from": "human", "value": "<image>\n" + question},
                    {"from": "gpt", "value": label},
                ],
            }
        )
    data = folder / "train.json"
    data.write_text(json.dumps(samples))
    return data


@pytest.fixture(scope="session")
def colour_data(tmp_path_factory) -> Path:
    return write_colour_dataset(tmp_path_factory.mktemp("colour_data"), 24)


def train_command(tiny: Path, data: Path, out: Path, *extra: str, steps: int = 3) -> list[str]:
    """The plugin's train entry with LLaVA flags sized for the tiny model on CPU (``extra`` wins)."""
    from emollm_plugin.llava_glue.launch import train_argv

    return train_argv(
        model=tiny / "llm", vision_tower=tiny / "vision", data_path=data, image_folder=data.parent, output_dir=out,
        projector=None, max_steps=steps, batch_size=4, learning_rate=3e-3, model_max_length=256, logging_steps=1,
        extra=extra,
    )


def run_ok(command: list[str], timeout: int = 600, cwd: Path | None = None, env: dict | None = None) -> str:
    """Run a command; fail the test with its output when it exits non-zero."""
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"command failed ({result.returncode}): {' '.join(command)}\n{output[-6000:]}")
    return output


@pytest.fixture(scope="session")
def trained(tiny_model, tmp_path_factory):
    """A briefly trained MVP checkpoint and the small synthetic EmoBench (images and videos) it saw."""
    from emollm_plugin.emobench.synth import synthesize

    base = tmp_path_factory.mktemp("trained")
    emobench = synthesize(base / "emobench", per_task=12, test_per_task=4, frames=4)
    out = base / "run"
    command = train_command(tiny_model, emobench / "llava" / "train.json", out, "--mm_projector_type", "mvp",
                            "--num_frames", "2", steps=12)
    command[command.index("--image_folder") + 1] = str(emobench)
    run_ok(command)
    return out, emobench
