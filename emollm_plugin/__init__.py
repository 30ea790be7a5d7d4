"""EmoLLM as a plugin for LLaVA (training), lmms-eval (evaluation) and DeepSpeed.

Once installed, the plugin activates itself in every process that imports ``llava`` or
``lmms_eval`` (``emollm_plugin.autoload``; ``EMOLLM_AUTOLOAD=0`` turns that off), so LLaVA's and
lmms-eval's own commands know EmoLLM. Every entry point of the plugin calls :func:`register` too;
call it yourself if you prefer explicit code, or with autoloading turned off.
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
    from emollm_plugin.patches import apply_all, check_all_versions

    check_all_versions()  # refuse untested versions before anything is changed
    apply_all()
    from emollm_plugin.llava_glue.register import register_llava

    register_llava()
    _registered = True


def activate_llava(module=None) -> bool:
    """What the autoload hook runs once ``llava`` is imported: :func:`register`, version-gated.

    On versions the patches were not tested with it leaves the process untouched and says so in
    one line (``register()`` itself raises the full error), rather than breaking ``import llava``.
    """
    import sys

    from emollm_plugin.patches._versions import UntestedVersionError

    try:
        register()
    except UntestedVersionError as exc:
        print(f"emollm-plugin: not activated ({exc})", file=sys.stderr)
        return False
    return True


def offline_defaults() -> None:
    """No hub look-ups or telemetry unless the user asks for them.

    Must run before ``transformers`` or ``huggingface_hub`` is imported: both read these
    variables once, at import time.
    """
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("WANDB_MODE", "disabled"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
