"""The patches behind LLaVA's stock doors: loader names from the checkpoint, --evaluation_strategy, ZeRO-3 on CPU.

End to end they run in tests/llava_glue/test_stock_doors.py and test_distributed_and_resume.py (2-rank ZeRO-3).
"""

from __future__ import annotations

import json
import pickle

import pytest
from emollm_plugin.patches import apply_all
from emollm_plugin.patches.llava_builder_name_from_config import name_for_checkpoint


def _checkpoint(folder, **config):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_loader_name_follows_the_checkpoint(tmp_path):
    mvp = _checkpoint(tmp_path / "emollm-mvp-7b", mm_vision_tower="openai/clip", mm_projector_type="mvp")
    assert name_for_checkpoint(str(mvp), "emollm-mvp-7b") == "llava-emollm-mvp-7b"
    lora = _checkpoint(tmp_path / "my-adapters", mm_vision_tower="openai/clip")
    (lora / "adapter_config.json").write_text("{}")
    assert name_for_checkpoint(str(lora), "my-adapters") == "llava-my-adapters-lora"
    plain = _checkpoint(tmp_path / "vicuna", model_type="llama")  # a language model: LLaVA's text branch
    assert name_for_checkpoint(str(plain), "vicuna") == "vicuna"
    assert name_for_checkpoint("liuhaotian/llava-v1.5-7b", "llava-v1.5-7b") == "llava-v1.5-7b"  # hub id
    mpt = _checkpoint(tmp_path / "emollm-mpt", mm_vision_tower="openai/clip")
    assert name_for_checkpoint(str(mpt), "emollm-mpt") == "llava-emollm-mpt"  # "mpt" stays for LLaVA's branches


def test_loader_is_patched_where_callers_import_it():
    apply_all()
    from llava.model import builder

    assert builder.load_pretrained_model.__wrapped__.__module__ == "llava.model.builder"


def test_llava_scripts_evaluation_strategy_is_an_alias():
    """LLaVA's scripts pass --evaluation_strategy "no"; transformers 4.46+ only knows --eval_strategy."""
    apply_all()
    from llava.train import train as llava_train
    from transformers import HfArgumentParser

    parser = HfArgumentParser((llava_train.TrainingArguments,))
    (args,) = parser.parse_args_into_dataclasses(["--output_dir", "x", "--evaluation_strategy", "no"])
    assert str(args.eval_strategy.value) == "no"
    (args,) = parser.parse_args_into_dataclasses(["--output_dir", "x", "--evaluation_strategy", "steps",
                                                   "--eval_steps", "5"])
    assert args.eval_strategy.value == "steps"
    assert pickle.loads(pickle.dumps(args)).eval_strategy.value == "steps"  # the Trainer saves training_args.bin
    with pytest.raises(ValueError, match="disagree"):
        parser.parse_args_into_dataclasses(["--output_dir", "x", "--evaluation_strategy", "steps",
                                            "--eval_strategy", "epoch"])


def test_deepspeed_comm_fix_acts_only_for_deepspeed_on_cpu_across_ranks(monkeypatch):
    """Without a process group (one process) or on GPUs the Trainer's own device set-up is left as it is."""
    from types import SimpleNamespace

    import torch.distributed as dist
    from emollm_plugin.patches import trainer_cpu_deepspeed_comm as patch

    apply_all()
    from transformers import TrainingArguments

    assert TrainingArguments.__dict__["_setup_devices"].fget.__wrapped__.__name__ == "_setup_devices"
    cpu_zero3 = SimpleNamespace(deepspeed="zero3.json", use_cpu=True)
    assert not patch._needs_deepspeed_comm(cpu_zero3)  # no process group in this test process
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    assert patch._needs_deepspeed_comm(cpu_zero3)
    assert not patch._needs_deepspeed_comm(SimpleNamespace(deepspeed="zero3.json", use_cpu=False))
    assert not patch._needs_deepspeed_comm(SimpleNamespace(deepspeed=None, use_cpu=True))
