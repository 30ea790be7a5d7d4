"""MVPProjector: shapes, the three perspectives, fusion at init, gradients, warm start from mlp2x."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from emollm_plugin.mvp import (
    MVPConfig,
    MVPProjector,
    is_exact_gelu,
    is_mlp2x_state_dict,
    mlp2x_to_mvp_keys,
    relational_adjacency,
)

DV, D = 12, 16


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def mlp2x(dv: int = DV, d: int = D) -> nn.Sequential:
    """LLaVA's mlp2x_gelu projector, as ``build_vision_projector`` makes it."""
    return nn.Sequential(nn.Linear(dv, d), nn.GELU(), nn.Linear(d, d))


def perturb(projector: MVPProjector) -> MVPProjector:
    """Move every MVP-only parameter off its init, as training would, so all paths are live."""
    with torch.no_grad():
        for name, param in projector.named_parameters():
            if not name.startswith(("linear_1", "linear_2")):
                param.normal_(mean=0.0, std=0.5)
    return projector


def views_reference(projector: MVPProjector, x: torch.Tensor) -> list[torch.Tensor]:
    """The perspectives computed naively, one at a time, straight from the equations in docs/mvp.md."""
    cfg = projector.mvp_config
    h = projector.act(projector.linear_1(x))
    views = [h]
    if "relational" in cfg.perspectives:
        views.append(relational_adjacency(x, cfg.tau) @ h)
    if "global" in cfg.perspectives:
        if projector.pool_query is None:
            views.append(h.mean(dim=1, keepdim=True).expand_as(h))
        else:
            weights = torch.softmax(h @ projector.pool_query / h.shape[-1] ** 0.5, dim=1)
            views.append((weights.unsqueeze(-1) * h).sum(dim=1, keepdim=True).expand_as(h))
    return views


# -- shapes -----------------------------------------------------------------------------------------


def test_image_shape_and_hidden_width():
    x = torch.randn(2, 9, DV)
    assert MVPProjector(DV, D)(x).shape == (2, 9, D)
    wide = MVPProjector(DV, D, MVPConfig(hidden_size=40))
    assert wide.linear_1.out_features == 40 and wide.linear_2.in_features == 40
    assert wide(x).shape == (2, 9, D)


def test_video_frames_are_independent_images():
    """Frames flattened into the batch (or as [B, T, N, Dv]) each get their own graph and summary."""
    projector = perturb(MVPProjector(DV, D, MVPConfig(tau=0.0, global_pool="attention")))
    video = torch.randn(2, 3, 7, DV)  # B=2 clips, T=3 frames, N=7 tokens
    flat = projector(video.reshape(6, 7, DV))
    assert flat.shape == (6, 7, D)
    assert torch.allclose(projector(video), flat.reshape(2, 3, 7, D), atol=1e-6)
    one_by_one = torch.cat([projector(frame.unsqueeze(0)) for frame in video.reshape(6, 7, DV)])
    assert torch.allclose(flat, one_by_one, atol=1e-5)
    # Changing one frame changes only that frame's output: no token mixing across frames.
    edited = video.reshape(6, 7, DV).clone()
    edited[4] += 1.0
    changed = (projector(edited) - flat).abs().amax(dim=(1, 2))
    assert changed[4] > 1e-3 and torch.all(changed[[0, 1, 2, 3, 5]] == 0)


def test_global_tokens_are_appended_after_the_n_tokens():
    mlp = mlp2x()
    projector = MVPProjector.from_mlp2x(mlp, MVPConfig(global_tokens=3))
    x = torch.randn(2, 10, DV)
    out = projector(x)
    assert out.shape == (2, 13, D)
    assert torch.equal(out[:, :10], mlp(x))  # the N tokens still start as LLaVA's
    extra = out[:, 10:]
    assert not torch.allclose(extra[:, 0], extra[:, 1])  # distinct queries, distinct tokens
    # Pooled tokens summarise the image, whatever the token order.
    permuted = projector(x[:, torch.randperm(10)])
    assert torch.allclose(permuted[:, 10:], extra, atol=1e-5)


def test_rejects_wrong_feature_width():
    with pytest.raises(ValueError, match=r"expects \[\.\.\., tokens, 12\]"):
        MVPProjector(DV, D)(torch.randn(2, 5, DV + 1))


def test_half_precision_forward():
    projector = MVPProjector(DV, D, MVPConfig(global_pool="attention", global_tokens=1)).to(torch.bfloat16)
    out = projector(torch.randn(2, 6, DV, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and out.shape == (2, 7, D) and torch.isfinite(out).all()


# -- relational graph (tau) -------------------------------------------------------------------------


def test_tau_above_every_similarity_leaves_only_self_loops():
    x = torch.randn(3, 8, DV)
    assert torch.equal(relational_adjacency(x, 0.999), torch.eye(8).expand(3, 8, 8))


def test_tau_minus_one_connects_every_pair():
    x = torch.randn(2, 5, DV)
    x[0, 1] = -x[0, 0]  # an antipodal pair: cosine exactly -1 up to rounding
    assert torch.equal(relational_adjacency(x, -1.0), torch.full((2, 5, 5), 0.2))


def test_tau_keeps_edges_at_or_above_the_threshold():
    x = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.0, 0.0]]])
    # cos(0,1) = 0.995, cos(1,2) = 0.0995, cos(0,2) = 0; the zero token keeps its self-loop.
    expected = torch.tensor(
        [[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )
    assert torch.equal(relational_adjacency(x, 0.9)[0], expected)
    loose = relational_adjacency(x, 0.05)[0]
    assert torch.allclose(loose[1], torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]))
    # A zero token has cosine 0 with every token (F.normalize's convention): linked once tau <= 0.
    assert torch.allclose(relational_adjacency(x, 0.0)[0, 0], torch.full((4,), 0.25))


def test_adjacency_rows_sum_to_one_and_carry_no_gradient():
    x = torch.randn(2, 11, DV, requires_grad=True)
    adjacency = relational_adjacency(x, 0.1)
    assert not adjacency.requires_grad
    assert torch.allclose(adjacency.sum(-1), torch.ones(2, 11))


def test_adjacency_ignores_autocast():
    """Under AMP the similarities stay float32, so edges near tau do not flip."""
    x = torch.randn(2, 256, 64)  # enough pairs near tau for bfloat16 rounding to flip some
    expected = relational_adjacency(x, 0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(relational_adjacency(x, 0.1), expected)


def test_projector_uses_tau():
    """tau changes the output once the gate is open, and tau=-1 makes relational = mean pooling."""
    x = torch.randn(2, 9, DV)
    base = perturb(MVPProjector(DV, D, MVPConfig(perspectives="local,relational", tau=0.999)))
    other = MVPProjector(DV, D, MVPConfig(perspectives="local,relational", tau=0.0))
    other.load_state_dict(base.state_dict())
    assert not torch.allclose(base(x), other(x), atol=1e-4)

    full = MVPProjector(DV, D, MVPConfig(perspectives="local,relational", tau=-1.0))
    mean = MVPProjector(DV, D, MVPConfig(perspectives="local,global", global_pool="mean"))
    full.load_state_dict(base.state_dict())
    mean.load_state_dict(base.state_dict())
    assert torch.allclose(full(x), mean(x), atol=1e-5)


# -- fusion ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg",
    [
        MVPConfig(),
        MVPConfig(global_pool="attention"),
        MVPConfig(perspectives="local,relational", tau=-1.0),
        MVPConfig(perspectives="local"),
        MVPConfig(hidden_size=D),
    ],
)
def test_gate_fusion_at_init_is_exactly_mlp2x(cfg):
    mlp = mlp2x()
    projector = MVPProjector(DV, D, cfg)
    projector.load_state_dict(mlp.state_dict())
    x = torch.randn(3, 10, DV)
    assert torch.equal(projector(x), mlp(x))


def test_gate_fusion_matches_its_definition():
    projector = perturb(MVPProjector(DV, D, MVPConfig(tau=0.1, global_pool="attention")))
    x = torch.randn(2, 9, DV)
    views = views_reference(projector, x)
    h = views[0]
    weights = torch.softmax(nn.functional.linear(x, projector.gate_weight, projector.gate_bias), dim=-1)
    mixed = sum(weights[..., i : i + 1] * view for i, view in enumerate(views))
    expected = projector.linear_2(h + projector.gate_scale * (mixed - h))
    assert torch.allclose(projector(x), expected, atol=1e-5)


def test_sum_fusion_is_the_mean_of_the_perspectives():
    mlp = mlp2x()
    projector = MVPProjector.from_mlp2x(mlp, MVPConfig(fusion="sum", tau=0.2))
    assert projector.gate_weight is None and projector.gate_scale is None  # no fusion parameters
    x = torch.randn(2, 9, DV)
    views = views_reference(projector, x)
    expected = projector.linear_2(sum(views) / 3)
    assert torch.allclose(projector(x), expected, atol=1e-5)
    assert not torch.allclose(projector(x), mlp(x), atol=1e-4)  # an ablation: not LLaVA's output at init


# -- gradients ------------------------------------------------------------------------------------


def _grads(projector: MVPProjector, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    projector.zero_grad(set_to_none=True)
    nn.functional.mse_loss(projector(x), target).backward()
    return {name: param.grad for name, param in projector.named_parameters()}


def test_every_perspective_learns_from_the_first_update():
    """At init only gamma opens the gate; after one SGD step every parameter gets gradient."""
    projector = MVPProjector(DV, D, MVPConfig(tau=0.0, global_pool="attention", global_tokens=2))
    x, target = torch.randn(2, 9, DV), torch.randn(2, 11, D)

    first = _grads(projector, x, target)
    assert first["gate_scale"].abs().sum() > 0 and first["global_queries"].abs().sum() > 0
    assert torch.all(first["gate_weight"] == 0) and torch.all(first["pool_query"] == 0)  # closed gate

    torch.optim.SGD(projector.parameters(), lr=0.5).step()
    second = _grads(projector, x, target)
    for name, grad in second.items():
        assert grad is not None and grad.abs().sum() > 0, name
    # One gate row per perspective (local, relational, global): each is trained.
    assert torch.all(second["gate_weight"].abs().sum(dim=1) > 0)


def test_trunk_and_features_get_gradient_through_every_view():
    projector = perturb(MVPProjector(DV, D, MVPConfig(tau=0.0)))
    x = torch.randn(2, 6, DV, requires_grad=True)
    projector(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert projector.linear_1.weight.grad.abs().sum() > 0


# -- warm start from LLaVA's mlp2x_gelu -----------------------------------------------------------


def test_strict_load_of_an_mlp2x_state_dict_warm_starts_the_trunk():
    mlp = mlp2x()
    state = mlp.state_dict()
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"} and is_mlp2x_state_dict(state)
    projector = MVPProjector(DV, D, MVPConfig(global_pool="attention"))
    result = projector.load_state_dict(state)  # strict, as LLaVA's --pretrain_mm_mlp_adapter does
    assert set(result.missing_keys) == {"gate_weight", "gate_bias", "gate_scale", "pool_query"}
    assert not result.unexpected_keys
    assert torch.equal(projector.linear_1.weight, mlp[0].weight)
    assert torch.equal(projector.linear_2.bias, mlp[2].bias)
    x = torch.randn(2, 8, DV)
    assert torch.equal(projector(x), mlp(x))


def test_from_mlp2x_copies_and_keeps_device_dtype():
    mlp = mlp2x().to(torch.float64)
    projector = MVPProjector.from_mlp2x(mlp)
    assert projector.gate_weight.dtype == torch.float64
    x = torch.randn(2, 5, DV, dtype=torch.float64)
    assert torch.equal(projector(x), mlp(x))
    with torch.no_grad():
        projector.linear_1.weight.add_(1.0)
    assert not torch.equal(projector.linear_1.weight, mlp[0].weight)  # a copy, not shared


def test_warm_start_errors_are_explicit():
    with pytest.raises(RuntimeError, match=r"(?s)mlp2x_gelu state dict .*size mismatch"):
        MVPProjector(DV, D).load_state_dict(mlp2x(DV + 1, D).state_dict())
    with pytest.raises(TypeError, match=r"mlp2x_gelu, nn.Sequential\(Linear, GELU, Linear\)"):
        MVPProjector.from_mlp2x(nn.Sequential(nn.Linear(DV, D), nn.GELU()))
    tanh = nn.Sequential(nn.Linear(DV, D), nn.GELU(approximate="tanh"), nn.Linear(D, D))
    with pytest.raises(ValueError, match=r"exact \(erf\) GELU"):
        MVPProjector.from_mlp2x(tanh)
    with pytest.raises(ValueError, match=r"--mvp_hidden_size=8 does not match the trunk's width 16"):
        MVPProjector.from_mlp2x(mlp2x(), MVPConfig(hidden_size=8))
    assert is_exact_gelu(nn.GELU()) and not is_exact_gelu(nn.SiLU()) and not is_exact_gelu(nn.GELU("tanh"))


def test_other_state_dicts_load_strictly():
    projector = perturb(MVPProjector(DV, D, MVPConfig(global_tokens=2)))
    clone = MVPProjector(DV, D, MVPConfig(global_tokens=2))
    clone.load_state_dict(projector.state_dict())
    x = torch.randn(2, 7, DV)
    assert torch.equal(clone(x), projector(x))
    partial = {k: v for k, v in projector.state_dict().items() if k != "gate_scale"}
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*gate_scale"):
        clone.load_state_dict(partial)


def test_parent_loads_carry_mlp2x_keys_and_renaming_helper():
    """LLaVA loads e.g. ``non_lora_trainables`` through the parent model, non-strictly."""
    mlp = mlp2x()
    parent = nn.Module()
    parent.mm_projector = MVPProjector(DV, D)
    prefixed = {f"mm_projector.{key}": value for key, value in mlp.state_dict().items()}
    result = parent.load_state_dict(prefixed, strict=False)
    assert not result.unexpected_keys
    assert torch.equal(parent.mm_projector.linear_1.weight, mlp[0].weight)

    renamed = mlp2x_to_mvp_keys({**prefixed, "other.0.weight": 1}, prefix="mm_projector.")
    assert set(renamed) == {f"mm_projector.linear_{i}.{p}" for i in (1, 2) for p in ("weight", "bias")} | {
        "other.0.weight"
    }
    with pytest.raises(ValueError, match="both"):
        mlp2x_to_mvp_keys({"0.weight": 1, "linear_1.weight": 2})


def test_config_property_describes_the_projector():
    cfg = MVPProjector(DV, D, MVPConfig(tau=0.3)).config
    assert cfg["mm_projector_type"] == "mvp" and cfg["mvp_tau"] == 0.3
    assert cfg["mvp_perspectives"] == "local,relational,global"
