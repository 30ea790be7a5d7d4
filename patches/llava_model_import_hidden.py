"""Symptom: ``ImportError: cannot import name 'LlavaLlamaForCausalLM' from 'llava.model'``.

``llava/model/__init__.py`` wraps its imports in a bare ``try: ... except: pass``, so any
incompatibility of the installed stack surfaces later as a missing name with the real cause
thrown away. This check imports the three classes directly and re-raises the real error with
the fix, before anything else touches LLaVA. It changes nothing at runtime.
"""

from __future__ import annotations

import importlib

MODULES = (
    "llava.model.language_model.llava_llama",
    "llava.model.language_model.llava_mistral",
    "llava.model.language_model.llava_mpt",
)


def apply() -> bool:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001  (any import failure is the diagnosis)
            raise ImportError(
                f"{name} failed to import ({type(exc).__name__}: {exc}). llava.model hides this error. "
                "Reinstall the pinned stack: bash scripts/setup.sh"
            ) from exc
    return False
