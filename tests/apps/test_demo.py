"""The main job: `emollm demo` end to end (synthetic EmoBench, tiny model, sequential MVP training,
EmoPrompt rationales, lmms-eval with the `emollm` model), and the learning it must show."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from emollm_plugin.emobench.tasks import ANSWER_PREFIX, TASKS
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
def test_demo_reports_what_emoprompt_did(demo_run):
    """The accepted rationales the demo prints (0 is a valid count) are the rationale stage's own, and
    stage 2 trained on exactly the targets it says are rationales."""
    out, stdout = demo_run
    [summary_file] = (out / "stages").glob("rationales-*/summary.json")
    total = json.loads(summary_file.read_text())["total"]
    asked = total["accepted"] + total["rejected"] + total["failed"]
    assert asked > 0, "the teacher was asked nothing"
    reported = re.search(r"^EmoPrompt teacher \(\w+\): (\d+) of (\d+) \(.*\) rationales accepted", stdout, re.M)
    assert reported, "the demo must say how many rationales the teacher got accepted"
    assert (int(reported[1]), int(reported[2])) == (total["accepted"], asked)
    # the rationale stage's table, printed while it ran, ends in the same totals
    assert re.search(rf"^total\s+{total['accepted']}\s+{total['rejected']}\s+{total['failed']}\s", stdout, re.M)
    [data] = (out / "stages").glob("emotional-data-*/llava.json")
    targets = [item["conversations"][1]["value"] for item in json.loads(data.read_text())]
    rationale_targets = sum(ANSWER_PREFIX in target for target in targets)
    assert rationale_targets <= total["accepted"]
    used = re.search(r"^stage 2 targets: (\d+) of (\d+)", stdout, re.M)
    assert used and (int(used[1]), int(used[2])) == (rationale_targets, len(targets))


@pytest.mark.slow
def test_demo_runs_emoprompt_for_real(demo_run):
    """By default the synthetic teacher's rationales are accepted, stage 2 trains on them, and the model
    answers in rationale style: nearly every output gives its answer after 'Answer:'."""
    out, stdout = demo_run
    accepted = re.search(r"^EmoPrompt teacher \(synthetic\): (\d+) of (\d+) \(([0-9.]+)%\) rationales accepted",
                         stdout, re.M)
    assert accepted and int(accepted[2]) == 6 * 64 and float(accepted[3]) >= 90.0, stdout[-3000:]
    targets = re.search(r"^stage 2 targets: (\d+) of (\d+) \(([0-9.]+)%\)", stdout, re.M)
    assert targets and float(targets[3]) >= 90.0
    lines = re.search(r"^answer lines: (\d+) of (\d+) \(([0-9.]+)%\) evaluation outputs", stdout, re.M)
    assert lines and int(lines[2]) == 6 * 20 and float(lines[3]) >= 95.0, stdout[-3000:]
    run = load_run(next((out / "stages").glob("eval-*/lmms_eval")))
    with_marker = [s for task in run.tasks.values() for s in task.samples if ANSWER_PREFIX in s.output]
    assert len(with_marker) >= int(lines[1])
    assert sum(len(s.output.split()) >= 8 for s in with_marker) >= 0.9 * len(with_marker)  # reasons, not bare labels


@pytest.mark.slow
def test_demo_rerun_reuses_every_finished_stage(demo_run):
    out, first = demo_run
    result = subprocess.run([sys.executable, "-m", "emollm_plugin.cli", "demo", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "running ->" not in result.stdout, "a finished stage ran again"
    assert first[first.rindex("task     title"):].splitlines()[:9] == \
        result.stdout[result.stdout.rindex("task     title"):].splitlines()[:9]
