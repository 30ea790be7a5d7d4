"""Teach LLaVA the ``mvp`` projector type and the EmoPrompt conversation templates.

LLaVA builds projectors through ``build_vision_projector``, a hard-coded if-chain that
``llava.model.llava_arch`` imports *by name*; both bindings are wrapped so that every code path
(``from_pretrained``, ``initialize_vision_modules``, ``load_pretrained_model``, LoRA merging)
builds MVP when ``config.mm_projector_type == "mvp"``. MVP's options travel on the model config
as ``mvp_*`` attributes, written by ``initialize_vision_modules`` from the train flags.

``--mm_video_pool P`` (config ``mm_video_pool``) average-pools each video frame's visual tokens
over P x P patches (2: 576 -> 144 per frame at LLaVA-1.5 shapes), so 16 frames fit where 4 did;
images keep all their tokens. ``prepare_inputs_labels_for_multimodal`` is wrapped to do it, so
training, the runner, the lmms-eval model and ``emollm serve`` follow the checkpoint's config.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch
import torch.nn.functional as F

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
        self.config.mm_video_pool = int(getattr(model_args, "mm_video_pool", 1) or 1)
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


def pooled_tokens_per_frame(grid_tokens: int, pool: int) -> int:
    """Visual tokens a frame of ``grid_tokens`` patch tokens (a square grid) keeps after P x P pooling."""
    side = math.isqrt(grid_tokens)
    if pool <= 1:
        return grid_tokens
    if side * side != grid_tokens:
        raise ValueError(f"--mm_video_pool needs a square patch grid, got {grid_tokens} tokens per frame")
    return math.ceil(side / pool) ** 2


def pool_frame_tokens(features: torch.Tensor, grid_tokens: int, pool: int) -> torch.Tensor:
    """``[T, grid (+ extra), D]`` -> ``[T, pooled grid (+ extra), D]``: average each P x P block of the
    patch grid (a ragged edge block averages what it has); tokens after the grid (MVP's global
    tokens) are kept as they are."""
    side = math.isqrt(grid_tokens)
    frames, _, dim = features.shape
    grid = features[:, :grid_tokens].reshape(frames, side, side, dim).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(grid, kernel_size=pool, stride=pool, ceil_mode=True)
    pooled = pooled.flatten(2).transpose(1, 2)
    return torch.cat([pooled, features[:, grid_tokens:]], dim=1)


def _video_pooled_features(model, images, pool: int) -> list[torch.Tensor]:
    """Per-sample visual tokens ``[L_i, D]`` as LLaVA's flat merge makes them, video frames pooled.

    A video is a ``[T, 3, H, W]`` block (or a 5-D batch of them); a ``[3, H, W]`` tensor is an image.
    """
    if isinstance(images, list):
        blocks = [x.unsqueeze(0) if x.ndim == 3 else x for x in images]
        is_video = [x.ndim == 4 for x in images]
    else:
        blocks, is_video = list(images), [True] * images.shape[0]
    features = model.encode_images(torch.cat(blocks, dim=0))
    grid = model.get_vision_tower().num_patches
    out = []
    for block, video in zip(torch.split(features, [b.shape[0] for b in blocks], dim=0), is_video, strict=True):
        out.append((pool_frame_tokens(block, grid, pool) if video else block).flatten(0, 1))
    return out


def _wrap_prepare_inputs(original):
    @functools.wraps(original)
    def prepare_inputs_labels_for_multimodal(
        self, input_ids, position_ids, attention_mask, past_key_values, labels, images, image_sizes=None
    ):
        pool = int(getattr(self.config, "mm_video_pool", 1) or 1)
        has_video = isinstance(images, list) and any(x.ndim == 4 for x in images) or (
            isinstance(images, torch.Tensor) and images.ndim == 5
        )
        if pool <= 1 or not has_video or self.get_vision_tower() is None or input_ids.shape[1] == 1:
            return original(self, input_ids, position_ids, attention_mask, past_key_values, labels, images, image_sizes)
        if getattr(self.config, "mm_patch_merge_type", "flat") != "flat":
            raise ValueError("mm_video_pool needs mm_patch_merge_type 'flat' (LLaVA-1.5); this model merges "
                             f"patches as {self.config.mm_patch_merge_type!r}")
        features = _video_pooled_features(self, images, pool)
        # LLaVA splices ``encode_images(images)[i]`` in for the i-th <image>: hand it the pooled tokens.
        self.encode_images = lambda _: features
        try:
            placeholder = torch.empty(len(features), 0)
            return original(
                self, input_ids, position_ids, attention_mask, past_key_values, labels, placeholder, image_sizes
            )
        finally:
            del self.encode_images

    setattr(prepare_inputs_labels_for_multimodal, _FLAG, True)
    return prepare_inputs_labels_for_multimodal


def register_projector() -> None:
    from llava.model import llava_arch
    from llava.model.multimodal_projector import builder

    for module in (builder, llava_arch):
        if not getattr(module.build_vision_projector, _FLAG, False):
            module.build_vision_projector = _wrap_builder(module.build_vision_projector)
    meta = llava_arch.LlavaMetaModel
    if not getattr(meta.initialize_vision_modules, _FLAG, False):
        meta.initialize_vision_modules = _wrap_initialize_vision_modules(meta.initialize_vision_modules)
    causal = llava_arch.LlavaMetaForCausalLM
    if not getattr(causal.prepare_inputs_labels_for_multimodal, _FLAG, False):
        causal.prepare_inputs_labels_for_multimodal = _wrap_prepare_inputs(causal.prepare_inputs_labels_for_multimodal)


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
    from emollm_plugin.llava_glue.train import install_into_llava

    register_projector()
    register_templates()
    bases.install()
    install_into_llava()
