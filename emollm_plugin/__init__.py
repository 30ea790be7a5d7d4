"""EmoLLM as a plugin for LLaVA (training), lmms-eval (evaluation) and DeepSpeed.

Every entry point of the plugin (its train entry, its lmms-eval model, its CLI) calls
:func:`register` for you; call it yourself when you build LLaVA models in your own code.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

_registered = False


def register() -> None:
    """Make LLaVA know EmoLLM: runtime patches, the ``mvp`` projector type, the EmoPrompt templates,
    and base-model classes and tokenizers chosen from each base's config (``llava_glue.bases``).

    Idempotent and cheap after the first call, so every process (each DeepSpeed rank, the
    evaluator, a LoRA merge) can call it without coordination.
    """
    global _registered
    if _registered:
        return
    from emollm_plugin.patches import apply_all

    apply_all()
    from emollm_plugin.llava_glue.register import register_llava

    register_llava()
    _registered = True


def offline_defaults() -> None:
    """No hub look-ups or telemetry unless the user asks for them.

    Must run before ``transformers`` or ``huggingface_hub`` is imported: both read these
    variables once, at import time.
    """
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("WANDB_MODE", "disabled"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
