"""emollm tiny-model: an offline LLaVA base that LLaVA's loaders accept."""

from __future__ import annotations

import json

from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, build_question
from emollm_plugin.tiny.llava import build_tiny_model


def test_tiny_model_layout_and_reuse(tiny_model):
    assert (tiny_model / "llm" / "tokenizer.model").is_file()
    assert (tiny_model / "llm" / "model.safetensors").is_file()
    assert (tiny_model / "vision" / "preprocessor_config.json").is_file()
    stamp = (tiny_model / "llm" / "model.safetensors").stat().st_mtime_ns
    build_tiny_model(tiny_model)  # same options: reused, not rebuilt
    assert (tiny_model / "llm" / "model.safetensors").stat().st_mtime_ns == stamp


def test_tokenizer_is_legacy_and_covers_every_label(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model / "llm", use_fast=False)
    assert type(tokenizer).__name__ == "LlamaTokenizer"
    assert json.loads((tiny_model / "llm" / "tokenizer_config.json").read_text())["legacy"] is True
    unk = tokenizer.unk_token_id
    texts = [", ".join(labels) for labels in LABEL_SETS.values()]
    texts += [build_question(task, "video", LABEL_SETS["ekman7"], text="a caption") for task in TASKS]
    texts.append("[anger, joy] Answer: joy")
    for text in texts:
        assert unk not in tokenizer(text)["input_ids"], f"<unk> in {text!r}"


def test_vision_tower_loads_as_llava_clip_tower(tiny_model):
    from llava.model.multimodal_encoder.builder import build_vision_tower
    from transformers import PretrainedConfig

    config = PretrainedConfig(mm_vision_tower=str(tiny_model / "vision"), mm_vision_select_layer=-2)
    tower = build_vision_tower(config)
    assert tower.num_patches == 16
    assert tower.image_processor.crop_size == {"height": 32, "width": 32}
