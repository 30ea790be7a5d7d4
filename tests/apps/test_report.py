"""``emollm report`` on real lmms-eval runs (the session's dummy-model runs) and on known samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.apps.report import per_class_rows, sample_scores, write_report
from emollm_plugin.cli import main as emollm
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import Sample
from tests.apps.tables import markdown_rows
from tests.emobench_fixtures import session_runs

slow = pytest.mark.slow


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return session_runs(tmp_path_factory.mktemp("eval_runs"))


def sample(target: str, parsed: str | None, strict: str | None = None, output: str = "x") -> Sample:
    return Sample(0, "id", "image", "src", target, parsed, strict if strict is not None else parsed, output)


def test_per_class_rows_from_the_confusion_matrix() -> None:
    samples = [sample("joy", "joy"), sample("joy", "anger"), sample("anger", "anger"), sample("fear", None)]
    scores = sample_scores(samples)
    rows = {row["label"]: row for row in per_class_rows(scores)}
    assert rows["joy"] == {
        "label": "joy",
        "support": 2,
        "predicted": 1,
        "recall": 0.5,
        "precision": 1.0,
        "f1": pytest.approx(2 / 3),
    }
    assert rows["anger"]["precision"] == 0.5 and rows["anger"]["recall"] == 1.0
    assert rows["fear"]["recall"] == 0.0 and rows["fear"]["precision"] is None
    assert scores["unparsed_rate"] == 0.25


def test_strict_scores_use_the_strict_reading() -> None:
    samples = [sample("joy", "joy", strict=None), sample("joy", "joy", strict="joy")]
    samples[0] = Sample(0, "a", "image", "s", "joy", "joy", None, "happy")
    assert sample_scores(samples)["accuracy"] == 1.0
    assert sample_scores(samples, strict=True)["accuracy"] == 0.5


@slow
def test_report_on_a_real_run(runs: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    assert emollm(["report", str(runs["good"].out), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = out / "report.md"
    assert f"wrote {report}" in printed
    text = report.read_text()
    rows = markdown_rows(text)
    assert ["emo_c", "Emotion recognition (close-set)", "4", "50.0", "22.2", "33.3", "0.0"] in rows
    assert next(r for r in rows if r[0] == "hate")[:4] == ["hate", "Hate detection", "4", "25.0"]
    assert "**50.0**" in text  # the mean of the six
    assert next(r for r in rows if r[0].startswith("strict"))[:2] == ["strict (the label word itself)", "50.0"]
    assert ["emo_c", "synthetic", "video", "2", "50.0"] in rows
    assert ["joy", "2", "4", "100.0", "50.0", "66.7"] in rows  # emo_c per-class row
    assert "Warning" not in text  # samples agree with lmms-eval's aggregate
    for name in ["per_task.png", *(f"confusion_{task}.png" for task in TASKS)]:
        assert f"]({name})" in text
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 200


@slow
def test_report_shows_unreadable_answers(runs: dict, tmp_path: Path) -> None:
    written = write_report(runs["unparsed"].out, tmp_path)
    text = written["report"].read_text()
    assert ["sarcasm", "Sarcasm detection", "4", "0.0", "0.0", "0.0", "100.0"] in markdown_rows(text)
    assert text.count("Unreadable answers: 4 of 4.") == len(TASKS)


def test_report_without_results_says_so(tmp_path: Path, capsys) -> None:
    assert emollm(["report", str(tmp_path)]) == 1
    assert "no lmms-eval results file" in capsys.readouterr().out
