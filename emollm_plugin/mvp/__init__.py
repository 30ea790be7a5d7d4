"""Pure-torch Multi-perspective Visual Projection (MVP).

``MVPConfig`` holds the options (train flags ``--mvp_*``, model-config attributes ``mvp_*``),
``MVPProjector`` is the module that replaces LLaVA's ``mm_projector``, and ``swap_in_mvp`` /
``load_mvp_model`` put it into transformers-native LLaVA models (transformers is imported only when
those are called, so this package needs torch alone).
"""

from emollm_plugin.mvp.config import FUSIONS, GLOBAL_POOLS, PERSPECTIVES, MVPConfig, parse_perspectives
from emollm_plugin.mvp.native import load_mvp_model, swap_in_mvp
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
    "load_mvp_model",
    "mlp2x_to_mvp_keys",
    "parse_perspectives",
    "relational_adjacency",
    "swap_in_mvp",
]
