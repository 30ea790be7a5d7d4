"""Symptom: ``TypeError: LlavaLlamaForCausalLM.forward() got an unexpected keyword argument 'cache_position'``.

transformers >= 4.38 passes ``cache_position`` (and, later, ``logits_to_keep`` /
``num_logits_to_keep``) from ``generate()`` into the model's ``forward``. llava-torch's LLaVA
classes declare a fixed argument list written for transformers 4.36, so every ``generate()``
fails. The fix drops those arguments before LLaVA's ``forward`` sees them: the Llama/Mistral
base recomputes cache positions from ``past_key_values``, which is what 4.36 did.
"""

from __future__ import annotations

import functools
import inspect

from ._versions import check_versions, mark_patched

TESTED = {"llava-torch": "==1.2.2.post1", "transformers": ">=4.38,<4.52"}
DROPPED_KWARGS = ("cache_position", "logits_to_keep", "num_logits_to_keep")


def _drop_new_kwargs(forward):
    # functools.wraps keeps LLaVA's signature visible: generate() looks for `position_ids` in it
    # to derive positions from the attention mask, which batched left-padded generation needs.
    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        for name in DROPPED_KWARGS:
            kwargs.pop(name, None)
        return forward(self, *args, **kwargs)

    return wrapper


def apply() -> bool:
    from llava.model import language_model  # noqa: F401  (imports the three LLaVA classes)
    from llava.model.language_model.llava_llama import LlavaLlamaForCausalLM
    from llava.model.language_model.llava_mistral import LlavaMistralForCausalLM
    from llava.model.language_model.llava_mpt import LlavaMptForCausalLM

    changed = False
    for cls in (LlavaLlamaForCausalLM, LlavaMistralForCausalLM, LlavaMptForCausalLM):
        params = inspect.signature(cls.forward).parameters
        if "cache_position" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue  # this class already accepts the new arguments
        check_versions(__name__, TESTED)
        if mark_patched(cls, "forward"):
            cls.forward = _drop_new_kwargs(cls.forward)
            changed = True
    return changed
