"""Foundation models: the LLaVA class and tokenizer come from the base's config, not from its path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

from emollm_plugin.llava_glue.bases import TokenizerForAnyBase, UnsupportedBaseModel, llava_class_for
from tests.conftest import run_ok, train_command


@pytest.fixture(scope="module")
def tiny_mistral(tmp_path_factory):
    from emollm_plugin.tiny.llava import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("base_m"), llm_type="mistral")


@pytest.fixture(scope="module")
def synthetic_emobench(tmp_path_factory):
    from emollm_plugin.emobench.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("bases_emobench") / "emobench", per_task=4, test_per_task=2, frames=4)


def base_train_command(base: Path, emobench: Path, out: Path, template: str, *extra: str, steps: int) -> list[str]:
    command = train_command(base, emobench / "llava" / "train.json", out, "--mm_projector_type", "mvp",
                            "--num_frames", "2", *extra, steps=steps)
    command[command.index("--version") + 1] = template
    command[command.index("--image_folder") + 1] = str(emobench)
    return command


def emollm_eval(checkpoint: Path, emobench: Path, out: Path,
                tasks: str = "emobench_emo_c,emobench_hate") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emollm_plugin.cli", "eval", "--model", "emollm", "--model_args",
         f"pretrained={checkpoint},num_frames=2", "--tasks", tasks,
         "--emobench-dir", str(emobench), "--output", str(out), "--limit", "2"],
        capture_output=True, text=True, timeout=600,
    )


def test_class_is_chosen_from_model_type(tiny_model, tiny_mistral, tiny_mpt):
    assert llava_class_for(str(tiny_model / "llm")).__name__ == "LlavaLlamaForCausalLM"
    assert llava_class_for(str(tiny_mistral / "llm")).__name__ == "LlavaMistralForCausalLM"
    assert llava_class_for(str(tiny_mpt / "llm")).__name__ == "LlavaMptForCausalLM"


def test_every_family_has_its_llava_class_and_tokenizer_rule():
    import llava.model

    from emollm_plugin.emoprompt.template import FAMILIES
    from emollm_plugin.llava_glue.bases import FOUNDATIONS

    assert list(FOUNDATIONS) == list(FAMILIES)  # derived from the one list, not a second one
    assert all(hasattr(llava.model, foundation.llava_class) for foundation in FOUNDATIONS.values())
    assert [f for f, foundation in FOUNDATIONS.items() if foundation.fast_tokenizer_only] == ["mpt"]


def test_unsupported_base_is_named_with_the_supported_ones(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(UnsupportedBaseModel, match=r"'gpt2' is not supported; supported: llama, mistral, mpt"):
        llava_class_for(str(tmp_path / "gpt2"))


def test_fast_only_tokenizers_load_where_llava_asks_for_slow_ones(tiny_model, tiny_mpt):
    # LLaVA's train() and loader pass use_fast=False; MPT's GPT-NeoX tokenizer has no slow class.
    with pytest.raises(ValueError, match="GPTNeoXTokenizer does not exist"):
        transformers.AutoTokenizer.from_pretrained(tiny_mpt / "llm", use_fast=False)
    assert type(TokenizerForAnyBase.from_pretrained(str(tiny_mpt / "llm"), use_fast=False)).__name__ == (
        "GPTNeoXTokenizerFast"
    )
    # Llama keeps the slow tokenizer LLaVA's v1 masking counts with.
    assert type(TokenizerForAnyBase.from_pretrained(str(tiny_model / "llm"), use_fast=False)).__name__ == (
        "LlamaTokenizer"
    )


def test_mistral_base_learns_with_mvp_and_evaluates_through_lmms_eval(tiny_mistral, synthetic_emobench, tmp_path):
    out = tmp_path / "run"
    output = run_ok(base_train_command(tiny_mistral, synthetic_emobench, out, "emollm_mistral", steps=60))
    losses = logged_losses(output)
    assert len(losses) == 60 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llava_mistral" and config["mm_projector_type"] == "mvp"
    assert config["emollm_version"] == "emollm_mistral"

    # Two yes/no tasks: 60 steps on 24 samples teach the answer words, not yet which emotion a colour is
    # (measured: it answers "yes" to emo_c too), and emollm eval rightly fails a task with no readable answer.
    result = emollm_eval(out, synthetic_emobench, tmp_path / "eval", tasks="emobench_hate,emobench_sarcasm")
    # emollm eval exits 0 only when the model loaded, generated, and every task has readable answers
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from emollm_plugin.lmms_glue.results import load_run

    run = load_run(tmp_path / "eval")
    assert set(run.tasks) == {"hate", "sarcasm"}
    for task in run.tasks.values():
        assert task.counts["samples"] == 2 and task.counts["empty"] == 0, task.samples
        assert task.counts["unparsed"] < 2, [sample.output for sample in task.samples]
        assert task.accuracy == task.counts["correct"] / 2  # lmms-eval's number is the samples' own


def logged_losses(output: str) -> list[float]:
    return [float(line.split("'loss': ")[1].split(",")[0]) for line in output.splitlines() if "'loss': " in line]


def test_mpt_base_learns_with_mvp_and_answers_through_lmms_eval(tiny_mpt, synthetic_emobench, tmp_path):
    """A path that says "mpt" takes LLaVA's own MPT branch (remote-code config handling, fast tokenizer)."""
    base = tmp_path / "tiny-mpt-chat"
    base.symlink_to(tiny_mpt, target_is_directory=True)
    out = tmp_path / "run"
    output = run_ok(base_train_command(base, synthetic_emobench, out, "emollm_mpt", steps=60))
    assert "tokenization mismatch" not in output and "masked (ignored)" not in output
    losses = logged_losses(output)
    assert len(losses) == 60 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llava_mpt" and config["mm_projector_type"] == "mvp"
    assert config["emollm_version"] == "emollm_mpt"

    result = emollm_eval(out, synthetic_emobench, tmp_path / "eval")
    from emollm_plugin.lmms_glue.results import load_run

    run = load_run(tmp_path / "eval")
    assert set(run.tasks) == {"emo_c", "hate"}
    assert all(task.counts["samples"] == 2 for task in run.tasks.values())
    # lmms-eval answers '' for every sample when generate() fails; a briefly trained model may still
    # close a turn at once (<|im_end|> first) now and then, but not everywhere.
    answers = [sample.output for task in run.tasks.values() for sample in task.samples]
    assert any(answer.strip() for answer in answers), (answers, result.stdout[-3000:])


def test_mpt_lora_from_a_path_without_mpt_loads_with_its_projector_and_merges(
    tiny_mpt, synthetic_emobench, tmp_path
):
    """LLaVA's generic branch (slow tokenizer, Llama class) and its LoRA loader, both routed by config."""
    from PIL import Image

    from emollm_plugin.llava_glue.inference import checkpoint_projector_tensors, load_runner

    out = tmp_path / "lora"
    run_ok(base_train_command(tiny_mpt, synthetic_emobench, out, "emollm_mpt", "--lora_enable", "True",
                              "--lora_r", "4", "--lora_alpha", "8", steps=2))
    with_base = load_runner(str(out), model_base=str(tiny_mpt / "llm"), num_frames=2)
    assert type(with_base.model).__name__ == "LlavaMptForCausalLM" and with_base.conv_mode == "emollm_mpt"
    stored = checkpoint_projector_tensors(out, "lora")
    projector = with_base.model.get_model().mm_projector.state_dict()
    assert stored.keys() == projector.keys()
    # LLaVA's loader reads the model in float16, so equal to float16 precision
    assert all(torch.allclose(projector[name], value, atol=1e-3) for name, value in stored.items())

    merged = tmp_path / "merged"
    run_ok([sys.executable, "scripts/merge_lora.py", "--lora", str(out), "--base", str(tiny_mpt / "llm"),
            "--out", str(merged)])
    alone = load_runner(str(merged), num_frames=2)
    prompts, media = ["Which emotion?", "Is it hateful?"], [[Image.new("RGB", (32, 32), "red")], None]
    answers = alone.generate(prompts, media, max_new_tokens=4)
    assert answers == with_base.generate(prompts, media, max_new_tokens=4)
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)
