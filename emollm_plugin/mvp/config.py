"""MVP's options: one frozen dataclass shared by the train flags, the model config and the projector.

Every option ``X`` has the train flag ``--mvp_X`` and is stored on a model config as the attribute
``mvp_X``, so a checkpoint rebuilds exactly the projector it was trained with. Errors name the train
flag, because that is what a person types.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The perspectives MVP knows, in the canonical order used for the gate's outputs.
PERSPECTIVES: tuple[str, ...] = ("local", "relational", "global")
FUSIONS: tuple[str, ...] = ("gate", "sum")
GLOBAL_POOLS: tuple[str, ...] = ("mean", "attention")

#: Prefix of every option, both on the command line (``--mvp_tau``) and on a model config (``mvp_tau``).
PREFIX = "mvp_"


def _flag(name: str) -> str:
    return f"--{PREFIX}{name}"


def parse_perspectives(value: str | Iterable[str]) -> tuple[str, ...]:
    """Perspectives from a comma string or a sequence, validated and put in canonical order.

    Canonical order makes ``"global,local"`` and ``"local,global"`` build the same module, so a
    checkpoint never depends on how the flag was spelled.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(item).strip().lower() for item in items if str(item).strip()]
    if not names:
        raise ValueError(
            f"{_flag('perspectives')} is empty; it must include 'local', e.g. 'local,relational,global'"
        )
    for name in names:
        if name not in PERSPECTIVES:
            raise ValueError(
                f"{_flag('perspectives')}: unknown perspective {name!r}; choose from {', '.join(PERSPECTIVES)}"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{_flag('perspectives')}: {', '.join(duplicates)} given more than once")
    if "local" not in names:
        raise ValueError(
            f"{_flag('perspectives')} must include 'local' (the LLaVA mlp2x_gelu trunk the others build on), "
            f"got {','.join(names)!r}"
        )
    return tuple(name for name in PERSPECTIVES if name in names)


def _parse_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{_flag(name)} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{_flag(name)} must be a number, got {value!r}") from None


def _parse_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{_flag(name)} must be an integer, got {value!r}")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{_flag(name)} must be an integer, got {value!r}")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{_flag(name)} must be an integer, got {value!r}") from None


def _parse_optional_int(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    return _parse_int(name, value)


@dataclass(frozen=True)
class MVPConfig:
    """Options of the Multi-perspective Visual Projection (defaults = the spec's reconstruction).

    - ``perspectives``: which of local / relational / global to use; ``local`` (LLaVA's trunk) is required.
    - ``tau``: relational edge threshold on the cosine similarity of vision tokens, in [-1, 1];
      -1 connects every pair of tokens, a value above every similarity leaves self-loops only.
    - ``fusion``: ``gate`` (per-token softmax gate, output equals the local perspective at init) or
      ``sum`` (unweighted mean of the perspectives, no parameters; an ablation).
    - ``global_pool``: ``mean`` or ``attention`` (a learned query; equals mean at init).
    - ``global_tokens``: extra pooled tokens ``K`` appended per image/frame; 0 keeps LLaVA's token
      count, which LLaVA's anyres/spatial merges and transformers-native LLaVA require.
    - ``hidden_size``: width of the shared trunk; None = output width, like ``mlp2x_gelu``.
    """

    perspectives: tuple[str, ...] = PERSPECTIVES
    tau: float = 0.5
    fusion: str = "gate"
    global_pool: str = "mean"
    global_tokens: int = 0
    hidden_size: int | None = None

    def __post_init__(self) -> None:
        # Frozen dataclass: normalised values are written with object.__setattr__.
        object.__setattr__(self, "perspectives", parse_perspectives(self.perspectives))

        tau = _parse_float("tau", self.tau)
        if not math.isfinite(tau) or not -1.0 <= tau <= 1.0:
            raise ValueError(f"{_flag('tau')} must be in [-1, 1], got {tau}")
        object.__setattr__(self, "tau", tau)

        fusion = str(self.fusion).strip().lower()
        if fusion not in FUSIONS:
            raise ValueError(f"{_flag('fusion')} must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        object.__setattr__(self, "fusion", fusion)

        pool = str(self.global_pool).strip().lower()
        if pool not in GLOBAL_POOLS:
            raise ValueError(
                f"{_flag('global_pool')} must be one of {', '.join(GLOBAL_POOLS)}, got {self.global_pool!r}"
            )
        object.__setattr__(self, "global_pool", pool)

        tokens = _parse_int("global_tokens", self.global_tokens)
        if tokens < 0:
            raise ValueError(f"{_flag('global_tokens')} must be >= 0, got {tokens}")
        if tokens > 0 and "global" not in self.perspectives:
            raise ValueError(
                f"{_flag('global_tokens')}={tokens} needs the 'global' perspective in {_flag('perspectives')}"
            )
        object.__setattr__(self, "global_tokens", tokens)

        hidden = _parse_optional_int("hidden_size", self.hidden_size)
        if hidden is not None and hidden <= 0:
            raise ValueError(f"{_flag('hidden_size')} must be a positive integer or None, got {hidden}")
        object.__setattr__(self, "hidden_size", hidden)

    # -- flags ---------------------------------------------------------------------------------

    @classmethod
    def from_flags(cls, **flags: Any) -> MVPConfig:
        """Build from train-flag values, given with or without the ``mvp_`` prefix, as strings or typed.

        ``None`` means "flag not given" (the default applies), except for ``hidden_size`` where None
        is itself the default. Unknown names raise, naming the flag.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in flags.items():
            name = key[len(PREFIX) :] if key.startswith(PREFIX) else key
            if name not in known:
                choices = ", ".join(_flag(n) for n in sorted(known))
                raise ValueError(f"unknown MVP flag {_flag(name)}; known flags: {choices}")
            if name in values:
                raise ValueError(f"{_flag(name)} given twice (as {key!r} and with/without the prefix)")
            if value is not None:
                values[name] = value
        return cls(**values)

    def to_flags(self) -> dict[str, Any]:
        """The options as ``{"mvp_X": value}``, JSON-friendly (perspectives as a comma string)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[PREFIX + field.name] = ",".join(value) if field.name == "perspectives" else value
        return out

    # -- model configs -------------------------------------------------------------------------

    @staticmethod
    def present_in(model_config: Any) -> bool:
        """Whether a model config (object or mapping) carries MVP options, i.e. was saved with MVP."""
        names = [PREFIX + field.name for field in dataclasses.fields(MVPConfig)]
        if isinstance(model_config, Mapping):
            return any(name in model_config for name in names)
        return any(hasattr(model_config, name) for name in names)

    @classmethod
    def from_model_config(cls, model_config: Any) -> MVPConfig:
        """Read ``mvp_*`` attributes (or mapping keys) of a model config; missing ones take defaults."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = PREFIX + field.name
            if isinstance(model_config, Mapping):
                present, value = key in model_config, model_config.get(key)
            else:
                present, value = hasattr(model_config, key), getattr(model_config, key, None)
            if present and (value is not None or field.name == "hidden_size"):
                values[field.name] = value
        return cls(**values)

    def write_to_model_config(self, model_config: Any) -> None:
        """Set ``mvp_*`` attributes on a model config so that ``save_pretrained`` stores them."""
        for key, value in self.to_flags().items():
            if isinstance(model_config, dict):
                model_config[key] = value
            else:
                setattr(model_config, key, value)
