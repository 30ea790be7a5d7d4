"""LLaVA's real train() through the plugin's entry, then LLaVA's loader and generate()."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.conftest import run_ok, train_command


def test_mlp2x_full_finetune_reload_and_generate(tiny_model, colour_data, tmp_path):
    out = tmp_path / "run"
    log = run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mlp2x_gelu", steps=3))
    assert "'train_loss'" in log
    config = json.loads((out / "config.json").read_text())
    assert config["mm_projector_type"] == "mlp2x_gelu"
    assert config["mm_vision_tower"] == str(tiny_model / "vision"), "vision tower path must be absolute"
    assert config["emollm_version"] == "emollm_v1"

    from emollm_plugin.llava_glue.inference import load_runner

    runner = load_runner(str(out))
    assert runner.conv_mode == "emollm_v1"
    image = Image.open(colour_data.parent / "img_0000.png")
    answers = runner.generate(["Identify the emotion."], [[image]], max_new_tokens=4)
    assert len(answers) == 1 and isinstance(answers[0], str)
    score, _ = runner.loglikelihood("Identify the emotion.", [image], "anger")
    assert score < 0


def test_relative_vision_tower_is_made_absolute(tiny_model, monkeypatch):
    from emollm_plugin.llava_glue.train import absolutise_flag

    monkeypatch.chdir(tiny_model)
    vision = str((tiny_model / "vision").resolve())
    assert absolutise_flag(["--vision_tower", "vision", "--x", "y"], "--vision_tower") == ["--vision_tower", vision, "--x", "y"]
    assert absolutise_flag(["--vision_tower=vision"], "--vision_tower") == [f"--vision_tower={vision}"]
    hub_name = ["--vision_tower", "openai/clip-vit-large-patch14-336"]
    assert absolutise_flag(hub_name, "--vision_tower") == hub_name


def test_missing_data_file_is_named(tiny_model, tmp_path):
    from emollm_plugin.llava_glue.train import check_flags, parse_flags

    flags = parse_flags(["--model_name_or_path", str(tiny_model / "llm"), "--version", "emollm_v1",
                         "--data_path", str(tmp_path / "nope.json"), "--output_dir", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="nope.json"):
        check_flags(*flags)
