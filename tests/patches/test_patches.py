"""Each runtime patch fixes its upstream symptom, is idempotent and refuses untested versions."""

from __future__ import annotations

import pytest
import torch
from emollm_plugin.patches import PATCHES, _versions, apply_all

import emollm_plugin


def test_apply_all_is_idempotent():
    apply_all()
    assert not any(apply_all().values()), "a second apply_all() must change nothing"
    assert set(apply_all()) == set(PATCHES)


def test_llava_forward_accepts_generate_kwargs():
    emollm_plugin.register()
    from llava.model import LlavaLlamaForCausalLM
    from transformers import LlamaConfig

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)
    model = LlavaLlamaForCausalLM(config).eval()
    ids = torch.tensor([[1, 5, 6, 7]])
    out = model(input_ids=ids, cache_position=torch.arange(4), logits_to_keep=0)
    assert out.logits.shape == (1, 4, 64)
    generated = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert generated.shape[1] == 3  # inputs_embeds path: only new tokens come back


def test_llava_mpt_forward_and_generate_use_the_current_llava_signature():
    emollm_plugin.register()
    from llava.model import LlavaMptForCausalLM
    from llava.model.language_model.llava_mpt import LlavaMptConfig

    config = LlavaMptConfig(vocab_size=64, d_model=16, n_heads=2, n_layers=1, max_seq_len=64)
    model = LlavaMptForCausalLM(config).eval()
    ids = torch.tensor([[1, 5, 6, 7]])
    # upstream: "prepare_inputs_labels_for_multimodal() missing 1 required positional argument: 'images'"
    out = model(input_ids=ids, labels=ids, cache_position=torch.arange(4))
    assert out.logits.shape == (1, 4, 64) and out.loss is not None
    generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=3, do_sample=False)
    assert generated.shape == (1, 3)  # from embeddings, like LLaVA's Llama class: only new tokens
    with pytest.raises(ValueError, match="not inputs_embeds"):
        model.generate(ids, inputs_embeds=torch.zeros(1, 4, 16))


def test_mpt_attention_config_takes_llava_item_assignment():
    apply_all()
    from transformers import MptConfig

    config = MptConfig(d_model=8, n_heads=2, n_layers=1)
    config.attn_config["attn_impl"] = "triton"  # what LLaVA's train() does for paths containing "mpt"
    assert config.attn_config.attn_impl == "triton" and config.attn_config["attn_impl"] == "triton"
    with pytest.raises(KeyError):
        config.attn_config["no_such_option"]


def test_llava_preprocess_mpt_learns_each_answer_and_its_end_token(tiny_mpt):
    """Upstream counts one token short per round and masks every MPT sample; LLaVA's own entry must learn answers."""
    emollm_plugin.register()
    from llava import conversation
    from llava.train import train as llava_train
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_mpt / "llm")
    conversation.default_conversation = conversation.conv_templates["emollm_mpt"]
    source = [{"from": "human", "value": "Which emotion?"}, {"from": "gpt", "value": "Answer: joy"},
              {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Answer: joy"}]
    out = llava_train.preprocess_mpt([source], tokenizer, has_image=False)
    ids, labels = out["input_ids"][0], out["labels"][0]
    learned = tokenizer.decode(ids[labels != -100])
    assert learned.count("Answer: joy") == 2 and learned.count("<|im_end|>") == 2
    assert "Which emotion?" not in learned and "system" not in learned


def test_llava_trainer_saves_a_checkpoint_with_its_metrics_argument(tmp_path):
    """LLaVA's trainer passes ``metrics`` to ``Trainer._save_checkpoint`` (removed in transformers 4.46)."""
    emollm_plugin.register()
    from llava.train.llava_trainer import LLaVATrainer
    from llava.train.train import TrainingArguments
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], save_safetensors=True)
    trainer = LLaVATrainer(model=model, args=args)
    trainer.create_optimizer_and_scheduler(num_training_steps=3)
    trainer.state.global_step = 3
    trainer._save_checkpoint(model, trial=None, metrics=None)  # upstream: TypeError (4 positional arguments)
    assert (tmp_path / "checkpoint-3" / "model.safetensors").is_file()


def test_untested_version_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(_versions.OVERRIDE_ENV, raising=False)
    with pytest.raises(_versions.UntestedVersionError, match=r"transformers.*constraints.txt"):
        _versions.check_versions("demo_patch", {"transformers": "<1"})
    monkeypatch.setenv(_versions.OVERRIDE_ENV, "1")
    _versions.check_versions("demo_patch", {"transformers": "<1"})


def test_missing_package_is_named():
    with pytest.raises(_versions.UntestedVersionError, match="not-a-real-package"):
        _versions.check_versions("demo_patch", {"not-a-real-package": ">=1"})
