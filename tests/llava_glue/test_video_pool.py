"""``--mm_video_pool``: pooled video frames fit the context and train; images keep every token."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from tests.conftest import run_ok, train_command


def test_pool_frame_tokens_averages_blocks_and_keeps_extra_tokens():
    from emollm_plugin.llava_glue.register import pool_frame_tokens, pooled_tokens_per_frame

    grid = torch.arange(2 * 16 * 3, dtype=torch.float32).reshape(2, 16, 3)
    extra = torch.full((2, 1, 3), -1.0)
    pooled = pool_frame_tokens(torch.cat([grid, extra], dim=1), grid_tokens=16, pool=2)
    assert pooled.shape == (2, 4 + 1, 3)
    square = grid.reshape(2, 4, 4, 3)
    torch.testing.assert_close(pooled[:, 0], square[:, :2, :2].mean(dim=(1, 2)))
    torch.testing.assert_close(pooled[:, 3], square[:, 2:, 2:].mean(dim=(1, 2)))
    torch.testing.assert_close(pooled[:, 4], extra[:, 0])
    assert pool_frame_tokens(torch.ones(1, 9, 2), grid_tokens=9, pool=2).shape == (1, 4, 2)  # ragged edge
    assert [pooled_tokens_per_frame(576, p) for p in (1, 2, 3)] == [576, 144, 64]
    with pytest.raises(ValueError, match="square"):
        pooled_tokens_per_frame(20, 2)


def flags(tiny_model, data, out, *extra):
    from emollm_plugin.llava_glue.train import parse_flags

    command = train_command(tiny_model, data, out, *extra)
    return parse_flags(command[command.index("-m") + 2:])


def test_sixteen_pooled_frames_fit_and_train_where_unpooled_are_refused(tiny_model, tmp_path):
    from emollm_plugin.emobench.synth import synthesize
    from emollm_plugin.llava_glue.train import check_flags

    emobench = synthesize(tmp_path / "emobench", per_task=2, test_per_task=1, frames=16)
    data = emobench / "llava" / "train.json"
    common = ("--num_frames", "16", "--mm_projector_type", "mvp", "--model_max_length", "200")
    # Tiny tower: 4 x 4 = 16 tokens per frame; 16 frames need 256 + 32, pooled 2x2 only 64 + 32.
    with pytest.raises(ValueError, match=r"16 x 16 visual tokens .* --mm_video_pool 2"):
        check_flags(*flags(tiny_model, data, tmp_path / "refused", *common))
    check_flags(*flags(tiny_model, data, tmp_path / "fits", *common, "--mm_video_pool", "2"))

    out = tmp_path / "run"
    command = train_command(tiny_model, data, out, *common, "--mm_video_pool", "2", steps=3)
    command[command.index("--image_folder") + 1] = str(emobench)
    log = run_ok(command)
    assert "'train_loss'" in log and "skipping sample" not in log
    assert json.loads((out / "config.json").read_text())["mm_video_pool"] == 2

    # Evaluation follows the checkpoint: a 16-frame video becomes 16 x 4 visual tokens, an image 16.
    from emollm_plugin.llava_glue.inference import load_runner

    runner = load_runner(str(out), num_frames=16)
    video = next((emobench / "media").rglob("*.mp4"))
    from emollm_plugin.emobench.media import load_frames

    frames = load_frames(video, num_frames=16)
    image = Image.new("RGB", (32, 32), (200, 30, 30))

    def sequence_length(media) -> tuple[int, int]:
        prompt = runner._encode(runner.build_prompt("Which emotion?", True))
        embeds = runner.model.prepare_inputs_labels_for_multimodal(
            prompt[None], None, torch.ones_like(prompt)[None], None, None, [runner.pixels(media)]
        )[4]
        return embeds.shape[1], len(prompt) - 1  # the <image> placeholder is replaced

    total, text = sequence_length(frames)
    assert total - text == 16 * 4
    total, text = sequence_length([image])
    assert total - text == 16
    runner.model.config.mm_video_pool = 1  # unpooled, the same video overflows the 200-token context
    total, text = sequence_length(frames)
    assert total == 200 < text + 16 * 16
    assert len(runner.generate(["Which emotion?"], [frames], max_new_tokens=3)) == 1
