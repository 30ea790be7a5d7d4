"""Training and evaluation see the same pixels: the LLaVA dataset and the runner share prepare_pixels.

A checkpoint trained with ``--image_aspect_ratio pad`` stores it in its config; the runner (behind
the lmms-eval model, ``emollm serve`` and the local teacher) must pad non-square images and video
frames exactly as the training dataset did, not let the image processor centre-crop them.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from PIL import Image

import emollm_plugin
from tests.conftest import run_ok, train_command


def noise_image(path, width: int, height: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(width * height)])
    image.save(path)
    return image


def write_wide_video(path, frames: int = 5, width: int = 64, height: int = 32) -> None:
    """A 2:1 H.264 clip (decord wants widths in multiples of 32)."""
    import av
    import numpy as np

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            array = np.zeros((height, width, 3), dtype=np.uint8)
            array[:, : width // 2] = (200, 30 * i, 20)
            array[:, width // 2 :] = (20, 40, 220)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def padded_run(tiny_model, colour_data, tmp_path_factory):
    """A one-step checkpoint trained with LLaVA-1.5's ``--image_aspect_ratio pad``."""
    out = tmp_path_factory.mktemp("padded") / "run"
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mlp2x_gelu",
                         "--image_aspect_ratio", "pad", steps=1))
    return out


def dataset_for(runner, data_path, folder, aspect_ratio: str, tokenizer=None):
    """The training dataset over ``data_path`` with the runner's image processor and this aspect ratio."""
    from emollm_plugin.llava_glue.args import EmoDataArguments
    from emollm_plugin.llava_glue.dataset import EmoLLMSupervisedDataset

    args = EmoDataArguments(data_path=str(data_path), image_folder=str(folder), is_multimodal=True,
                            num_frames=runner.num_frames, image_aspect_ratio=aspect_ratio)
    args.image_processor = runner.image_processor
    args.mm_use_im_start_end = False  # set by LLaVA's train() from the model flags
    return EmoLLMSupervisedDataset(str(data_path), tokenizer or runner.tokenizer, args)


@pytest.mark.parametrize("which", ["pad", "square"])
def test_runner_pixels_equal_training_pixels_for_non_square_media(which, padded_run, trained, tmp_path):
    emollm_plugin.register()
    from emollm_plugin.emobench.media import load_frames, load_image
    from emollm_plugin.llava_glue.inference import load_runner

    checkpoint = padded_run if which == "pad" else trained[0]
    config = json.loads((checkpoint / "config.json").read_text())
    assert config.get("image_aspect_ratio", "square") == which  # what training stored
    runner = load_runner(str(checkpoint), num_frames=3)
    assert runner.image_aspect_ratio == config.get("image_aspect_ratio")

    noise_image(tmp_path / "wide.png", 48, 20, seed=1)
    noise_image(tmp_path / "tall.png", 18, 40, seed=2)
    write_wide_video(tmp_path / "wide.mp4")
    write_wide_video(tmp_path / "still.mp4", frames=1)  # a one-frame clip stays a video: [1, 3, H, W]
    samples = [{"id": name, key: name, "conversations": [{"from": "human", "value": "<image>\nQ?"},
                                                         {"from": "gpt", "value": "joy"}]}
               for key, name in (("image", "wide.png"), ("image", "tall.png"), ("video", "wide.mp4"),
                                 ("video", "still.mp4"))]
    data = tmp_path / "train.json"
    data.write_text(json.dumps(samples))
    dataset = dataset_for(runner, data, tmp_path, which)

    for index, sample in enumerate(samples):
        path = tmp_path / sample.get("image", sample.get("video"))
        media = [load_image(path)] if "image" in sample else load_frames(path, num_frames=3)
        trained_pixels = dataset.load_media(sample)
        evaluated = runner.pixels(media)
        assert evaluated.shape == trained_pixels.shape, sample["id"]
        assert torch.equal(evaluated, trained_pixels), f"{sample['id']}: evaluation pixels differ from training"
        assert dataset[index]["image"].shape == trained_pixels.shape
        assert trained_pixels.ndim == (4 if "video" in sample else 3), sample["id"]

    # The check can fail: padding and centre-cropping give different pixels for these images.
    other = dataset_for(runner, data, tmp_path, "square" if which == "pad" else "pad")
    assert not torch.equal(other.load_media(samples[0]), dataset.load_media(samples[0]))


def test_a_tiling_aspect_ratio_is_refused_before_training(tiny_model, colour_data, tmp_path):
    import subprocess

    command = train_command(tiny_model, colour_data, tmp_path / "run", "--image_aspect_ratio", "anyres")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "emollm train: error: image_aspect_ratio 'anyres' is not supported" in result.stderr
    assert "Traceback" not in result.stderr
