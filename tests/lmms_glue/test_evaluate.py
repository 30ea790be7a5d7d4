"""``emollm eval``: task selection, checks before lmms-eval starts, and real lmms-eval runs.

The runs (tests marked ``slow``) drive lmms-eval's real CLI with its built-in ``dummy`` model;
the three of them start together once per session (tests/emobench_fixtures.py) and take about
30-60 s of wall time on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from emollm_plugin.cli import eval as eval_cli
from emollm_plugin.cli import main as emollm
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue import evaluate
from emollm_plugin.lmms_glue.results import load_run
from tests.emobench_fixtures import EXPECTED_ACCURACY, build_emobench, session_runs

slow = pytest.mark.slow


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return session_runs(tmp_path_factory.mktemp("eval_runs"))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_task_folder_is_found_through_the_installed_package() -> None:
    folder = evaluate.tasks_dir()
    names = {path.name for path in folder.iterdir()}
    assert {f"emobench_{task}.yaml" for task in TASKS} | {
        "emobench.yaml",
        "_default_template_yaml",
        "utils.py",
    } <= names


def test_task_selection() -> None:
    assert evaluate.expand_tasks("emobench") == list(TASKS)
    assert evaluate.expand_tasks("emobench_sarcasm, emo_c") == ["emo_c", "sarcasm"]
    assert evaluate.lmms_task_arg("emobench", list(TASKS)) == "emobench"
    assert evaluate.lmms_task_arg("hate,emo_c", ["emo_c", "hate"]) == "emobench_emo_c,emobench_hate"
    with pytest.raises(evaluate.EvalSetupError, match="unknown task 'mme'"):
        evaluate.expand_tasks("mme")


def test_command_runs_lmms_eval_with_our_tasks_and_sample_logs(tmp_path: Path) -> None:
    args = parse(
        [
            "--model",
            "emollm",
            "--model_args",
            "pretrained=x",
            "--limit",
            "5",
            "--device",
            "cpu",
            "--max-new-tokens",
            "256",
            "--",
            "--seed",
            "1",
        ]
    )
    command = evaluate.build_command(args, "emobench", tmp_path)
    assert command[1:3] == ["-m", "lmms_eval"]
    joined = " ".join(command)
    for part in (
        "--model emollm",
        "--tasks emobench",
        f"--include_path {evaluate.tasks_dir()}",
        "--log_samples",
        f"--output_path {tmp_path}",
        "--model_args pretrained=x",
        "--limit 5",
        "--device cpu",
        "--gen_kwargs max_new_tokens=256",
    ):
        assert part in joined
    assert command[-2:] == ["--seed", "1"]


def test_environment_is_offline_and_carries_the_emobench_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("EMOBENCH_EXEMPLARS", "/stale/exemplars.json")
    env = evaluate.build_env(tmp_path, 0, None)
    assert env["HF_HUB_OFFLINE"] == "1" and env["HF_DATASETS_OFFLINE"] == "1"
    assert env["EMOBENCH_DIR"] == str(tmp_path) and env["EMOBENCH_K"] == "0"
    assert "EMOBENCH_EXEMPLARS" not in env


def test_missing_data_fails_before_lmms_eval_with_the_build_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("EMOBENCH_DIR", raising=False)
    assert emollm(["eval", "--model", "dummy", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--emobench-dir DIR or set EMOBENCH_DIR" in err and "emollm data synth --out DIR" in err
    assert emollm(["eval", "--model", "dummy", "--emobench-dir", str(tmp_path)]) == 2
    assert f"{tmp_path}/test/emo_c.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_k_needs_an_exemplars_file(tmp_path: Path, capsys) -> None:
    bench = build_emobench(tmp_path / "bench")
    assert emollm(["eval", "--model", "dummy", "--emobench-dir", str(bench), "--k", "2"]) == 2
    assert "--k 2 needs --exemplars FILE" in capsys.readouterr().err
    assert (
        emollm(
            [
                "eval",
                "--model",
                "dummy",
                "--emobench-dir",
                str(bench),
                "--k",
                "1",
                "--exemplars",
                str(tmp_path / "nope.json"),
            ]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err


def test_stale_results_are_not_this_runs_results(tmp_path: Path) -> None:
    results = tmp_path / "2024-01-01T00-00-00_results.json"
    results.write_text("{}")
    os.utime(results, (1_000_000, 1_000_000))
    assert evaluate.is_stale(results, started=2_000_000.0)
    assert not evaluate.is_stale(results, started=1_000_000.5)


@slow
def test_run_prints_the_table_and_leaves_results_and_samples(runs: dict) -> None:
    good = runs["good"]
    assert good.returncode == 0, good.output[-4000:]
    for task in TASKS:
        assert f"{task} " in good.output
    assert "mean     mean of the six accuracies" in good.output
    assert "50.0" in good.output.split("mean of the six accuracies")[1].splitlines()[0]

    run = load_run(good.out)
    assert run.label == "dummy-good"
    assert {task: result.accuracy for task, result in run.tasks.items()} == EXPECTED_ACCURACY
    assert run.mean_accuracy == pytest.approx(0.5)
    assert run.group["accuracy"] == pytest.approx(0.5)  # lmms-eval's group: unweighted mean
    for task, result in run.tasks.items():
        assert result.samples_file is not None and result.samples_file.is_file()
        assert result.counts == {
            "samples": 4,
            "empty": 0,
            "unparsed": 0,
            "correct": round(4 * EXPECTED_ACCURACY[task]),
        }
        assert {s.modality for s in result.samples} == {"image", "video"}
    settings = json.loads((good.out / "emollm_eval.json").read_text())
    assert settings["k"] == 0 and settings["tasks"] == list(TASKS)


@slow
def test_all_answers_unreadable_is_a_failure_naming_the_tasks(runs: dict) -> None:
    bad = runs["unparsed"]
    assert bad.returncode == 1, bad.output[-4000:]
    for task in TASKS:
        assert (
            f"emollm eval: error: {task}: none of the 4 answers names a label (e.g. 'banana bread')"
            in bad.output
        )
    assert load_run(bad.out).mean_accuracy == 0.0  # results were written; the verdict is still a failure


@slow
def test_a_model_that_fails_to_load_is_a_failure_although_lmms_eval_exits_0(runs: dict) -> None:
    broken = runs["broken"]
    assert "Error during evaluation" in broken.output  # lmms-eval's own report, then exit code 0
    assert "lmms-eval exit code 0" in broken.output
    assert broken.returncode == 1
    assert "no lmms-eval results file" in broken.output
