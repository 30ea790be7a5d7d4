"""emollm_plugin.register(): idempotent; afterwards LLaVA knows MVP, the EmoPrompt templates and config-driven bases."""

from __future__ import annotations

import emollm_plugin
from emollm_plugin.emoprompt.template import TEMPLATES


def test_register_twice_changes_nothing_the_second_time():
    emollm_plugin.register()
    from llava.model import llava_arch
    from llava.model.multimodal_projector import builder

    first = (builder.build_vision_projector, llava_arch.build_vision_projector)
    emollm_plugin._registered = False  # force the full path again
    emollm_plugin.register()
    assert (builder.build_vision_projector, llava_arch.build_vision_projector) == first


def test_templates_registered_with_llava_masking_family():
    emollm_plugin.register()
    from llava.conversation import SeparatorStyle, conv_templates

    for spec in TEMPLATES:
        conv = conv_templates[spec.name]
        base = conv_templates[spec.base]
        assert conv.system == spec.system
        assert conv.sep_style == base.sep_style
        assert conv.sep == base.sep and conv.sep2 == base.sep2
    assert conv_templates["emollm_v1"].version.startswith("v1")
    assert conv_templates["emollm_v1"].sep_style == SeparatorStyle.TWO
    assert conv_templates["emollm_mpt"].version == "mpt"


def test_mvp_builds_through_llava_builder_names():
    emollm_plugin.register()
    from llava.model import llava_arch
    from llava.model.multimodal_projector import builder
    from transformers import PretrainedConfig

    from emollm_plugin.mvp import MVPConfig, MVPProjector

    config = PretrainedConfig(mm_projector_type="mvp", mm_hidden_size=16, hidden_size=24)
    MVPConfig(tau=0.3).write_to_model_config(config)
    for build in (builder.build_vision_projector, llava_arch.build_vision_projector):
        projector = build(config)
        assert isinstance(projector, MVPProjector)
        assert projector.mvp_config.tau == 0.3
    plain = builder.build_vision_projector(PretrainedConfig(mm_projector_type="mlp2x_gelu", mm_hidden_size=16, hidden_size=24))
    assert not isinstance(plain, MVPProjector)


def test_llava_training_and_loading_pick_classes_and_tokenizers_by_config(tiny_mpt):
    """LLaVA hard-codes LlavaLlama and a slow tokenizer; after register() its own names follow the base's config."""
    emollm_plugin.register()
    from llava.model import builder
    from llava.model.language_model.llava_mpt import LlavaMptForCausalLM
    from llava.train import train as llava_train

    llm = tiny_mpt / "llm"  # an MPT base whose folder name does not say "mpt"
    model = llava_train.LlavaLlamaForCausalLM.from_pretrained(llm)
    assert isinstance(model, LlavaMptForCausalLM)
    # llava-torch asks for use_fast=False; GPT-NeoX has no slow tokenizer, so upstream fails here
    tokenizer = builder.AutoTokenizer.from_pretrained(llm, use_fast=False)
    assert tokenizer("Answer: joy").input_ids
