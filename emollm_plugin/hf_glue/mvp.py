"""MVP in transformers-native LLaVA models (``LlavaForConditionalGeneration``, ``LlavaNext...``).

``swap_in_mvp`` replaces ``model.multi_modal_projector`` (``linear_1``, ``act``, ``linear_2``) with an
:class:`MVPProjector` warm-started from it, so the model's outputs are unchanged at step 0, and writes
the options to ``model.config`` as ``mvp_*`` attributes. The MVP module keeps the native parameter
names ``linear_1``/``linear_2``, so the checkpoint keys of the trunk do not change.

A saved MVP model must be reloaded with :func:`load_mvp_model`; a plain ``from_pretrained`` builds the
native projector and drops MVP's extra weights (transformers warns about unused weights).

Only ``global_tokens = 0`` is supported here: the native processors expand ``<image>`` into exactly
one token per patch, the forward checks that count, and LLaVA-NeXT reshapes features into its grid.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from emollm_plugin.mvp.config import MVPConfig
from emollm_plugin.mvp.projector import MVPProjector, is_exact_gelu

PROJECTOR_ATTR = "multi_modal_projector"
_HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "proxies", "revision", "subfolder", "token")
_UNUSED_WEIGHTS = re.compile(r"were not used when initializing \w+: (\[.*?\])\n", re.S)


def _native_classes() -> tuple[type, ...]:
    from transformers import LlavaForConditionalGeneration, LlavaNextForConditionalGeneration

    return (LlavaForConditionalGeneration, LlavaNextForConditionalGeneration)


def _resolve_config(mvp_config: MVPConfig | None, flags: dict[str, Any]) -> MVPConfig:
    if mvp_config is not None and flags:
        raise TypeError(f"give either mvp_config or flags, not both (flags: {sorted(flags)})")
    if mvp_config is None:
        return MVPConfig.from_flags(**flags)
    if not isinstance(mvp_config, MVPConfig):
        raise TypeError(f"mvp_config must be an MVPConfig, got {type(mvp_config).__name__}")
    return mvp_config


def _projector_name(model: nn.Module) -> str:
    """Dotted name of the projector inside the model (its checkpoint key prefix)."""
    target = getattr(model, PROJECTOR_ATTR)
    for name, module in model.named_modules():
        if module is target:
            return name
    raise RuntimeError(f"{type(model).__name__}.{PROJECTOR_ATTR} is not a registered submodule")


def swap_in_mvp(model: nn.Module, mvp_config: MVPConfig | None = None, **flags: Any) -> nn.Module:
    """Replace a native LLaVA model's projector by MVP, warm-started from it; returns ``model``.

    Options come from ``mvp_config`` or from flags (``tau=0.3``, ``perspectives="local,relational"``,
    with or without the ``mvp_`` prefix); none = the defaults.
    """
    config = _resolve_config(mvp_config, flags)
    classes = _native_classes()
    if not isinstance(model, classes):
        names = ", ".join(cls.__name__ for cls in classes)
        raise TypeError(f"swap_in_mvp supports {names}; got {type(model).__name__}")
    projector = getattr(model, PROJECTOR_ATTR)
    if isinstance(projector, MVPProjector):
        raise ValueError(f"{type(model).__name__} already has an MVP projector ({projector.extra_repr()})")
    if config.global_tokens:
        raise ValueError(
            f"--mvp_global_tokens={config.global_tokens} is not supported by transformers-native LLaVA: its "
            "processor emits one <image> token per patch and the forward checks that count; use 0"
        )
    for attr in ("linear_1", "act", "linear_2"):
        if not isinstance(getattr(projector, attr, None), nn.Module):
            raise TypeError(
                f"{type(projector).__name__} has no {attr!r} module; cannot warm-start MVP from it"
            )
    if not is_exact_gelu(projector.act):
        act_name = getattr(model.config, "projector_hidden_act", type(projector.act).__name__)
        raise ValueError(
            f"MVP's trunk is LLaVA's mlp2x_gelu (exact GELU) but this model's projector_hidden_act is "
            f"{act_name!r}; only 'gelu' projectors can be warm-started without changing outputs"
        )
    mvp = MVPProjector.from_trunk(projector.linear_1, projector.linear_2, config, act=projector.act)
    mvp.train(projector.training)
    setattr(model, PROJECTOR_ATTR, mvp)
    config.write_to_model_config(model.config)
    return model


class _DropMVPUnusedWarning(logging.Filter):
    """Hides transformers' "weights not used" record when every such key is MVP's (loaded next)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        match = _UNUSED_WEIGHTS.search(record.getMessage())
        if not match:
            return True
        try:
            keys = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return True
        return not (keys and all(str(key).startswith(self.prefix) for key in keys))


@contextmanager
def _quiet_mvp_unused(prefix: str) -> Iterator[None]:
    logger = logging.getLogger("transformers.modeling_utils")
    quiet = _DropMVPUnusedWarning(prefix)
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _checkpoint_files(path: str | os.PathLike, hub: dict[str, Any]) -> list[str]:
    """The weight files of a saved model (safetensors preferred), resolved locally or from the cache."""
    from transformers.utils import (
        SAFE_WEIGHTS_INDEX_NAME,
        SAFE_WEIGHTS_NAME,
        WEIGHTS_INDEX_NAME,
        WEIGHTS_NAME,
        cached_file,
    )

    def find(name: str) -> str | None:
        return cached_file(
            path,
            name,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub,
        )

    for index_name, single_name in (
        (SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME),
        (WEIGHTS_INDEX_NAME, WEIGHTS_NAME),
    ):
        single = find(single_name)
        if single:
            return [single]
        index = find(index_name)
        if index:
            with open(index) as handle:
                shards = sorted(set(json.load(handle)["weight_map"].values()))
            files = [find(shard) for shard in shards]
            missing = [shard for shard, file in zip(shards, files, strict=True) if not file]
            if missing:
                raise FileNotFoundError(f"{path}: shards listed in {index_name} are missing: {missing}")
            return [file for file in files if file]
    raise FileNotFoundError(
        f"{path}: no {SAFE_WEIGHTS_NAME}, {WEIGHTS_NAME} or their index; not a saved model"
    )


def read_prefixed_weights(path: str | os.PathLike, prefix: str, **hub: Any) -> dict[str, torch.Tensor]:
    """Tensors whose checkpoint key starts with ``prefix`` (prefix removed), from safetensors or
    ``torch.load(weights_only=True)``: no pickle code is ever executed."""
    weights: dict[str, torch.Tensor] = {}
    for file in _checkpoint_files(path, hub):
        if file.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(file, framework="pt", device="cpu") as handle:
                for key in handle.keys():  # noqa: SIM118 - safe_open handles are not mappings
                    if key.startswith(prefix):
                        weights[key[len(prefix) :]] = handle.get_tensor(key)
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
            weights.update(
                {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
            )
    return weights


def load_mvp_model(cls: type, path: str | os.PathLike, **kwargs: Any) -> nn.Module:
    """Load a model saved after :func:`swap_in_mvp`: ``cls.from_pretrained`` + MVP rebuilt and loaded.

    ``cls`` is the native class (e.g. ``LlavaForConditionalGeneration``); ``kwargs`` go to
    ``from_pretrained`` (``torch_dtype``, ``device_map``...). The options come from ``config.json``'s
    ``mvp_*`` attributes and the projector's weights are loaded strictly, so a checkpoint without
    MVP weights or with different options fails loudly instead of silently dropping MVP.
    """
    with _quiet_mvp_unused(PROJECTOR_ATTR + "."):
        model = cls.from_pretrained(path, **kwargs)
    if not MVPConfig.present_in(model.config):
        raise ValueError(
            f"{path}: config.json has no mvp_* options, so it was not saved with MVP; "
            "load it with from_pretrained and call swap_in_mvp(model) to start MVP from it"
        )
    swap_in_mvp(model, MVPConfig.from_model_config(model.config))
    prefix = _projector_name(model) + "."
    hub = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
    state = read_prefixed_weights(path, prefix, **hub)
    projector = getattr(model, PROJECTOR_ATTR)
    try:
        projector.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise RuntimeError(
            f"{path}: the checkpoint's {prefix}* weights do not fit its MVP options: {error}"
        ) from error
    return model
