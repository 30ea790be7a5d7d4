"""EmoLLM as a plugin for LLaVA (training), lmms-eval (evaluation) and DeepSpeed.

Every entry point of the plugin (its train entry, its lmms-eval model, its CLI) calls
:func:`register` for you; call it yourself when you build LLaVA models in your own code.
"""

from __future__ import annotations

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
