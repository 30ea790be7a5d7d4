"""Pure-torch Multi-perspective Visual Projection (MVP).

``MVPConfig`` holds the options (train flags ``--mvp_*``, model-config attributes ``mvp_*``),
and ``MVPProjector`` is the module that replaces LLaVA's ``mm_projector``. This package needs torch
alone; ``emollm_plugin.llava_glue`` and ``emollm_plugin.hf_glue`` put it into LLaVA models.
"""

from emollm_plugin.mvp.config import FUSIONS, GLOBAL_POOLS, PERSPECTIVES, MVPConfig, parse_perspectives
from emollm_plugin.mvp.projector import (
    MLP2X_KEYS,
    MVPProjector,
    is_exact_gelu,
    is_mlp2x_state_dict,
    mlp2x_to_mvp_keys,
    relational_adjacency,
)

__all__ = [
    "FUSIONS",
    "GLOBAL_POOLS",
    "MLP2X_KEYS",
    "PERSPECTIVES",
    "MVPConfig",
    "MVPProjector",
    "is_exact_gelu",
    "is_mlp2x_state_dict",
    "mlp2x_to_mvp_keys",
    "parse_perspectives",
    "relational_adjacency",
]
