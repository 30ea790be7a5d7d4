"""MVPConfig: validation naming the train flag, flag parsing, and model-config round trips."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from transformers import LlamaConfig, PretrainedConfig

from emollm_plugin.mvp import MVPConfig, parse_perspectives


def test_defaults_are_the_documented_design():
    cfg = MVPConfig()
    assert cfg.perspectives == ("local", "relational", "global")
    assert (cfg.tau, cfg.fusion, cfg.global_pool, cfg.global_tokens, cfg.hidden_size) == (
        0.5,
        "gate",
        "mean",
        0,
        None,
    )


def test_perspectives_are_canonical_whatever_the_spelling():
    assert parse_perspectives(" Global , local ") == ("local", "global")
    assert MVPConfig(perspectives=["relational", "local"]).perspectives == ("local", "relational")
    assert MVPConfig(perspectives="local").perspectives == ("local",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 3.0}, "--mvp_tau must be in [-1, 1], got 3.0"),
        ({"tau": float("nan")}, "--mvp_tau must be in [-1, 1], got nan"),
        ({"tau": "abc"}, "--mvp_tau must be a number, got 'abc'"),
        (
            {"perspectives": "local,foo"},
            "--mvp_perspectives: unknown perspective 'foo'; choose from local, relational, global",
        ),
        ({"perspectives": "relational,global"}, "--mvp_perspectives must include 'local'"),
        ({"perspectives": ""}, "--mvp_perspectives is empty"),
        ({"perspectives": "local,local"}, "--mvp_perspectives: local given more than once"),
        ({"fusion": "concat"}, "--mvp_fusion must be one of gate, sum, got 'concat'"),
        ({"global_pool": "max"}, "--mvp_global_pool must be one of mean, attention, got 'max'"),
        ({"global_tokens": -1}, "--mvp_global_tokens must be >= 0, got -1"),
        ({"global_tokens": 1.5}, "--mvp_global_tokens must be an integer, got 1.5"),
        (
            {"global_tokens": 2, "perspectives": "local,relational"},
            "--mvp_global_tokens=2 needs the 'global'",
        ),
        ({"hidden_size": 0}, "--mvp_hidden_size must be a positive integer or None, got 0"),
        ({"hidden_size": "wide"}, "--mvp_hidden_size must be an integer, got 'wide'"),
    ],
)
def test_invalid_options_name_the_flag(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MVPConfig(**kwargs)


def test_from_flags_parses_strings_with_or_without_prefix():
    cfg = MVPConfig.from_flags(
        mvp_perspectives="local,global",
        mvp_tau="-0.25",
        fusion="SUM",
        global_pool="attention",
        mvp_global_tokens="2",
        hidden_size="none",
    )
    assert cfg == MVPConfig(("local", "global"), -0.25, "sum", "attention", 2, None)
    assert MVPConfig.from_flags(hidden_size="64", tau=None).hidden_size == 64
    assert MVPConfig.from_flags(tau=None) == MVPConfig()  # None = flag not given


def test_from_flags_rejects_unknown_and_doubled_flags():
    with pytest.raises(ValueError, match=r"unknown MVP flag --mvp_taus"):
        MVPConfig.from_flags(mvp_taus=0.1)
    with pytest.raises(ValueError, match=r"--mvp_tau given twice"):
        MVPConfig.from_flags(tau=0.1, mvp_tau=0.2)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MVPConfig().tau = 0.1


def test_model_config_round_trip_through_save_pretrained(tmp_path):
    cfg = MVPConfig(perspectives="local,relational,global", tau=-1.0, fusion="sum", global_pool="attention",
                    global_tokens=3, hidden_size=48)  # fmt: skip
    model_config = LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=64)
    assert not MVPConfig.present_in(model_config)
    cfg.write_to_model_config(model_config)
    model_config.save_pretrained(tmp_path)

    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["mvp_perspectives"] == "local,relational,global"
    assert stored["mvp_tau"] == -1.0 and stored["mvp_global_tokens"] == 3

    reloaded = LlamaConfig.from_pretrained(tmp_path)
    assert MVPConfig.present_in(reloaded)
    assert MVPConfig.from_model_config(reloaded) == cfg
    assert MVPConfig.from_model_config(PretrainedConfig.from_pretrained(tmp_path)) == cfg


def test_hidden_size_none_survives_json(tmp_path):
    model_config = PretrainedConfig()
    MVPConfig(tau=0.9).write_to_model_config(model_config)
    model_config.save_pretrained(tmp_path)
    reloaded = PretrainedConfig.from_pretrained(tmp_path)
    assert reloaded.mvp_hidden_size is None
    assert MVPConfig.from_model_config(reloaded) == MVPConfig(tau=0.9)


def test_from_model_config_defaults_and_mappings():
    assert MVPConfig.from_model_config(PretrainedConfig()) == MVPConfig()
    mapping = {"mvp_perspectives": ["local", "global"], "mvp_tau": 0.1, "hidden_size": 4096}
    assert MVPConfig.present_in(mapping)
    assert MVPConfig.from_model_config(mapping) == MVPConfig(perspectives=("local", "global"), tau=0.1)
    target: dict = {}
    MVPConfig(fusion="sum").write_to_model_config(target)
    assert target["mvp_fusion"] == "sum" and MVPConfig.from_model_config(target) == MVPConfig(fusion="sum")


def test_invalid_stored_options_name_the_flag():
    with pytest.raises(ValueError, match=re.escape("--mvp_tau must be in [-1, 1], got 2.0")):
        MVPConfig.from_model_config({"mvp_tau": 2.0})


def test_every_option_is_declared_once_with_help_and_every_flag_set_follows():
    import argparse

    from emollm_plugin.mvp.config import add_arguments, add_fields, argv, from_values, options

    names = [field.name for field in dataclasses.fields(MVPConfig)]
    assert [option.name for option in options()] == names
    assert all(len(option.help) > 20 for option in options())
    assert {o.flag: o.default for o in options()} == MVPConfig().to_flags()

    @dataclasses.dataclass
    @add_fields
    class Holder:
        other: int = 1

    holder = Holder(mvp_tau=0.25)
    assert [f.name for f in dataclasses.fields(Holder)] == ["other", *(o.flag for o in options())]
    assert all(f.metadata["help"] for f in dataclasses.fields(Holder) if f.name.startswith("mvp_"))
    assert from_values(holder) == MVPConfig(tau=0.25)

    parser = argparse.ArgumentParser()
    add_arguments(parser, prefix="--mvp-", aliases={"tau": ["--tau"]})
    parsed = parser.parse_args(["--tau", "0.3", "--mvp-global-pool", "attention", "--mvp-hidden-size", "none"])
    assert from_values(parsed) == MVPConfig(tau=0.3, global_pool="attention")
    assert from_values(parser.parse_args(["--mvp-hidden-size", "48"])).hidden_size == 48

    config = MVPConfig(perspectives="local,global", tau=-0.5, global_tokens=2, hidden_size=32)
    flags = argv(config)
    assert flags[:4] == ["--mvp_perspectives", "local,global", "--mvp_tau", "-0.5"]
    back = {flags[i].removeprefix("--"): flags[i + 1] for i in range(0, len(flags), 2)}
    assert MVPConfig.from_flags(**back) == config
    assert "--mvp_hidden_size" not in argv(MVPConfig())  # None is the train flag's default
