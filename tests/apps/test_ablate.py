"""`emollm ablate`: a small sweep on the synthetic set, arms sharing stages, one table per sweep."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from emollm_plugin.apps.ablate import arm_configs, load_config

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
    assert [(s, o, v) for s, o, v, _ in arms] == [
        ("mvp", "projector", "mvp"), ("mvp", "projector", "mlp2x_gelu"), ("tau", "mvp_tau", 0.2), ("tau", "mvp_tau", 0.8)]
    assert arms[2][3].mvp_tau == 0.2 and arms[2][3].emotional_steps == 2


def test_a_foundation_sweep_trains_each_tiny_base_with_its_template(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**SMALL, "sweeps": {"base": {"tiny_llm_type": ["llama", "mistral", "mpt"]}}}))
    arms = arm_configs(load_config(config), tmp_path)
    assert [arm.version for *_, arm in arms] == ["emollm_v1", "emollm_mistral", "emollm_mpt"]
    config.write_text(yaml.safe_dump({**SMALL, "base": {"tiny_llm_type": "gpt2"}}))
    with pytest.raises(ValueError, match="tiny_llm_type must be one of llama, mistral, mpt"):
        load_config(config)


@pytest.mark.slow
def test_small_sweep_runs_resumes_and_writes_table_and_plot(tmp_path):
    config = tmp_path / "ablate.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    command = [sys.executable, "-m", "emollm_plugin.cli", "ablate", "--config", str(config), "--out", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    table = (tmp_path / "out" / "mvp.md").read_text()
    assert "| projector | emo_c |" in table and "| mvp |" in table and "| mlp2x_gelu |" in table
    assert "failed" not in table
    assert (tmp_path / "out" / "mvp.png").stat().st_size > 1000
    assert first.stdout.count("tiny-model: running") == 1, "arms must share the base model stage"
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "running ->" not in second.stdout
    assert (tmp_path / "out" / "mvp.md").read_text() == table
