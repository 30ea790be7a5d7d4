"""Symptom: ZeRO-3 on several CPU ranks stops in ``zero.Init`` with ``AssertionError: Check batch related
parameters. train_batch_size is not equal to micro_batch_per_gpu * gradient_acc_step * world_size 8 != 4 * 1 * 1``.

With ``--use_cpu True`` the Trainer's device set-up joins the ranks through Accelerate's plain
torch.distributed group, but never initialises DeepSpeed's own communication layer (it does so
only on the GPU path). ``zero.Init``, which ``from_pretrained`` enters under ZeRO-3, reads its
config before initialising that layer, so it counts one rank while the Trainer filled in the
batch size for all of them. ZeRO-2 is unaffected (no ``zero.Init``). The fix initialises
DeepSpeed's communication layer on top of the existing group right after the Trainer's device
set-up, for DeepSpeed runs on CPU with more than one rank; GPU runs are unchanged.
"""

from __future__ import annotations

import functools
import os

from ._versions import check_versions, mark_patched

TESTED = {"transformers": ">=4.46,<4.52", "deepspeed": ">=0.14,<0.20"}


def _needs_deepspeed_comm(args) -> bool:
    import torch.distributed as dist

    on_cpu = args.use_cpu or os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true", "yes")
    return bool(args.deepspeed) and on_cpu and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def apply() -> bool:
    from transformers import TrainingArguments

    prop = TrainingArguments.__dict__.get("_setup_devices")
    if not isinstance(prop, property):  # transformers' own caching property
        return False  # a different transformers layout: nothing to wrap
    check_versions(__name__, TESTED)
    if not mark_patched(TrainingArguments, "_setup_devices"):
        return False
    original = prop.fget

    @functools.wraps(original)
    def _setup_devices(self):
        device = original(self)
        if _needs_deepspeed_comm(self):
            import deepspeed
            import torch.distributed as dist

            if not deepspeed.comm.is_initialized():
                deepspeed.init_distributed(dist_backend=dist.get_backend())
        return device

    TrainingArguments._setup_devices = type(prop)(_setup_devices)  # caches under the same name as before
    return True
