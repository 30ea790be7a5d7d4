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
            "missing": 0,
            "samples": 4,
            "empty": 0,
            "unparsed": 0,
            "correct": round(4 * EXPECTED_ACCURACY[task]),
        }
        assert result.metrics["scored"] == 4 and result.metrics["missing"] == 0 and result.n == 4
        assert {s.modality for s in result.samples} == {"image", "video"}
    settings = json.loads((good.out / "emollm_eval.json").read_text())
    assert settings["k"] == 0 and settings["tasks"] == list(TASKS)


@slow
def test_all_answers_unreadable_is_a_failure_naming_the_tasks(runs: dict) -> None:
    bad = runs["unparsed"]
    assert bad.returncode == eval_cli.UNREADABLE_ANSWERS == 3, bad.output[-4000:]  # whole run, 0% answers
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


@pytest.fixture(scope="module")
def partial_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``emollm eval`` over an EmoBench with a missing image, a truncated one and a malformed line,
    without and with --allow-partial (both started together)."""
    import subprocess

    from tests.emobench_fixtures import DUMMY_RESPONSE, EvalRun, eval_command

    base = tmp_path_factory.mktemp("partial")
    bench = build_emobench(base / "bench")
    (bench / "media" / "emo_c" / "0.png").unlink()
    cut = bench / "media" / "emo_c" / "1.png"
    cut.write_bytes(cut.read_bytes()[:40])
    with (bench / "test" / "hate.jsonl").open("a") as handle:
        handle.write('{"id": "cut-off", "task": "hate"\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("EMOBENCH_")}
    procs = {}
    for name, extra in (("strict", ()), ("allowed", ("--allow-partial",))):
        command = eval_command(base / name, bench, "dummy", "--model_args", f"response={DUMMY_RESPONSE},read_bytes=16",
                               "--tasks", "emobench_emo_c,emobench_hate", *extra)
        procs[name] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    return {name: EvalRun(base / name, proc.wait(timeout=600), proc.stdout.read()) for name, proc in procs.items()}


@slow
def test_every_record_is_scored_or_counted_and_a_partial_run_fails(partial_runs: dict) -> None:
    strict = partial_runs["strict"]
    assert strict.returncode == 1, strict.output[-4000:]
    assert "emollm eval: error: emo_c: 2 of 4 records not scored, their media is missing or unreadable" in strict.output
    assert "emollm eval: error: hate: 1 of 5 records were not evaluated (malformed lines" in strict.output
    assert "fix the data or pass --allow-partial" in strict.output
    table = strict.output.split("EmoBench (")[1]
    assert "scored  accuracy  unparsed  missing" in table
    assert [line.split()[-1] for line in table.splitlines() if line.startswith(("emo_c ", "hate "))] == ["2", "0"]

    run = load_run(strict.out)
    emo_c = run.tasks["emo_c"]
    assert emo_c.n == 2 and emo_c.metrics["scored"] == 2 and emo_c.metrics["missing"] == 2
    assert {s.id for s in emo_c.missing} == {"emo_c-0", "emo_c-1"}
    problems = {s.id: s.problem for s in emo_c.missing}
    assert "media 'media/emo_c/0.png' not found" in problems["emo_c-0"]
    assert "cannot decode image" in problems["emo_c-1"]
    # Accuracy is over the scored records only (the two videos: joy right, anger wrong).
    assert emo_c.accuracy == 0.5 and [s.id for s in emo_c.samples] == ["emo_c-2", "emo_c-3"]
    assert run.tasks["hate"].n == 4 and not run.tasks["hate"].missing


@slow
def test_allow_partial_accepts_it_and_the_table_says_partial(partial_runs: dict) -> None:
    allowed = partial_runs["allowed"]
    assert allowed.returncode == 0, allowed.output[-4000:]
    assert "PARTIAL: records not scored (--allow-partial)" in allowed.output
    assert "emollm eval: partial: emo_c: 2 of 4 records not scored" in allowed.output
    assert "emollm eval: partial: hate: 1 of 5 records were not evaluated" in allowed.output
    assert "emollm eval: error:" not in allowed.output
