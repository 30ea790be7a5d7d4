"""The EmoPrompt templates tokenise and mask exactly like the LLaVA family they copy."""

from __future__ import annotations

import pytest

import emollm_plugin
from emollm_plugin.emoprompt.template import TEMPLATES

IGNORE_INDEX = -100
RATIONALE = "The face is red and the shape is sharp, which points to anger. Answer: anger"


def masked_targets(template: str, tokenizer, has_image: bool):
    from llava import conversation
    from llava.train import train as llava_train

    saved = conversation.default_conversation
    conversation.default_conversation = conversation.conv_templates[template]
    try:
        human = ("<image>\n" if has_image else "") + "Identify the only emotion depicted in the given image."
        sources = [[{"from": "human", "value": human}, {"from": "gpt", "value": RATIONALE},
                    {"from": "human", "value": "Why?"}, {"from": "gpt", "value": "Answer: joy"}]]
        out = llava_train.preprocess(sources, tokenizer, has_image=has_image)
    finally:
        conversation.default_conversation = saved
    return out["input_ids"][0], out["labels"][0]


@pytest.mark.parametrize("template", [spec.name for spec in TEMPLATES])
@pytest.mark.parametrize("has_image", [True, False])
def test_only_assistant_turns_are_learned(template, has_image, request, capsys):
    """Each template with its family's tokenizer, loaded as LLaVA's train() loads it.

    MPT's (a fast-only GPT-NeoX BPE) goes through ``preprocess_mpt``, whose upstream count
    masks every sample; the plugin's ``llava_preprocess_mpt_count`` patch replaces it.
    """
    emollm_plugin.register()
    from emollm_plugin.llava_glue.bases import TokenizerForAnyBase

    base = request.getfixturevalue("tiny_mpt" if template == "emollm_mpt" else "tiny_model")
    tokenizer = TokenizerForAnyBase.from_pretrained(str(base / "llm"), use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    _, labels = masked_targets(template, tokenizer, has_image)
    assert "tokenization mismatch" not in capsys.readouterr().out
    learned = labels[labels != IGNORE_INDEX]
    assert learned.numel() > 0, "every label is masked: LLaVA would learn nothing from this sample"
    text = tokenizer.decode(learned, skip_special_tokens=True)
    assert RATIONALE in text and "Answer: joy" in text
    assert "Identify" not in text and "Why?" not in text, "user turns must stay masked"


def test_unknown_version_is_rejected_by_train_entry(tiny_model, colour_data):
    from emollm_plugin.llava_glue.train import check_flags, parse_flags

    emollm_plugin.register()
    flags = parse_flags([
        "--model_name_or_path", str(tiny_model / "llm"), "--version", "emollm_v9",
        "--data_path", str(colour_data), "--output_dir", str(colour_data.parent / "never"),
    ])
    with pytest.raises(ValueError, match=r"--version 'emollm_v9'.*emollm_v1"):
        check_flags(*flags)


def test_mpt_learns_each_answer_with_its_closing_separator(tiny_mpt, capsys):
    """Exactly the answer tokens and the ``<|im_end|>`` after each (upstream's count was one short per turn)."""
    emollm_plugin.register()
    from emollm_plugin.llava_glue.bases import TokenizerForAnyBase

    tokenizer = TokenizerForAnyBase.from_pretrained(str(tiny_mpt / "llm"), use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    for has_image in (True, False):
        _, labels = masked_targets("emollm_mpt", tokenizer, has_image)
        expected = tokenizer(RATIONALE + "<|im_end|>").input_ids + tokenizer("Answer: joy<|im_end|>").input_ids
        assert labels[labels != IGNORE_INDEX].tolist() == expected
    assert "tokenization mismatch" not in capsys.readouterr().out


def test_the_families_are_listed_once_and_the_rest_derive_from_them():
    from emollm_plugin.emoprompt.template import DEFAULT_TEMPLATE_FOR_MODEL_TYPE, FAMILIES, family_of
    from emollm_plugin.tiny.llava import LLM_TYPES

    assert set(FAMILIES.values()) <= {spec.name for spec in TEMPLATES}
    assert tuple(FAMILIES) == LLM_TYPES  # every family has a tiny offline base
    assert DEFAULT_TEMPLATE_FOR_MODEL_TYPE["llava_mistral"] == FAMILIES["mistral"] == "emollm_mistral"
    assert family_of("llava_mpt") == "mpt"
    with pytest.raises(ValueError, match="'gpt2' is not supported; supported: llama, mistral, mpt"):
        family_of("gpt2")
