"""Multi-perspective Visual Projection (MVP), pure torch: vision features in, LLM embeddings out.

Reconstructed: the paper's equations were never released; the design, its equations and its cost
are written down in the repository's ``docs/mvp.md``. MVP sits where LLaVA's ``mm_projector`` sits
and keeps its trunk, so a LLaVA-1.5 ``mlp2x_gelu`` checkpoint warm-starts it and, with the default
gate fusion, MVP's output equals that checkpoint's output at step 0.

For ``X`` of shape ``[B, N, Dv]`` (``h = GELU(X W1)``, width ``H``):

- local:      ``h`` (LLaVA's ``mlp2x_gelu`` before its second layer);
- relational: ``A h`` with ``A`` the row-normalised graph ``cos(x_i, x_j) >= tau`` plus self-loops,
  built on the *input* features (:func:`relational_adjacency`);
- global:     a pooled summary of ``h`` (mean, or attention with a learned query) broadcast to every
  token, and optionally ``K`` extra pooled tokens appended after the ``N`` tokens.

The perspectives are fused in hidden space and share the output layer ``W2``, so MVP costs one
extra ``N x N`` by ``N x H`` matmul per image in the forward pass, not one MLP per perspective.

Every leading index of the input is an independent image: video frames arrive flattened into the
batch (``[B*T, N, Dv]``) or as ``[B, T, N, Dv]``, and the relational graph and the global summary are
per frame, O(N^2) per frame, never O((T*N)^2). LLaVA-NeXT crops are likewise independent images.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from emollm_plugin.mvp.config import MVPConfig

#: LLaVA ``mlp2x_gelu`` (``nn.Sequential(Linear, GELU, Linear)``) state-dict keys -> MVP trunk keys.
MLP2X_KEYS: dict[str, str] = {
    "0.weight": "linear_1.weight",
    "0.bias": "linear_1.bias",
    "2.weight": "linear_2.weight",
    "2.bias": "linear_2.bias",
}
TRUNK_KEYS: frozenset[str] = frozenset(MLP2X_KEYS.values())


def relational_adjacency(features: torch.Tensor, tau: float) -> torch.Tensor:
    """Row-normalised token graph of each image: ``[..., N, Dv] -> [..., N, N]`` (float32).

    Edge ``i -> j`` is kept when ``cos(x_i, x_j) >= tau``; self-loops are always kept, so a row is
    never empty. An all-zero token has cosine 0 with every token (``F.normalize``'s convention): it
    is linked to all tokens once ``tau <= 0``, to none but itself above. ``tau <= -1`` connects every
    pair without computing the similarities, since rounding can put an antipodal pair at
    ``-1 - eps``. The graph is piecewise constant in the features, so it carries no gradient and is
    built without autograd, in float32 so that half-precision rounding does not flip edges near tau.
    """
    if features.dim() < 2:
        raise ValueError(f"relational_adjacency expects [..., N, Dv], got shape {tuple(features.shape)}")
    n = features.shape[-2]
    lead = features.shape[:-2]
    if tau <= -1.0:
        return torch.full((*lead, n, n), 1.0 / max(n, 1), device=features.device, dtype=torch.float32)
    # No autocast: under AMP the float32 similarities would be rounded back to half precision.
    with torch.no_grad(), torch.autocast(device_type=features.device.type, enabled=False):
        unit = F.normalize(features.detach().float(), dim=-1)
        edges = unit @ unit.transpose(-1, -2) >= tau
        edges.diagonal(dim1=-2, dim2=-1).fill_(True)  # self-loops
        adjacency = edges.float()
        return adjacency / adjacency.sum(dim=-1, keepdim=True)


def is_mlp2x_state_dict(state_dict: Mapping[str, Any]) -> bool:
    """Whether ``state_dict`` is exactly a LLaVA ``mlp2x_gelu`` projector's (keys ``0.*`` and ``2.*``)."""
    keys = set(state_dict)
    return {"0.weight", "2.weight"} <= keys and keys <= set(MLP2X_KEYS)


def mlp2x_to_mvp_keys(state_dict: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Rename ``{prefix}0.*`` / ``{prefix}2.*`` to MVP's trunk names; other keys pass through.

    For loaders that bypass ``nn.Module.load_state_dict`` (e.g. transformers' ``from_pretrained``),
    which otherwise would silently leave the trunk at random init.
    """
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        local = key[len(prefix) :] if key.startswith(prefix) else None
        new = prefix + MLP2X_KEYS[local] if local in MLP2X_KEYS else key
        if new in out or (new != key and new in state_dict):
            raise ValueError(f"state dict holds both {key!r} and {new!r}; cannot tell which trunk to load")
        out[new] = value
    return out


def is_exact_gelu(act: nn.Module) -> bool:
    """Whether ``act`` computes the erf GELU (LLaVA's ``nn.GELU()``, transformers' ``"gelu"``).

    Probed numerically, so any module class qualifies; the tanh approximation and QuickGELU do not.
    """
    probe = torch.linspace(-6.0, 6.0, 241)
    try:
        with torch.no_grad():
            got = act(probe)
    except Exception:
        return False
    return (
        isinstance(got, torch.Tensor)
        and got.shape == probe.shape
        and bool(torch.allclose(got.float(), F.gelu(probe), atol=1e-6, rtol=0.0))
    )


def _rename_mlp2x_pre_hook(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    """Load-time hook: lets a parent's ``load_state_dict`` carry ``mm_projector.0.weight``-style keys."""
    for old, new in MLP2X_KEYS.items():
        if prefix + old in state_dict and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)


class MVPProjector(nn.Module):
    """Multi-perspective Visual Projection: ``[..., N, Dv] -> [..., N + K, D]``.

    Gate fusion is a zero-initialised residual over a per-token softmax gate::

        w = softmax(x Wg + bg)                      # per token, from its vision feature, over P views
        fused = h + gamma * (sum_p w_p h_p - h)     # gamma: per-channel, zero at init
        out = fused W2

    With ``gamma = 0`` the output equals the local perspective *exactly* (bit for bit the same ops as
    ``nn.Sequential(Linear, GELU, Linear)``). At step 0 only ``gamma`` (and the trunk) receive
    gradient; from the first update on, the gate, the attention-pool query and the relational/global
    paths do too. The gate reads the vision feature ``x`` rather than ``h`` so that, with a frozen
    vision tower, its backward stops at its own parameters. ``sum`` fusion averages the
    perspectives with no parameters and does not reproduce the local output at init.

    Each view is a token-mixing matrix applied to ``h`` (local ``I``, relational ``A``, global
    ``1 p^T``), so the gate mixes ``N x N`` matrices and one batched matmul applies them: the extra
    cost over ``mlp2x_gelu`` is about ``3 * 2 * N^2 * H`` FLOPs per image for forward+backward.

    Parameters: ``linear_1`` (W1), ``linear_2`` (W2), and, when used, ``gate_weight``/``gate_bias``
    (Wg ``[P, Dv]``, bg ``[P]``), ``gate_scale`` (gamma, ``[H]``), ``pool_query`` (``[H]``; zero =
    mean pooling at init) and ``global_queries`` (``[K, H]``, queries of the extra tokens).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        config: MVPConfig | None = None,
        *,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        config = MVPConfig() if config is None else config
        if not isinstance(config, MVPConfig):
            raise TypeError(f"config must be an MVPConfig, got {type(config).__name__}")
        self.mvp_config = config
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.hidden_features = config.hidden_size or self.out_features
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = self.hidden_features

        self.linear_1 = nn.Linear(self.in_features, hidden, bias=bias, **factory)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(hidden, self.out_features, bias=bias, **factory)

        n_views = len(config.perspectives)
        use_gate = config.fusion == "gate" and n_views > 1
        # Plain parameters, not an nn.Linear: initialised here, before DeepSpeed ZeRO-3 partitions
        # them, and left alone by transformers' per-module ``_init_weights``.
        self.gate_weight = (
            nn.Parameter(torch.empty(n_views, self.in_features, **factory)) if use_gate else None
        )
        self.gate_bias = nn.Parameter(torch.empty(n_views, **factory)) if use_gate else None
        self.gate_scale = nn.Parameter(torch.empty(hidden, **factory)) if use_gate else None
        use_query = "global" in config.perspectives and config.global_pool == "attention"
        self.pool_query = nn.Parameter(torch.empty(hidden, **factory)) if use_query else None
        k = config.global_tokens
        self.global_queries = nn.Parameter(torch.empty(k, hidden, **factory)) if k > 0 else None
        self.reset_mvp_parameters()
        self.register_load_state_dict_pre_hook(_rename_mlp2x_pre_hook)

    # -- construction ----------------------------------------------------------------------------

    def reset_mvp_parameters(self) -> None:
        """Initialise everything but the trunk so that MVP starts as the local perspective."""
        with torch.no_grad():
            if self.gate_scale is not None:
                self.gate_weight.zero_()
                self.gate_bias.zero_()
                self.gate_scale.zero_()
            if self.pool_query is not None:
                self.pool_query.zero_()
            if self.global_queries is not None:
                # Distinct queries so the K extra tokens differ; scores are scaled by 1/sqrt(H).
                self.global_queries.normal_(mean=0.0, std=1.0)

    @classmethod
    def from_trunk(
        cls,
        linear_1: nn.Linear,
        linear_2: nn.Linear,
        config: MVPConfig | None = None,
        act: nn.Module | None = None,
    ) -> MVPProjector:
        """An MVP projector whose W1/W2 are copies of ``linear_1``/``linear_2`` (same device and dtype).

        ``act``, if given, must be the exact GELU MVP uses, else outputs would change at step 0.
        """
        if not isinstance(linear_1, nn.Linear) or not isinstance(linear_2, nn.Linear):
            raise TypeError(
                f"trunk must be two nn.Linear, got {type(linear_1).__name__}, {type(linear_2).__name__}"
            )
        if act is not None and not is_exact_gelu(act):
            raise ValueError(f"MVP's trunk uses the exact (erf) GELU; the projector's activation is {act!r}")
        hidden = linear_1.out_features
        if linear_2.in_features != hidden:
            raise ValueError(f"trunk widths do not chain: {linear_1} then {linear_2}")
        if (linear_1.bias is None) != (linear_2.bias is None):
            raise ValueError("trunk layers must both have a bias or both lack one")
        config = MVPConfig() if config is None else config
        if config.hidden_size not in (None, hidden):
            raise ValueError(
                f"--mvp_hidden_size={config.hidden_size} does not match the trunk's width {hidden}"
            )
        if config.hidden_size is None and hidden != linear_2.out_features:
            config = dataclasses.replace(config, hidden_size=hidden)
        weight = linear_1.weight
        projector = cls(
            linear_1.in_features,
            linear_2.out_features,
            config,
            bias=linear_1.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            for source, target in ((linear_1, projector.linear_1), (linear_2, projector.linear_2)):
                target.weight.copy_(source.weight)
                target.weight.requires_grad_(source.weight.requires_grad)
                if source.bias is not None:
                    target.bias.copy_(source.bias)
                    target.bias.requires_grad_(source.bias.requires_grad)
        return projector

    @classmethod
    def from_mlp2x(cls, mlp: nn.Module, config: MVPConfig | None = None) -> MVPProjector:
        """Warm-start from a LLaVA ``mlp2x_gelu`` module, ``nn.Sequential(Linear, GELU, Linear)``."""
        layers = list(mlp.children()) if isinstance(mlp, nn.Sequential) else []
        if len(layers) != 3 or not isinstance(layers[0], nn.Linear) or not isinstance(layers[2], nn.Linear):
            raise TypeError(f"expected LLaVA's mlp2x_gelu, nn.Sequential(Linear, GELU, Linear); got {mlp!r}")
        return cls.from_trunk(layers[0], layers[2], config, act=layers[1])

    # -- LLaVA interop ---------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """Like LLaVA's ``IdentityMap.config``: the projector type and its options."""
        return {"mm_projector_type": "mvp", **self.mvp_config.to_flags()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Load normally, except that a LLaVA ``mlp2x_gelu`` state dict loads the trunk (W1, W2).

        LLaVA's ``--pretrain_mm_mlp_adapter`` path calls this strictly with ``0.*``/``2.*`` keys; the
        remaining parameters keep their init (so the output equals the adapter's) and are returned
        as ``missing_keys``. Any other state dict loads with the usual ``strict`` semantics.
        """
        if not is_mlp2x_state_dict(state_dict):
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        has_bias = self.linear_1.bias is not None
        if has_bias != ("0.bias" in state_dict and "2.bias" in state_dict):
            raise ValueError(
                f"mlp2x state dict keys {sorted(state_dict)} do not match this projector's bias={has_bias}"
            )
        try:
            result = super().load_state_dict(dict(state_dict), strict=False, assign=assign)
        except RuntimeError as error:
            raise RuntimeError(
                f"cannot warm-start {self.extra_repr()} from an mlp2x_gelu state dict "
                f"(0.* -> linear_1, 2.* -> linear_2): {error}"
            ) from error
        trunk_missing = sorted(TRUNK_KEYS.intersection(result.missing_keys))
        if result.unexpected_keys or trunk_missing:
            raise RuntimeError(
                f"mlp2x warm start incomplete: missing {trunk_missing}, unexpected {result.unexpected_keys}"
            )
        return result

    # -- forward ---------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"MVPProjector expects [..., tokens, {self.in_features}] (video: frames flattened into the "
                f"batch), got shape {tuple(x.shape)}"
            )
        lead, n = x.shape[:-2], x.shape[-2]
        images = x.reshape(math.prod(lead), n, self.in_features)
        h = self.act(self.linear_1(images))
        out = self.linear_2(self._fuse(images, h, self._operators(images, h)))
        if self.global_queries is not None:
            extra = self.linear_2(self._attention_pool(h, self.global_queries))
            out = torch.cat([out, extra], dim=1)
        return out.reshape(*lead, out.shape[1], self.out_features)

    def _operators(self, images: torch.Tensor, h: torch.Tensor) -> list[torch.Tensor]:
        """Token-mixing matrices ``P_p`` (float32, ``[B or 1, N, N]``) of the non-local perspectives.

        Every perspective is linear in ``h`` per image: local is ``I``, relational is ``A``, global is
        ``1 p^T`` (``p`` the pooling weights: uniform for mean, softmax for attention). Fusing the
        matrices first and applying one ``N x N`` matmul to ``h`` avoids a dozen ``[B, N, H]``
        elementwise passes (forward and backward), which dominated MVP's cost on CPU.
        """
        operators = []
        batch, n = h.shape[0], h.shape[1]
        perspectives = self.mvp_config.perspectives
        if "relational" in perspectives:
            operators.append(relational_adjacency(images, self.mvp_config.tau))
        if "global" in perspectives:
            if self.pool_query is None:
                operators.append(torch.full((1, n, n), 1.0 / n, device=h.device, dtype=torch.float32))
            else:
                weights = self._pool_weights(h, self.pool_query.unsqueeze(0))  # [B, N, 1]
                operators.append(weights.transpose(1, 2).expand(batch, n, n))
        return operators

    def _pool_weights(self, h: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """Attention-pooling weights of ``[Q, H]`` queries over the tokens: ``[B, N, Q]`` float32."""
        scores = (h @ queries.transpose(0, 1)).float() / math.sqrt(h.shape[-1])
        return torch.softmax(scores, dim=1)

    def _attention_pool(self, h: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """``[B, N, H]`` pooled by ``[Q, H]`` queries -> ``[B, Q, H]``."""
        return self._pool_weights(h, queries).to(h.dtype).transpose(1, 2) @ h

    def _fuse(self, images: torch.Tensor, h: torch.Tensor, operators: list[torch.Tensor]) -> torch.Tensor:
        """Fused hidden tokens: ``h + gamma * (sum_p w_p P_p h - h)`` (gate) or ``mean_p P_p h`` (sum)."""
        if not operators:
            return h
        n = h.shape[1]
        eye = torch.eye(n, device=h.device, dtype=torch.float32)
        if self.gate_scale is None:  # sum fusion: unweighted mean, keeps a warm-started W2's input scale
            mixing = eye
            for operator in operators:
                mixing = mixing + operator
            mixing = mixing / (len(operators) + 1)
            return torch.matmul(mixing.to(h.dtype), h)
        logits = F.linear(images, self.gate_weight, self.gate_bias)
        weights = torch.softmax(logits.float(), dim=-1)  # [B, N, P], local first
        # sum_p w_p P_p - I == sum_{p>0} w_p (P_p - I), because the weights sum to 1 and P_local = I.
        delta = weights[..., 1:2] * (operators[0] - eye)
        for index, operator in enumerate(operators[1:], start=2):
            delta = delta + weights[..., index : index + 1] * (operator - eye)
        return torch.addcmul(h, torch.bmm(delta.to(h.dtype), h), self.gate_scale)

    def extra_repr(self) -> str:
        cfg = self.mvp_config
        return (
            f"in={self.in_features}, hidden={self.hidden_features}, out={self.out_features}, "
            f"perspectives={','.join(cfg.perspectives)}, tau={cfg.tau}, fusion={cfg.fusion}, "
            f"global_pool={cfg.global_pool}, global_tokens={cfg.global_tokens}"
        )
