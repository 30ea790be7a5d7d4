"""Symptom: ``TypeError: 'MptAttentionConfig' object does not support item assignment`` in LLaVA's ``train()``.

When ``--model_name_or_path`` contains "mpt", LLaVA's ``train()`` sets
``config.attn_config['attn_impl']``, written for MosaicML's remote-code config where
``attn_config`` is a dict. transformers' own ``MptConfig`` (which ``LlavaMptForCausalLM``
builds on) holds an ``MptAttentionConfig`` object instead, so every MPT base whose path says
"mpt" (``mosaicml/mpt-7b-chat``) crashes there. The fix gives that object dict-style item
access to its attributes. transformers' MPT has a single attention implementation and ignores
``attn_impl``; LLaVA's ``--mpt_attn_impl`` is therefore recorded but has no effect.
"""

from __future__ import annotations

from ._versions import replace_once

TESTED = {"llava-torch": "==1.2.2.post1", "transformers": ">=4.38,<4.52"}


def _get_item(self, key: str):
    try:
        return getattr(self, key)
    except AttributeError:
        raise KeyError(key) from None


def _set_item(self, key: str, value) -> None:
    setattr(self, key, value)


def apply() -> bool:
    from transformers.models.mpt.configuration_mpt import MptAttentionConfig

    if getattr(MptAttentionConfig, "__setitem__", _set_item) is not _set_item:
        return False  # a mapping upstream already
    return replace_once(
        __name__, TESTED, MptAttentionConfig, "item_access", __getitem__=_get_item, __setitem__=_set_item
    )
