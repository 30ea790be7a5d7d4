"""`emollm ablate`: a small sweep on the synthetic set, arms sharing stages, one table per sweep."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from emollm_plugin.apps.ablate import (
    ArmResult,
    Spread,
    arm_configs,
    csv_rows,
    exceeds_spread,
    load_config,
    summary_cells,
)
from emollm_plugin.emobench.tasks import TASKS
from tests.apps.tables import markdown_rows
from tests.conftest import REPO

SMALL = {
    "base": {"synth_per_task": 8, "synth_test_per_task": 2, "objective_steps": 2, "emotional_steps": 2,
             "batch_size": 4, "teacher": "none", "order": "emotional_only", "eval_limit": 2},
    "sweeps": {"mvp": {"projector": ["mvp", "mlp2x_gelu"]}},
}


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"sweeps": {"tau": {"mvp_tau": 0.3}}}))
    with pytest.raises(ValueError, match="sweep 'tau' must name one option and a list"):
        load_config(bad)
    bad.write_text(yaml.safe_dump({"base": {"tua": 1}, "sweeps": {"k": {"k": [0]}}}))
    with pytest.raises(ValueError, match="unknown pipeline option.*tua"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_arms_share_data_and_model_stages(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "sweeps": {**SMALL["sweeps"], "tau": {"mvp_tau": [0.2, 0.8]}}}))
    arms = arm_configs(load_config(config), tmp_path)
    assert [(s, o, v) for s, o, v, _, _ in arms] == [
        ("mvp", "projector", "mvp"), ("mvp", "projector", "mlp2x_gelu"), ("tau", "mvp_tau", 0.2), ("tau", "mvp_tau", 0.8)]
    assert arms[2].config.mvp_tau == 0.2 and arms[2].config.emotional_steps == 2


def test_a_foundation_sweep_trains_each_tiny_base_with_its_template(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "sweeps": {"base": {"tiny_llm_type": ["llama", "mistral", "mpt"]}}}))
    arms = arm_configs(load_config(config), tmp_path)
    assert [arm.config.version for arm in arms] == ["emollm_v1", "emollm_mistral", "emollm_mpt"]
    config.write_text(yaml.safe_dump({**SMALL, "base": {"tiny_llm_type": "gpt2"}}))
    with pytest.raises(ValueError, match="tiny_llm_type must be one of llama, mistral, mpt"):
        load_config(config)



def test_seeds_multiply_the_arms_and_set_each_run_seed(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "seeds": [0, 1, 2]}))
    arms = arm_configs(load_config(config), tmp_path)
    assert [(a.value, a.seed) for a in arms] == [(v, s) for v in ("mvp", "mlp2x_gelu") for s in (0, 1, 2)]
    assert [a.config.seed for a in arms] == [0, 1, 2, 0, 1, 2]
    assert len({a.config.out for a in arms}) == 6 and arms[4].config.out.endswith("projector=mlp2x_gelu/seed=1")
    assert {a.config.projector for a in arms[:3]} == {"mvp"} and {a.config.projector for a in arms[3:]} == {"mlp2x_gelu"}
    for bad in ([], [0, 0], [0, "1"], 3):
        config.write_text(yaml.safe_dump({**SMALL, "seeds": bad}))
        with pytest.raises(ValueError, match="seeds must be a list of distinct integers"):
            load_config(config)


def test_two_values_that_are_one_run_are_refused(tmp_path):
    """An arm that collapses into another (here: auto is the synthetic teacher on synthetic data) is an error."""
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "sweeps": {"rationales": {"teacher": ["auto", "synthetic"]}}}))
    with pytest.raises(ValueError, match="teacher='auto' and teacher='synthetic' are the same run"):
        load_config(config)
    config.write_text(yaml.safe_dump({**SMALL, "sweeps": {"k": {"k": [0, 0]}}}))
    with pytest.raises(ValueError, match="lists k=0 twice"):
        load_config(config)


def test_pipeline_teacher_options():
    from emollm_plugin.apps.pipeline import ANSWER_TOKENS, RATIONALE_TOKENS, PipelineConfig

    synthetic = PipelineConfig()
    assert (synthetic.teacher, synthetic.max_new_tokens) == ("synthetic", RATIONALE_TOKENS)
    real = PipelineConfig(emobench_dir="/data/emobench")
    assert real.teacher == "local" and real.teacher_model is None
    assert PipelineConfig(teacher="none").max_new_tokens == ANSWER_TOKENS
    assert PipelineConfig(teacher="none", max_new_tokens=12).max_new_tokens == 12
    with pytest.raises(ValueError, match="teacher must be one of auto, synthetic, local, api, none"):
        PipelineConfig(teacher="stage1")
    with pytest.raises(ValueError, match="teacher 'api' needs teacher_model"):
        PipelineConfig(teacher="api")
    with pytest.raises(ValueError, match="k > 0 needs rationales"):
        PipelineConfig(teacher="none", k=1)
    with pytest.raises(ValueError, match="order 'joint' does not train"):
        PipelineConfig(emobench_dir="/data/emobench", order="joint")
    assert PipelineConfig(order="joint", k=2).teacher == "synthetic"  # no stage-1 model needed
    with pytest.raises(ValueError, match="synth_difficulty must be one of easy, hard"):
        PipelineConfig(synth_difficulty="medium")


def _scores(mean: float, **tasks: float) -> dict:
    return {**dict.fromkeys(TASKS, mean), **tasks, "mean": mean}


def test_spread_and_marking_follow_the_seeds():
    assert Spread((0.5, 0.6, 0.7)).mean == pytest.approx(0.6)
    assert Spread((0.5, 0.6, 0.7)).std == pytest.approx(0.1)
    assert (Spread((0.5, 0.7)).low, Spread((0.5, 0.7)).high, Spread((0.4,)).std) == (0.5, 0.7, 0.0)
    first = Spread((0.50, 0.55, 0.60))
    assert exceeds_spread(Spread((0.61, 0.70, 0.65)), first)  # ranges apart, above
    assert exceeds_spread(Spread((0.30, 0.49)), first)  # ... and below
    assert not exceeds_spread(Spread((0.60, 0.80, 0.90)), first)  # touches the first arm's range
    assert not exceeds_spread(Spread((0.9,)), first) and not exceeds_spread(Spread((0.9, 0.9)), Spread((0.1,)))
    assert not exceeds_spread(None, first)


def test_table_keeps_each_arm_its_own_and_marks_only_beyond_the_spread():
    """Fake results of three arms: each row shows its own numbers (no two arms collapse into one)."""
    arms = [
        ArmResult("mvp", ((0, _scores(0.50)), (1, _scores(0.55)), (2, _scores(0.60)))),
        ArmResult("mlp2x_gelu", ((0, _scores(0.70, hate=0.55)), (1, _scores(0.75, hate=0.58)),
                                 (2, _scores(0.80, hate=0.52)))),
        ArmResult("other", ((0, _scores(0.58)), (1, None), (2, _scores(0.52)))),
    ]
    rows = summary_cells(arms)
    header = ["value", "runs", *TASKS, "mean", "delta"]
    table = [dict(zip(header, row, strict=True)) for row in rows]
    assert [r["value"] for r in table] == ["mvp", "mlp2x_gelu", "other"]
    assert table[0]["mean"] == "55.0 ± 5.0" and table[0]["delta"] == "-"
    assert table[1]["mean"] == "75.0 ± 5.0 *" and table[1]["delta"] == "+20.0"
    assert table[1]["hate"] == "55.0 ± 3.0" and table[1]["emo_c"] == "75.0 ± 5.0 *"  # hate overlaps: no mark
    assert table[2]["runs"] == "2/3" and table[2]["mean"] == "55.0 ± 4.2" and table[2]["delta"] == "+0.0"
    assert summary_cells([ArmResult("x", ((0, None),))])[0][1:3] == ["0/1", "failed"]
    rows = csv_rows("projector", arms)
    assert rows[0] == ["projector", "seed", *TASKS, "mean"]
    assert rows[1][:2] == ["mvp", 0] and rows[8][-1] == "failed"
    assert ["mlp2x_gelu", "min", *["70.0"] * 3, "52.0", "70.0", "70.0", "70.0"] in rows
    assert ["other", "max", *["58.0"] * 7] in rows


@pytest.mark.slow
def test_small_sweep_runs_resumes_and_writes_table_and_plot(tmp_path):
    config = tmp_path / "ablate.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    command = [sys.executable, "-m", "emollm_plugin.cli", "ablate", "--config", str(config), "--out", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    table = (tmp_path / "out" / "mvp.md").read_text()
    assert [row[0] for row in markdown_rows(table)] == ["projector", "mvp", "mlp2x_gelu"]  # one row per arm
    assert "failed" not in table
    # Two arms, two runs: each arm's config names its projector, and each trained and scored its own model.
    arms = {arm: json.loads((tmp_path / "out" / "arms" / "mvp" / f"projector={arm}" / "config.json").read_text())
            for arm in ("mvp", "mlp2x_gelu")}
    assert {arm: config["projector"] for arm, config in arms.items()} == {"mvp": "mvp", "mlp2x_gelu": "mlp2x_gelu"}
    stages = tmp_path / "out" / "stages"
    trained = sorted(stages.glob("train-emotional-*/model/config.json"))
    assert len(trained) == 2, trained
    assert {json.loads(path.read_text())["mm_projector_type"] for path in trained} == {"mvp", "mlp2x_gelu"}
    assert len(list(stages.glob("eval-*/lmms_eval"))) == 2
    assert (tmp_path / "out" / "mvp.png").stat().st_size > 1000
    assert first.stdout.count("tiny-model: running") == 1, "arms must share the base model stage"
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "running ->" not in second.stdout
    assert (tmp_path / "out" / "mvp.md").read_text() == table


@pytest.mark.parametrize("path", sorted((REPO / "scripts" / "ablate").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configurations_load_with_three_seeds_per_arm(path, tmp_path):
    """The configurations the README's tables come from: valid options, no two values that are one run."""
    config = load_config(path)
    arms = arm_configs(config, tmp_path)
    assert len(config["seeds"]) >= 3 and arms
    for sweep, spec in config["sweeps"].items():
        (values,) = spec.values()
        assert sum(arm[0] == sweep for arm in arms) == len(values) * len(config["seeds"]), sweep
