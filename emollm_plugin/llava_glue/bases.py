"""Foundation models: which llava-torch class and tokenizer loader fit a base LLM, read from its config.

LLaVA decides both from substrings of a path or model name: ``train()`` builds
``LlavaLlamaForCausalLM`` unless the path contains "mpt", ``load_pretrained_model`` looks for
"mpt" and "mistral" in the name, and both load tokenizers with ``use_fast=False`` except on
the "mpt" branches. A Mistral base in a folder called ``my-base`` would train as Llama, and an
MPT base whose path lacks "mpt" would fail on its fast-only GPT-NeoX tokenizer. Here the
``model_type`` in the base's ``config.json`` decides, and :func:`install` points LLaVA's
training and loading code at the two stand-ins below.

To add a foundation: add its ``model_type`` and a template of the right masking family to
``emoprompt.template`` (:data:`~emollm_plugin.emoprompt.template.FAMILIES`, the one list of
families), check that llava-torch has ``Llava<Family>ForCausalLM``, and run
``tests/llava_glue/test_bases.py``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import transformers
from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

from emollm_plugin.emoprompt.template import FAMILIES


@dataclass(frozen=True)
class Foundation:
    llava_class: str  # name in ``llava.model``
    fast_tokenizer_only: bool = False  # the tokenizer ships no slow (Python) class


def _foundation(family: str) -> Foundation:
    """llava-torch names its classes ``Llava<Family>ForCausalLM``; transformers knows which tokenizers are fast-only."""
    slow, _ = TOKENIZER_MAPPING_NAMES.get(family, ("", None))
    return Foundation(f"Llava{family.capitalize()}ForCausalLM", fast_tokenizer_only=slow is None)


#: Base ``model_type`` → how LLaVA trains it, for every family. ``llava_*`` types are EmoLLM/LLaVA
#: checkpoints of the base.
FOUNDATIONS: dict[str, Foundation] = {family: _foundation(family) for family in FAMILIES}


class UnsupportedBaseModel(ValueError):
    pass


def model_type_of(model_name_or_path: str) -> str:
    return transformers.AutoConfig.from_pretrained(model_name_or_path).model_type


def foundation_for(model_type: str, source: str = "") -> Foundation:
    """The :class:`Foundation` of a base or LLaVA ``model_type``; a clear error for any other."""
    try:
        return FOUNDATIONS[model_type.removeprefix("llava_")]
    except KeyError:
        where = f"--model_name_or_path {source}: " if source else ""
        raise UnsupportedBaseModel(
            f"{where}base model_type {model_type!r} is not supported; supported: {', '.join(sorted(FOUNDATIONS))}"
        ) from None


def llava_class_for(model_name_or_path: str):
    """The llava-torch class for a base LLM (or a LLaVA checkpoint of one), chosen from its config."""
    import llava.model as llava_model

    return getattr(llava_model, foundation_for(model_type_of(model_name_or_path), model_name_or_path).llava_class)


class LlavaForAnyBase:
    """Stands in for LLaVA's model classes where its code picks one from a path or name."""

    @staticmethod
    def from_pretrained(model_name_or_path: str, *args, **kwargs):
        cls = llava_class_for(model_name_or_path)
        config = kwargs.get("config")
        if config is not None and not isinstance(config, cls.config_class):
            # LLaVA's "mpt" branch passes the base's plain MptConfig: load the class's own config
            # instead, so the checkpoint is saved (and reloads) as a LLaVA model.
            kwargs.pop("config")
        return cls.from_pretrained(model_name_or_path, *args, **kwargs)


class TokenizerForAnyBase:
    """Stands in for ``AutoTokenizer`` in LLaVA: ``use_fast=False`` is honoured where a slow class exists.

    LLaVA asks for slow tokenizers because its Llama masking counts tokens the way the slow
    ``LlamaTokenizer`` produces them; bases whose tokenizer is fast-only get the fast one.
    """

    @staticmethod
    def from_pretrained(model_name_or_path: str, *args, **kwargs):
        if kwargs.get("use_fast") is False and _fast_tokenizer_only(model_name_or_path):
            kwargs["use_fast"] = True
        return transformers.AutoTokenizer.from_pretrained(model_name_or_path, *args, **kwargs)


def _fast_tokenizer_only(model_name_or_path: str) -> bool:
    try:
        return foundation_for(model_type_of(model_name_or_path)).fast_tokenizer_only
    except (OSError, ValueError):  # no config, or not a LLaVA base: keep what LLaVA asked for
        return False


class _TransformersForLlava(types.ModuleType):
    """``transformers`` as LLaVA's training module sees it: everything as is, but the tokenizer loader."""

    AutoTokenizer = TokenizerForAnyBase

    def __getattr__(self, name: str):
        return getattr(transformers, name)


def install() -> None:
    """Point LLaVA's ``train()`` and ``load_pretrained_model`` at the config-driven choices (idempotent)."""
    from llava.model import builder
    from llava.train import train as llava_train

    llava_train.LlavaLlamaForCausalLM = LlavaForAnyBase
    llava_train.LlavaMptForCausalLM = LlavaForAnyBase
    llava_train.transformers = _TransformersForLlava("transformers")
    builder.LlavaLlamaForCausalLM = LlavaForAnyBase
    builder.LlavaMptForCausalLM = LlavaForAnyBase
    builder.LlavaMistralForCausalLM = LlavaForAnyBase
    builder.AutoTokenizer = TokenizerForAnyBase
