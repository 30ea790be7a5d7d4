"""The log-likelihood EmoBench tasks (emobench_<task>_ll): lmms-eval's multiple_choice, calibration metrics.

Loaded by lmms-eval's own TaskManager; end to end through ``emollm eval`` with lmms-eval's ``dummy``
model (every option gets log-likelihood 0, so every question is a uniform tie: the numbers below
are worked out by hand from tests/emobench_fixtures.ANSWERS) and with the trained tiny EmoLLM.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from emollm_plugin.emobench.calibration import summarize
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS
from emollm_plugin.lmms_glue.evaluate import expand_tasks, lmms_task_arg, tasks_dir
from emollm_plugin.lmms_glue.results import LL_TASKS, load_run
from tests.emobench_fixtures import DUMMY_RESPONSE, build_emobench

LL_NAMES = [f"emobench_{task}" for task in LL_TASKS]
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def manager():
    from lmms_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir()))


@pytest.fixture(scope="module")
def emobench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_emobench(tmp_path_factory.mktemp("emobench"))


def load(manager, names: list[str]) -> dict:
    from lmms_eval.tasks import get_task_dict

    flat = {}
    for key, value in get_task_dict(names, manager).items():
        flat.update(value if isinstance(value, dict) else {key: value})
    return flat


@pytest.fixture
def tasks(manager, emobench: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("EMOBENCH_DIR", str(emobench))
    monkeypatch.delenv("EMOBENCH_K", raising=False)
    monkeypatch.delenv("EMOBENCH_EXEMPLARS", raising=False)
    return load(manager, ["emobench", "emobench_ll"])


def test_group_and_tasks_are_indexed(manager, emobench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.tasks import get_task_dict

    for name in LL_NAMES:
        assert manager.task_index[name]["type"] == "python_task"
        assert Path(manager.task_index[name]["yaml_path"]).parent == tasks_dir()
    monkeypatch.setenv("EMOBENCH_DIR", str(emobench))
    loaded = get_task_dict(["emobench_ll"], manager)
    (group,) = loaded
    assert group.group_name == "emobench_ll" and sorted(loaded[group]) == sorted(LL_NAMES)
    aggregates = {item["metric"]: item for item in group.config["aggregate_metric_list"]}
    assert set(aggregates) == {"accuracy", "ece", "brier"}
    assert all(item["weight_by_size"] is False for item in aggregates.values())
    for task in loaded[group].values():  # group metrics are matched by substring
        assert task.OUTPUT_TYPE == "multiple_choice"
        for metric in task.aggregation():
            assert [m for m in aggregates if m in metric] in ([], [metric])


def test_same_prompt_one_request_per_option(tasks: dict) -> None:
    for task in TASKS:
        ll, gen = tasks[f"emobench_{task}_ll"], tasks[f"emobench_{task}"]
        for doc_id, doc in enumerate(ll.test_docs()):
            assert ll.doc_to_text(doc) == gen.doc_to_text(doc)
            expected = {"emo_c": LABEL_SETS["ekman7"], "emo_o": LABEL_SETS["ekman7"],
                        "intent": LABEL_SETS["mintrec20"]}.get(task, ("yes", "no"))
            assert ll.doc_to_choice(doc) == list(expected)
            requests = ll.construct_requests(doc_id, ll.doc_to_text(doc), metadata={"task": ll.config.task,
                                                                                  "doc_id": doc_id, "repeats": 1,
                                                                                  "split": "test"})
            assert [r.request_type for r in requests] == ["loglikelihood"] * len(expected)
            assert [r.args[1] for r in requests] == [" " + option for option in expected]
            assert {r.args[0] for r in requests} == {gen.doc_to_text(doc)}


def test_gen_kwargs_of_a_mixed_run_do_not_break_ll_tasks(tasks: dict) -> None:
    # `emollm eval --tasks emobench,emobench_ll --max-new-tokens 256`: lmms-eval merges --gen_kwargs into all
    for name in LL_NAMES:
        tasks[name].set_config(key="generation_kwargs", value={"max_new_tokens": 256}, update=True)


def test_process_results_softmax_over_the_options(tasks: dict) -> None:
    task = tasks["emobench_emo_c_ll"]
    doc = task.test_docs()[0]  # answer joy; options anger, disgust, fear, joy, neutral, sadness, surprise
    probs = [0.05, 0.05, 0.1, 0.6, 0.1, 0.05, 0.05]
    # log-probabilities (emollm), lmms-eval 0.7.3's str() of the pair, and losses (llava_hf): one reading
    for results in (
        [(math.log(p), False) for p in probs],
        [str((math.log(p), False)) for p in probs],
        [(-math.log(p), False) for p in probs],
    ):
        out = task.process_results(doc, results)
        assert out["accuracy"] == 1.0
        info = out["ece"]
        assert info["parsed"] == "joy" and info["target"] == "joy"
        assert info["probs"] == pytest.approx(probs)
        assert all(out[key] == info for key in ("macro_f1", "uar", "brier", "auroc", "acc_cov50"))
    wrong = task.process_results(doc, [(0.0, True)] + [(-5.0, False)] * 6)
    assert wrong["accuracy"] == 0.0 and wrong["brier"]["parsed"] == "anger"
    with pytest.raises(ValueError, match="mix signs"):
        task.process_results(doc, [(-1.0, False), (1.0, False)] + [(-1.0, False)] * 5)
    # the model could not decode the media when it was asked: counted as missing, never scored
    for unreadable in ([(math.nan, False)] * 7, [str((math.nan, False))] * 7):
        out = task.process_results(doc, unreadable)
        assert out["scored"] == 0.0 and "log-likelihood nan" in out["missing"]["problem"] and "accuracy" not in out


def test_aggregations_by_hand(tasks: dict) -> None:
    task = tasks["emobench_hate_ll"]
    # (probability of yes, truth): confidence .9 right, .8 wrong (says yes), .7 right (says no), .5 wrong (tie: yes)
    cases = [(0.9, "yes"), (0.8, "no"), (0.3, "no"), (0.5, "no")]
    items = [{"options": ["yes", "no"], "probs": [p, 1 - p], "target": t, "parsed": None} for p, t in cases]
    agg = task.aggregation()
    assert agg["ece"](items) == pytest.approx((0.1 + 0.8 + 0.3 + 0.5) / 4)
    # Brier: .02 + 1.28 + .18 + .5
    assert agg["brier"](items) == pytest.approx((0.02 + 1.28 + 0.18 + 0.5) / 4)
    assert agg["auroc"](items) == pytest.approx(0.75)
    assert agg["acc_cov50"](items) == pytest.approx(0.5)
    assert agg["acc_cov80"](items) == pytest.approx(0.5)
    assert agg["acc_cov100"](items) == pytest.approx(0.5)
    assert math.isnan(agg["auroc"](items[:1]))  # one answer, right: undefined


def test_task_selection_with_the_ll_group() -> None:
    assert expand_tasks("emobench_ll") == list(LL_TASKS)
    assert expand_tasks("emobench_hate_ll,emo_c") == ["emo_c", "hate_ll"]
    both = expand_tasks("emobench,emobench_ll")
    assert both == [*TASKS, *LL_TASKS]
    assert lmms_task_arg("emobench,emobench_ll", both) == "emobench,emobench_ll"
    assert lmms_task_arg("emobench_ll,emobench_emo_c", ["emo_c", *LL_TASKS]) == "emobench_emo_c,emobench_ll"


#: Printed rows of the dummy run: every option ties, so the first option is predicted with
#: confidence 1/K. emo_c (K=7; anger right once of 4): ECE |.25-1/7| = .107, Brier 6/7 = .857;
#: emo_o: never right, AUROC undefined; intent (K=20, complain right once): ECE .2, Brier 19*.05^2+.95^2
#: = .95; yes/no (yes first): ECE |acc - .5|, Brier .5. Ties: every coverage answers all four.
DUMMY_ROWS = [
    "emo_c_ll         4      25.0  0.107  0.857  0.500     25.0     25.0      25.0",
    "emo_o_ll         4       0.0  0.143  0.857 undef.      0.0      0.0       0.0",
    "intent_ll        4      25.0  0.200  0.950  0.500     25.0     25.0      25.0",
    "hate_ll          4      25.0  0.250  0.500  0.500     25.0     25.0      25.0",
    "humor_ll         4      50.0  0.000  0.500  0.500     50.0     50.0      50.0",
    "sarcasm_ll       4      75.0  0.250  0.500  0.500     75.0     75.0      75.0",
]


def emollm(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emollm_plugin.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@slow
def test_eval_report_and_compare_with_the_dummy_model(tmp_path: Path) -> None:
    emobench = build_emobench(tmp_path / "emobench")
    out = tmp_path / "run"
    result = emollm("eval", "--model", "dummy", "--model_args", f"response={DUMMY_RESPONSE}",
                    "--tasks", "emobench,emobench_ll", "--emobench-dir", str(emobench), "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    for row in DUMMY_ROWS:
        assert row in result.stdout, result.stdout
    # open-set answers "joy yes greet": joy named; right for 2 of the 4 (joy, fear, surprise, joy)
    (line,) = [line for line in result.stdout.splitlines() if "open-vocabulary set P/R/F1" in line]
    assert line.split()[-1] == "50.0/50.0/50.0"
    run = load_run(out)
    assert run.ll_tasks["emo_o_ll"].metrics["auroc"] is None  # NaN in results.json: undefined
    assert set(run.tasks) == set(TASKS) and set(run.ll_tasks) == set(LL_TASKS)

    report = emollm("report", str(out))
    assert report.returncode == 0, report.stderr
    text = (out / "report" / "report.md").read_text()
    assert "## Beyond accuracy" in text
    assert "| emo_o_ll   | 4   | 0.0          | 0.143 | 0.857   | undefined |" in text
    assert "![reliability diagrams](reliability.png)" in text and (out / "report" / "reliability.png").stat().st_size
    assert (out / "report" / "coverage.png").stat().st_size > 1000
    assert "| 50.0                | 50.0                        | 50.0              |" in text  # emo_o set scores

    compare = emollm("compare", str(out), str(out), "--labels", "A", "B", "--format", "csv")
    assert compare.returncode == 0, compare.stdout
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(compare.stdout)))
    # means over the six tasks: accuracy (25+0+25+25+50+75)/6, ECE (.107+.143+.2+.25+0+.25)/6
    assert float(rows[0]["ll_accuracy"]) == pytest.approx(1.0 / 3, abs=1e-6)
    assert float(rows[0]["ece"]) == pytest.approx((0.25 - 1 / 7 + 1 / 7 + 0.2 + 0.25 + 0 + 0.25) / 6, abs=1e-6)
    assert float(rows[1]["set_f1"]) == pytest.approx(0.5)
    markdown = emollm("compare", str(out), str(out), "--labels", "A", "B")
    assert "| A       | 33.3     | 0.158 |" in markdown.stdout


@slow
def test_tiny_emollm_prints_calibration_for_all_six_tasks(trained, tmp_path: Path) -> None:
    checkpoint, emobench = trained
    out = tmp_path / "ll"
    result = emollm("eval", "--model", "emollm", "--model_args", f"pretrained={checkpoint},num_frames=2",
                    "--tasks", "emobench_ll", "--emobench-dir", str(emobench), "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    header = "task             n  accuracy    ECE  Brier  AUROC  acc@50%  acc@80%  acc@100%"
    assert header in result.stdout, result.stdout
    printed = result.stdout[result.stdout.index(header):].splitlines()[1:7]
    assert [line.split()[0] for line in printed] == list(LL_TASKS)
    run = load_run(out)
    for name, task in run.ll_tasks.items():
        assert all(s.probs is not None and sum(s.probs) == pytest.approx(1.0) for s in task.samples)
        targets = [s.options.index(s.target) for s in task.samples]
        again = summarize([list(s.probs) for s in task.samples], targets)
        for metric in ("accuracy", "ece", "brier", "auroc", "acc_cov50", "acc_cov80", "acc_cov100"):
            expected = again[metric]
            assert task.metrics[metric] == (None if expected is None else pytest.approx(expected)), (name, metric)
    # a real model: its option probabilities are not all ties
    assert any(max(s.probs) > min(s.probs) + 1e-6 for t in run.ll_tasks.values() for s in t.samples)
    json.loads((next(out.rglob("*_results.json"))).read_text())  # valid JSON (AUROC NaN allowed)
