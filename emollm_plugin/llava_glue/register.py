"""Teach LLaVA the ``mvp`` projector type and the EmoPrompt conversation templates.

LLaVA builds projectors through ``build_vision_projector``, a hard-coded if-chain that
``llava.model.llava_arch`` imports *by name*; both bindings are wrapped so that every code path
(``from_pretrained``, ``initialize_vision_modules``, ``load_pretrained_model``, LoRA merging)
builds MVP when ``config.mm_projector_type == "mvp"``. MVP's options travel on the model config
as ``mvp_*`` attributes, written by ``initialize_vision_modules`` from the train flags.
"""

from __future__ import annotations

import dataclasses
import functools

from emollm_plugin.emoprompt.template import TEMPLATES
from emollm_plugin.mvp import MVPConfig, MVPProjector

MVP_TYPE = "mvp"
_FLAG = "__emollm_registered"


def build_mvp_projector(config) -> MVPProjector:
    """The MVP projector a LLaVA model config asks for."""
    return MVPProjector(config.mm_hidden_size, config.hidden_size, MVPConfig.from_model_config(config))


def _wrap_builder(original):
    @functools.wraps(original)
    def build_vision_projector(config, delay_load=False, **kwargs):
        if getattr(config, "mm_projector_type", None) == MVP_TYPE:
            return build_mvp_projector(config)
        return original(config, delay_load=delay_load, **kwargs)

    setattr(build_vision_projector, _FLAG, True)
    return build_vision_projector


def mvp_options_from_args(model_args) -> MVPConfig:
    """MVP options from LLaVA's model arguments (fields named ``mvp_<option>``)."""
    flags = {
        field.name: getattr(model_args, f"mvp_{field.name}")
        for field in dataclasses.fields(MVPConfig)
        if hasattr(model_args, f"mvp_{field.name}")
    }
    return MVPConfig.from_flags(**flags)


def _wrap_initialize_vision_modules(original):
    @functools.wraps(original)
    def initialize_vision_modules(self, model_args, fsdp=None):
        # The conversation template travels with the checkpoint, so evaluation prompts match training.
        self.config.emollm_version = getattr(model_args, "version", None)
        wants_mvp = getattr(model_args, "mm_projector_type", None) == MVP_TYPE
        if wants_mvp:
            mvp_options_from_args(model_args).write_to_model_config(self.config)
        result = original(self, model_args, fsdp=fsdp)
        if wants_mvp and not isinstance(self.mm_projector, MVPProjector):
            upgrade_to_mvp(self)
        return result

    setattr(initialize_vision_modules, _FLAG, True)
    return initialize_vision_modules


def upgrade_to_mvp(model) -> None:
    """Turn the ``mlp2x_gelu`` projector of an existing LLaVA checkpoint into MVP, warm-started.

    LLaVA keeps a projector it loaded with the checkpoint, so continuing from e.g. LLaVA-1.5 with
    ``--mm_projector_type mvp`` would otherwise train the old projector under an ``mvp`` config.
    """
    old = model.mm_projector
    try:
        mvp = MVPProjector.from_mlp2x(old, MVPConfig.from_model_config(model.config))
    except TypeError as exc:
        raise ValueError(
            f"--mm_projector_type mvp: the checkpoint's projector is {type(old).__name__}, not LLaVA's "
            f"mlp2x_gelu, so MVP cannot warm-start from it ({exc})"
        ) from None
    reference = next(old.parameters())
    model.mm_projector = mvp.to(device=reference.device, dtype=reference.dtype)


def register_projector() -> None:
    from llava.model import llava_arch
    from llava.model.multimodal_projector import builder

    for module in (builder, llava_arch):
        if not getattr(module.build_vision_projector, _FLAG, False):
            module.build_vision_projector = _wrap_builder(module.build_vision_projector)
    meta = llava_arch.LlavaMetaModel
    if not getattr(meta.initialize_vision_modules, _FLAG, False):
        meta.initialize_vision_modules = _wrap_initialize_vision_modules(meta.initialize_vision_modules)


def register_templates() -> None:
    """Add the EmoPrompt templates to ``llava.conversation.conv_templates``."""
    from llava import conversation

    for spec in TEMPLATES:
        base = conversation.conv_templates[spec.base]
        conversation.conv_templates[spec.name] = dataclasses.replace(
            base, system=spec.system, version=spec.version, messages=[]
        )


def register_llava() -> None:
    from emollm_plugin.llava_glue import bases

    register_projector()
    register_templates()
    bases.install()
