"""scripts/merge_lora.py: a LoRA MVP run merged into a full checkpoint behaves exactly like LoRA + base."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from tests.conftest import REPO, run_ok, train_command

SCRIPT = REPO / "scripts" / "merge_lora.py"


def load_script():
    spec = importlib.util.spec_from_file_location("merge_lora_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lora_run(tiny_model, colour_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora_mvp")
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mvp", "--mvp_tau", "0.3",
                         "--mvp_global_pool", "attention", "--lora_enable", "True", "--lora_r", "8",
                         "--lora_alpha", "16", steps=2))
    return out


def test_merged_checkpoint_loads_alone_and_answers_like_lora_plus_base(tiny_model, colour_data, lora_run, tmp_path):
    from emollm_plugin.llava_glue.inference import load_runner
    from emollm_plugin.mvp import MVPProjector

    merged = tmp_path / "merged"
    log = run_ok([sys.executable, str(SCRIPT), "--lora", str(lora_run), "--base", str(tiny_model / "llm"),
                  "--out", str(merged)])
    assert "(projector mvp)" in log
    config = json.loads((merged / "config.json").read_text())
    assert config["mm_projector_type"] == "mvp" and config["mvp_tau"] == 0.3
    assert config["tokenizer_padding_side"] == "right"  # as trained, not the runner's left padding
    assert not (merged / "adapter_config.json").exists() and (merged / "tokenizer.model").is_file()
    assert not list(tmp_path.glob(".*partial"))

    with_base = load_runner(str(lora_run), model_base=str(tiny_model / "llm"))
    alone = load_runner(str(merged))
    projector = alone.model.get_model().mm_projector
    assert isinstance(projector, MVPProjector)
    assert projector.mvp_config.tau == 0.3 and projector.mvp_config.global_pool == "attention"

    expected, actual = with_base.model.state_dict(), alone.model.state_dict()
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        assert torch.equal(actual[name], value), name
    # The adapters did change the LLM: the merge is not just the base model saved again.
    base_weights = load_file(str(tiny_model / "llm" / "model.safetensors"))
    name = "model.layers.0.self_attn.q_proj.weight"
    delta = actual[name] - base_weights[name].half().float()
    assert delta.abs().max() > 1e-4

    image = Image.open(colour_data.parent / "img_0003.png")
    prompts = ["Identify the emotion.", "Which emotion does the image show?"]
    media = [[image], [image]]
    assert alone.generate(prompts, media, max_new_tokens=6) == with_base.generate(prompts, media, max_new_tokens=6)


def test_refuses_what_it_cannot_merge(tiny_model, lora_run, tmp_path, capsys):
    script = load_script()
    full = tmp_path / "full"
    full.mkdir()
    (full / "config.json").write_text("{}")
    save_file({"lm_head.weight": torch.zeros(2, 2)}, str(full / "model.safetensors"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    base = str(tiny_model / "llm")

    assert script.main(["--lora", str(full), "--base", base, "--out", str(tmp_path / "a")]) == 1
    assert "not LoRA adapters" in capsys.readouterr().err
    (full / "model.safetensors").write_bytes(b"")  # a truncated download is named as such, not merged
    assert script.main(["--lora", str(full), "--base", base, "--out", str(tmp_path / "a")]) == 1
    assert "model.safetensors is truncated or corrupt" in capsys.readouterr().err
    assert script.main(["--lora", str(lora_run), "--base", base, "--out", str(lora_run)]) == 1
    assert "is the LoRA folder itself" in capsys.readouterr().err
    assert script.main(["--lora", str(lora_run), "--base", base, "--out", str(busy)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert script.main(["--lora", str(tmp_path / "missing"), "--base", base, "--out", str(tmp_path / "b")]) == 1
    assert "no config.json" in capsys.readouterr().err
    assert (busy / "keep.txt").is_file() and not (tmp_path / "a").exists()


def test_option_drift_names_each_changed_projector_option():
    script = load_script()
    source = {"mm_projector_type": "mvp", "mvp_tau": 0.3, "emollm_version": "emollm_v1", "torch_dtype": "float32"}
    assert script.option_drift(source, {**source, "torch_dtype": "float16"}) == []
    drift = script.option_drift(source, {**source, "mvp_tau": 0.5, "emollm_version": None})
    assert drift == ["emollm_version: 'emollm_v1' -> None", "mvp_tau: 0.3 -> 0.5"]
    assert script.option_drift(source, {"mm_projector_type": "mvp"})[0].endswith("-> '<missing>'")
