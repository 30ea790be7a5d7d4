"""Symptom: a DeepSpeed run on CPU trains, then dies at the final save with a CUDA error.

``llava.train.train.safe_save_model_for_hf_trainer`` calls ``torch.cuda.synchronize()`` before
saving a DeepSpeed model; on a machine without CUDA (DeepSpeed's CPU accelerator over gloo,
which the plugin's multi-process tests use) that raises. The fix skips only that call when CUDA
is unavailable; on GPUs LLaVA's function runs unchanged.
"""

from __future__ import annotations

import functools

import torch

from ._versions import check_versions, mark_patched

TESTED = {"llava-torch": "==1.2.2.post1"}


def apply() -> bool:
    if torch.cuda.is_available():
        return False
    import llava.train.train as llava_train

    check_versions(__name__, TESTED)
    if not mark_patched(llava_train, "safe_save_model_for_hf_trainer"):
        return False
    original = llava_train.safe_save_model_for_hf_trainer

    @functools.wraps(original)
    def safe_save_model_for_hf_trainer(trainer, output_dir: str):
        if trainer.deepspeed and not getattr(trainer.args, "tune_mm_mlp_adapter", False):
            trainer.save_model(output_dir)  # what LLaVA does after its synchronize()
            return None
        return original(trainer=trainer, output_dir=output_dir)

    llava_train.safe_save_model_for_hf_trainer = safe_save_model_for_hf_trainer
    return True
