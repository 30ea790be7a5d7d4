"""MVP swapped into transformers-native LLaVA / LLaVA-NeXT models built tiny and offline."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from torch import nn
from transformers import (
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
)
from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

from emollm_plugin.hf_glue.mvp import load_mvp_model, swap_in_mvp
from emollm_plugin.mvp import MVPConfig, MVPProjector

IMAGE_TOKEN = 120
NEXT_PINPOINTS = [[32, 64], [64, 32]]


def _towers() -> tuple[CLIPVisionConfig, LlamaConfig]:
    vision = CLIPVisionConfig(
        hidden_size=24,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    text = LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        vocab_size=128, max_position_embeddings=256,
    )  # fmt: skip
    return vision, text


def tiny_llava(**overrides) -> LlavaForConditionalGeneration:
    vision, text = _towers()
    torch.manual_seed(0)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN, **overrides)
    return LlavaForConditionalGeneration(config).eval()


def tiny_llava_next() -> LlavaNextForConditionalGeneration:
    vision, text = _towers()
    torch.manual_seed(0)
    config = LlavaNextConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=IMAGE_TOKEN,
        image_grid_pinpoints=NEXT_PINPOINTS,
    )
    return LlavaNextForConditionalGeneration(config).eval()


def llava_inputs(batch: int = 2) -> dict[str, torch.Tensor]:
    """Two prompts with 16 image tokens each (32 px, patch 8, CLS dropped)."""
    generator = torch.Generator().manual_seed(1)
    text = torch.randint(1, 100, (batch, 6), generator=generator)
    ids = torch.cat([text[:, :2], torch.full((batch, 16), IMAGE_TOKEN), text[:, 2:]], dim=1)
    return {"input_ids": ids, "pixel_values": torch.randn(batch, 3, 32, 32, generator=generator)}


def llava_next_inputs(model: LlavaNextForConditionalGeneration) -> dict[str, torch.Tensor]:
    """One 32x64 image: a base view plus two crops, unpadded and packed by the model itself."""
    generator = torch.Generator().manual_seed(2)
    sizes = torch.tensor([[32, 64]])
    crops = image_size_to_num_patches(image_size=(32, 64), grid_pinpoints=NEXT_PINPOINTS, patch_size=32)
    pixels = torch.randn(1, crops, 3, 32, 32, generator=generator)
    with torch.no_grad():
        features = model.get_image_features(
            pixels, sizes, vision_feature_layer=-2, vision_feature_select_strategy="default"
        )
        packed, _ = model.pack_image_features(features, sizes, "default", image_newline=model.image_newline)
    ids = torch.tensor([[3, 5] + [IMAGE_TOKEN] * packed.shape[0] + [7, 9]])
    return {"input_ids": ids, "pixel_values": pixels, "image_sizes": sizes}


def logits(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


def test_llava_swap_keeps_step0_logits_and_writes_config():
    model = tiny_llava()
    inputs = llava_inputs()
    before = logits(model, inputs)
    returned = swap_in_mvp(model, tau=0.25, global_pool="attention")
    assert returned is model and isinstance(model.multi_modal_projector, MVPProjector)
    assert torch.equal(logits(model, inputs), before)
    assert MVPConfig.from_model_config(model.config) == MVPConfig(tau=0.25, global_pool="attention")
    assert model.config.to_dict()["mvp_perspectives"] == "local,relational,global"


def test_bias_free_projector_swaps_exactly():
    model = tiny_llava(multimodal_projector_bias=False)
    inputs = llava_inputs(batch=1)
    before = logits(model, inputs)
    swap_in_mvp(model)
    assert model.multi_modal_projector.linear_1.bias is None
    assert torch.equal(logits(model, inputs), before)


def test_pickle_free_reload_of_bin_checkpoints(tmp_path):
    """``safe_serialization=False`` checkpoints load through ``torch.load(weights_only=True)``."""
    model = swap_in_mvp(tiny_llava(), tau=0.0)
    with torch.no_grad():
        for name, param in model.multi_modal_projector.named_parameters():
            if name.startswith("gate"):
                param.normal_()
    inputs = llava_inputs(batch=1)
    expected = logits(model, inputs)
    model.save_pretrained(tmp_path, safe_serialization=False)
    assert (tmp_path / "pytorch_model.bin").exists()
    assert torch.equal(
        logits(load_mvp_model(LlavaForConditionalGeneration, tmp_path).eval(), inputs), expected
    )


def test_llava_next_swap_keeps_step0_logits():
    model = tiny_llava_next()
    inputs = llava_next_inputs(model)
    before = logits(model, inputs)
    swap_in_mvp(model, MVPConfig(tau=0.0))
    assert isinstance(model.multi_modal_projector, MVPProjector)
    assert torch.equal(logits(model, inputs), before)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_training_moves_the_gate_and_the_checkpoint_round_trips(tmp_path):
    model = swap_in_mvp(tiny_llava(), perspectives="local,relational,global", tau=0.0)
    projector = model.multi_modal_projector
    gate_before = projector.gate_weight.detach().clone()
    inputs = llava_inputs()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(**inputs, labels=inputs["input_ids"]).loss.backward()
        optimizer.step()
    model.eval()
    assert projector.gate_scale.abs().sum() > 0  # gamma opens at step 1
    assert not torch.equal(projector.gate_weight, gate_before)  # the gate itself learns from step 2
    trained = logits(model, inputs)

    model.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["mvp_tau"] == 0.0 and stored["mvp_fusion"] == "gate"

    records = _Records()
    hf_logger = logging.getLogger("transformers.modeling_utils")
    hf_logger.addHandler(records)
    try:
        reloaded = load_mvp_model(LlavaForConditionalGeneration, tmp_path).eval()
        quiet = list(records.messages)
        plain = LlavaForConditionalGeneration.from_pretrained(tmp_path).eval()
    finally:
        hf_logger.removeHandler(records)
    assert isinstance(reloaded.multi_modal_projector, MVPProjector)
    assert torch.equal(logits(reloaded, inputs), trained)
    # Without MVP the same checkpoint gives other outputs, and transformers says weights were dropped.
    assert not isinstance(plain.multi_modal_projector, MVPProjector)
    assert not torch.allclose(logits(plain, inputs), trained, atol=1e-4)
    assert not any("were not used" in message for message in quiet)
    assert any("were not used" in message and "gate_scale" in message for message in records.messages)


def test_load_mvp_model_refuses_a_plain_checkpoint(tmp_path):
    tiny_llava().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"no mvp_\* options.*swap_in_mvp"):
        load_mvp_model(LlavaForConditionalGeneration, tmp_path)


def test_swap_errors_are_explicit():
    with pytest.raises(ValueError, match=r"projector_hidden_act is 'gelu_pytorch_tanh'"):
        swap_in_mvp(tiny_llava(projector_hidden_act="gelu_pytorch_tanh"))
    with pytest.raises(ValueError, match=r"--mvp_global_tokens=2 is not supported"):
        swap_in_mvp(tiny_llava(), global_tokens=2)
    with pytest.raises(TypeError, match=r"supports LlavaForConditionalGeneration"):
        swap_in_mvp(nn.Linear(2, 2))
    model = swap_in_mvp(tiny_llava())
    with pytest.raises(ValueError, match="already has an MVP projector"):
        swap_in_mvp(model)
    with pytest.raises(TypeError, match="either mvp_config or flags"):
        swap_in_mvp(tiny_llava(), MVPConfig(), tau=0.1)
    with pytest.raises(ValueError, match=r"--mvp_tau must be in \[-1, 1\]"):
        swap_in_mvp(tiny_llava(), mvp_tau=2)
