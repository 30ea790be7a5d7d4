"""The main job: `emollm demo` end to end (synthetic EmoBench, tiny model, sequential MVP training,
EmoPrompt rationales, lmms-eval with the `emollm` model), and the learning it must show."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import load_run

#: Chance accuracy per sub-task on the synthetic set (6 emotions, 4 intents, yes/no).
CHANCE = {"emo_c": 1 / 6, "emo_o": 1 / 6, "intent": 1 / 4, "hate": 1 / 2, "humor": 1 / 2, "sarcasm": 1 / 2}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "emollm_plugin.cli", "demo", "--out", str(out)],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out, result.stdout


@pytest.mark.slow
def test_demo_learns_emobench_far_beyond_chance(demo_run):
    out, stdout = demo_run
    table = stdout[stdout.rindex("task     title"):]
    for task in TASKS:
        assert re.search(rf"^{task}\s", table, re.M), f"{task} missing from the printed table"
    mean = float(re.search(r"^mean\s+mean of the six accuracies\s+([0-9.]+)", table, re.M).group(1))
    run_dir = next((out / "stages").glob("eval-*/lmms_eval"))
    run = load_run(run_dir)
    assert run.mean_accuracy * 100 == pytest.approx(mean, abs=0.05)
    # 20 held-out samples per sub-task, 120 in all. Chance averages 35% over the six; under chance,
    # P(mean >= 80%) < 1e-20, and P(>= 12/20 right) < 1e-4 for a 6-way task. Measured: 100% on each.
    assert run.mean_accuracy >= 0.80
    for task, result in run.tasks.items():
        assert result.accuracy >= (0.60 if CHANCE[task] < 0.5 else 0.75), (task, result.accuracy)
    assert (out / "report" / "report.md").is_file() and (out / "report" / "per_task.png").is_file()


@pytest.mark.slow
def test_demo_rerun_reuses_every_finished_stage(demo_run):
    out, first = demo_run
    result = subprocess.run([sys.executable, "-m", "emollm_plugin.cli", "demo", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "running ->" not in result.stdout, "a finished stage ran again"
    assert first[first.rindex("task     title"):].splitlines()[:9] == \
        result.stdout[result.stdout.rindex("task     title"):].splitlines()[:9]
