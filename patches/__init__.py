"""Runtime patches that let llava-torch 1.2.2.post1 run on the plugin's pinned stack and on CPU.

One module per upstream symptom; each exposes ``apply() -> bool`` (True when it changed
something), checks the versions it was written for, and is idempotent. No installed file is
ever edited on disk. :func:`apply_all` is called by ``emollm_plugin.register()``.
"""

from __future__ import annotations

import importlib

#: Applied in this order.
PATCHES: tuple[str, ...] = (
    "llava_model_import_hidden",
    "llava_mpt_multimodal_forward",  # before the next one, which then finds MPT's forward accepts **kwargs
    "llava_forward_new_generate_kwargs",
    "llava_preprocess_mpt_count",
    "llava_train_mpt_attn_config",
    "trainer_save_checkpoint_metrics",
    "deepspeed_save_cuda_synchronize",
    "trainer_cpu_deepspeed_comm",
    "llava_builder_name_from_config",
    "llava_train_evaluation_strategy",
)


def check_all_versions() -> None:
    """Raise ``UntestedVersionError`` before anything is patched when any patch meets a version it was not
    tested with, so a refused activation leaves the process exactly as it was (no half-applied set)."""
    from ._versions import check_versions

    for name in PATCHES:
        module = importlib.import_module(f"{__name__}.{name}")
        tested = getattr(module, "TESTED", None)
        if tested:
            check_versions(module.__name__, tested)


def apply_all() -> dict[str, bool]:
    """Apply every patch once; return which ones changed something in this process."""
    applied = {}
    for name in PATCHES:
        module = importlib.import_module(f"{__name__}.{name}")
        applied[name] = module.apply()
    return applied
