"""MVP inside LLaVA: warm start from a LLaVA projector, and projector-only / LoRA / full round trips."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import emollm_plugin
from tests.conftest import run_ok, train_command


@pytest.fixture(scope="module")
def mlp2x_projector(tiny_model, colour_data, tmp_path_factory):
    """A LLaVA ``mlp2x_gelu`` projector from LLaVA's own projector-only pretraining."""
    out = tmp_path_factory.mktemp("pretrain_mlp2x")
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mlp2x_gelu",
                         "--tune_mm_mlp_adapter", "True", steps=2))
    assert (out / "mm_projector.bin").is_file()
    return out / "mm_projector.bin"


def build_llava(tiny_model, projector_type: str, adapter, **mvp_flags):
    """A LLaVA model set up by LLaVA's own initialize_vision_modules, as train() does."""
    emollm_plugin.register()
    from llava.model import LlavaLlamaForCausalLM

    from emollm_plugin.llava_glue.args import EmoModelArguments

    torch.manual_seed(0)
    model = LlavaLlamaForCausalLM.from_pretrained(tiny_model / "llm").eval()
    args = EmoModelArguments(
        model_name_or_path=str(tiny_model / "llm"), vision_tower=str(tiny_model / "vision"),
        mm_vision_select_layer=-2, mm_projector_type=projector_type, pretrain_mm_mlp_adapter=str(adapter),
        **mvp_flags,
    )
    model.get_model().initialize_vision_modules(model_args=args)
    model.get_vision_tower().to(torch.float32)
    return model


def test_mvp_warm_started_from_llava_projector_has_identical_logits(tiny_model, mlp2x_projector, colour_data):
    from emollm_plugin.mvp import MVPProjector

    reference = build_llava(tiny_model, "mlp2x_gelu", mlp2x_projector)
    mvp = build_llava(tiny_model, "mvp", mlp2x_projector, mvp_tau=0.2, mvp_global_pool="attention")
    assert isinstance(mvp.get_model().mm_projector, MVPProjector)
    processor = reference.get_vision_tower().image_processor
    image = processor.preprocess(Image.open(colour_data.parent / "img_0001.png"), return_tensors="pt")["pixel_values"]
    ids = torch.tensor([[1, 20, -200, 30, 40]])  # -200: LLaVA's image token
    with torch.no_grad():
        expected = reference(input_ids=ids, images=image).logits
        actual = mvp(input_ids=ids, images=image).logits
    assert expected.shape == actual.shape
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def _answer(runner, colour_data) -> str:
    image = Image.open(colour_data.parent / "img_0002.png")
    answers = runner.generate(["Identify the emotion."], [[image]], max_new_tokens=4)
    assert len(answers) == 1
    return answers[0]


def test_projector_only_pretraining_round_trip(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.inference import load_runner
    from emollm_plugin.mvp import MVPProjector

    out = tmp_path / "mvp_pretrain"
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mvp", "--mvp_tau", "0.4",
                         "--tune_mm_mlp_adapter", "True", steps=2))
    weights = torch.load(out / "mm_projector.bin", weights_only=True)
    assert any("gate" in key or "fuse" in key or "pool" in key for key in weights), sorted(weights)
    runner = load_runner(str(out), model_base=str(tiny_model / "llm"))
    projector = runner.model.get_model().mm_projector
    assert isinstance(projector, MVPProjector) and projector.mvp_config.tau == 0.4
    _answer(runner, colour_data)


def test_lora_round_trip_and_missing_weight_fails_loudly(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.inference import CheckpointError, load_runner
    from emollm_plugin.mvp import MVPProjector

    out = tmp_path / "mvp_lora"
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mvp",
                         "--lora_enable", "True", "--lora_r", "8", "--lora_alpha", "16", steps=2))
    assert (out / "non_lora_trainables.bin").is_file() and (out / "adapter_config.json").is_file()
    runner = load_runner(str(out), model_base=str(tiny_model / "llm"))
    assert isinstance(runner.model.get_model().mm_projector, MVPProjector)
    _answer(runner, colour_data)

    extras = torch.load(out / "non_lora_trainables.bin", weights_only=True)
    dropped = next(k for k in extras if "mm_projector" in k)
    del extras[dropped]
    torch.save(extras, out / "non_lora_trainables.bin")
    with pytest.raises(CheckpointError, match="lacks 1 projector weight"):
        load_runner(str(out), model_base=str(tiny_model / "llm"))


def test_full_finetune_round_trip_keeps_mvp_options(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.inference import load_runner
    from emollm_plugin.mvp import MVPProjector

    out = tmp_path / "mvp_full"
    run_ok(train_command(tiny_model, colour_data, out, "--mm_projector_type", "mvp",
                         "--mvp_perspectives", "local,relational", "--mvp_fusion", "sum", steps=2))
    config = json.loads((out / "config.json").read_text())
    assert config["mm_projector_type"] == "mvp"
    runner = load_runner(str(out))
    projector = runner.model.get_model().mm_projector
    assert isinstance(projector, MVPProjector)
    assert projector.mvp_config.perspectives == ("local", "relational")
    assert projector.mvp_config.fusion == "sum"
    _answer(runner, colour_data)


def test_invalid_mvp_flag_is_named(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.train import check_flags, parse_flags

    flags = parse_flags(["--model_name_or_path", str(tiny_model / "llm"), "--version", "emollm_v1",
                         "--mm_projector_type", "mvp", "--mvp_tau", "3", "--data_path", str(colour_data),
                         "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="--mvp_tau"):
        check_flags(*flags)


def test_continuing_from_an_mlp2x_checkpoint_upgrades_its_projector_to_mvp(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.inference import load_runner
    from emollm_plugin.mvp import MVPProjector

    llava = tmp_path / "llava15"
    run_ok(train_command(tiny_model, colour_data, llava, "--mm_projector_type", "mlp2x_gelu", steps=2))
    out = tmp_path / "emollm"
    command = train_command(tiny_model, colour_data, out, "--mm_projector_type", "mvp", steps=2)
    command[command.index("--model_name_or_path") + 1] = str(llava)
    run_ok(command)
    runner = load_runner(str(out))  # every MVP weight is in the checkpoint (verified on load)
    assert isinstance(runner.model.get_model().mm_projector, MVPProjector)
    old = load_runner(str(llava)).model.get_model().mm_projector
    new = runner.model.get_model().mm_projector
    assert not torch.equal(old[0].weight, new.linear_1.weight), "the warm-started trunk was trained"
    assert (old[0].weight - new.linear_1.weight).abs().max() < 0.1


def test_video_frames_that_fill_the_context_are_refused(tiny_model, colour_data, tmp_path):
    from emollm_plugin.llava_glue.train import check_flags, parse_flags

    def flags(data):
        return parse_flags(["--model_name_or_path", str(tiny_model / "llm"), "--vision_tower",
                            str(tiny_model / "vision"), "--version", "emollm_v1", "--data_path", str(data),
                            "--output_dir", str(tmp_path), "--num_frames", "8", "--model_max_length", "128"])

    check_flags(*flags(colour_data))  # images only: the frame count does not matter
    videos = tmp_path / "videos.json"
    turns = [{"from": "human", "value": "<image>\\nWhich emotion?"}, {"from": "gpt", "value": "joy"}]
    videos.write_text(json.dumps([{"id": "v", "video": "clip.mp4", "conversations": turns}]))
    with pytest.raises(ValueError, match=r"--num_frames 8 x 16 visual tokens per frame needs --model_max_length >= 160"):
        check_flags(*flags(videos))
