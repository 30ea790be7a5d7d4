"""MVP's options: one frozen dataclass shared by the train flags, the model config and the projector.

Every option ``X`` has the train flag ``--mvp_X`` and is stored on a model config as the attribute
``mvp_X``, so a checkpoint rebuilds exactly the projector it was trained with. Errors name the train
flag, because that is what a person types.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def optional_int(value: str) -> int | None:
    """A command-line integer that may be ``none`` (the default of ``hidden_size``)."""
    return None if value.strip().lower() in ("", "none", "null") else int(value)


def _option(default: Any, parse: Callable[[str], Any], help_text: str) -> Any:
    """A field of :class:`MVPConfig` with what every flag set needs: the parser of its text form and its help."""
    return dataclasses.field(default=default, metadata={"parse": parse, "help": help_text})


@dataclass(frozen=True)
class MVPConfig:
    """Options of the Multi-perspective Visual Projection (defaults: the design in ``docs/mvp.md``).

    Each option is declared once, here, with its help text; the train flags (``llava_glue.args``),
    the pipeline's fields, the demo's and the bench's options are generated from these fields
    (:func:`options`, :func:`add_fields`, :func:`add_arguments`).
    """

    perspectives: tuple[str, ...] = _option(
        PERSPECTIVES, str,
        "MVP perspectives, comma-separated, from local, relational, global ('local', LLaVA's mlp2x_gelu "
        "trunk, is required).",
    )
    tau: float = _option(
        0.5, float,
        "MVP relational edge threshold on the cosine similarity of vision tokens, in [-1, 1]; -1 connects "
        "every pair, a value above every similarity leaves self-loops only.",
    )
    fusion: str = _option(
        "gate", str,
        "MVP fusion: gate (per-token softmax gate; the output equals mlp2x_gelu at step 0) or sum "
        "(unweighted mean of the perspectives, no parameters; an ablation).",
    )
    global_pool: str = _option(
        "mean", str, "MVP global pooling: mean or attention (a learned query; equals mean at step 0)."
    )
    global_tokens: int = _option(
        0, int,
        "Extra pooled global tokens appended per image/frame (0 keeps LLaVA's token count, which anyres "
        "and transformers-native LLaVA need).",
    )
    hidden_size: int | None = _option(
        None, optional_int, "MVP trunk width (none: the LLM hidden size, like mlp2x_gelu)."
    )

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


# -- every flag set, generated from the fields -------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One MVP option as a flag set declares it: name, text parser, default (flag form) and help."""

    name: str  # tau
    parse: Callable[[str], Any]  # str, float, int or optional_int
    default: Any  # as a flag value: perspectives as "local,relational,global"
    help: str

    @property
    def flag(self) -> str:
        """The train flag's name without dashes, also the model-config attribute: ``mvp_tau``."""
        return PREFIX + self.name

    @property
    def annotation(self) -> Any:
        """The type of a dataclass field holding the flag value (what HfArgumentParser reads)."""
        return int | None if self.parse is optional_int else self.parse


def options() -> tuple[Option, ...]:
    """The options of :class:`MVPConfig`, in declaration order."""
    defaults = MVPConfig().to_flags()
    return tuple(
        Option(f.name, f.metadata["parse"], defaults[PREFIX + f.name], f.metadata["help"])
        for f in dataclasses.fields(MVPConfig)
    )


def add_fields(cls: type) -> type:
    """Class decorator (under ``@dataclass``): one field ``mvp_X`` per option, with its default and help.

    The train flags (LLaVA's ``ModelArguments``) and the pipeline's config get their MVP options this way,
    so none is missing or declared twice.
    """
    annotations = cls.__dict__.get("__annotations__", {})
    cls.__annotations__ = annotations
    for option in options():
        annotations[option.flag] = option.annotation
        setattr(cls, option.flag, dataclasses.field(default=option.default, metadata={"help": option.help}))
    return cls


def add_arguments(parser: Any, prefix: str = "--mvp-", aliases: Mapping[str, Sequence[str]] | None = None) -> None:
    """Add every option to an argparse parser or group as ``<prefix><name>`` (``_`` as ``-``), dest ``mvp_X``.

    ``aliases`` maps an option name to extra spellings (``{"tau": ["--tau"]}``).
    """
    for option in options():
        names = [prefix + option.name.replace("_", "-"), *(aliases or {}).get(option.name, ())]
        parser.add_argument(
            *names, dest=option.flag, type=option.parse, default=option.default, metavar=option.name.upper(),
            help=f"{option.help} (default {option.default})",
        )


def from_values(values: Any) -> MVPConfig:
    """The config from an object or mapping holding ``mvp_X`` values (parsed args, a pipeline config)."""
    get = values.get if isinstance(values, Mapping) else lambda key, default=None: getattr(values, key, default)
    return MVPConfig.from_flags(**{option.flag: get(option.flag) for option in options()})


def argv(config: MVPConfig, prefix: str = "--") -> list[str]:
    """The config as train flags: ``["--mvp_perspectives", "local,relational,global", "--mvp_tau", "0.5", ...]``.

    ``hidden_size`` is left out when it is None (the train flag's default), since HfArgumentParser
    reads no "none" for an optional integer.
    """
    out: list[str] = []
    for flag, value in config.to_flags().items():
        if value is not None:
            out += [prefix + flag, str(value)]
    return out
