"""Symptom: ``TypeError: Trainer._save_checkpoint() takes 3 positional arguments but 4 were given``.

``LLaVATrainer._save_checkpoint`` forwards a ``metrics`` argument to ``Trainer._save_checkpoint``,
which transformers removed in 4.46. Every checkpoint save of a full or LoRA fine-tune crashes.
The fix lets ``Trainer._save_checkpoint`` accept (and ignore) that trailing argument.
"""

from __future__ import annotations

import functools
import inspect

from ._versions import check_versions, mark_patched

TESTED = {"llava-torch": "==1.2.2.post1", "transformers": ">=4.46,<4.52"}


def apply() -> bool:
    from transformers import Trainer

    if "metrics" in inspect.signature(Trainer._save_checkpoint).parameters:
        return False  # transformers < 4.46 still has the argument
    check_versions(__name__, TESTED)
    if not mark_patched(Trainer, "_save_checkpoint"):
        return False
    original = Trainer._save_checkpoint

    @functools.wraps(original)
    def _save_checkpoint(self, model, trial, metrics=None):
        return original(self, model, trial)

    del _save_checkpoint.__wrapped__  # let inspect.signature show the accepted `metrics`
    Trainer._save_checkpoint = _save_checkpoint
    return True
