"""``emollm compare``: the baseline rule, and the paper-style table over real lmms-eval runs."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from emollm_plugin.apps.compare import baselines, build_rows, to_markdown
from emollm_plugin.apps.report_html import agreement
from emollm_plugin.cli import main as emollm
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import Run, TaskRun
from tests.apps.tables import markdown_rows
from tests.emobench_fixtures import ANSWERS, EXPECTED_ACCURACY, session_runs

slow = pytest.mark.slow


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return session_runs(tmp_path_factory.mktemp("eval_runs"))


def test_every_run_is_compared_with_the_first_by_default() -> None:
    assert baselines(["base", "mvp", "mvp+ep"], None) == {"base": None, "mvp": "base", "mvp+ep": "base"}


def test_explicit_baselines_make_foundations() -> None:
    labels = ["llava", "llava+emollm", "qwen", "qwen+emollm"]
    assert baselines(labels, ["qwen+emollm=qwen"]) == {
        "llava": None,
        "llava+emollm": "llava",
        "qwen": None,
        "qwen+emollm": "qwen",
    }
    assert baselines(["a", "b", "c"], ["3=2", "2=1"]) == {"a": None, "b": "a", "c": "b"}  # positions
    with pytest.raises(ValueError, match="neither a run label"):
        baselines(labels, ["qwen+emollm=gemma"])
    with pytest.raises(ValueError, match="RUN=BASE"):
        baselines(labels, ["qwen"])


def partial_run(tmp_path: Path, accuracies: dict[str, float]) -> Run:
    tasks = {t: TaskRun(t, f"emobench_{t}", {"accuracy": a}, 10) for t, a in accuracies.items()}
    return Run(tmp_path, tmp_path / "x_results.json", "m", "", "d", tasks, {}, {})


def test_runs_missing_a_task_get_no_mean_and_no_gain(tmp_path: Path) -> None:
    full = partial_run(tmp_path, dict.fromkeys(TASKS, 0.5))
    part = partial_run(tmp_path, {"emo_c": 0.9, "hate": 0.8})
    rows = build_rows([full, part], ["full", "part"])
    assert rows[1].mean is None and rows[1].gain_points is None
    text = to_markdown(rows)
    assert ["part", "90.0", "-", "-", "80.0", "-", "-", "-", "-", "-", "full"] in markdown_rows(text)
    assert "No mean for part" in text


@slow
def test_compare_real_runs_markdown_and_csv(runs: dict, tmp_path: Path, capsys) -> None:
    base, good = str(runs["unparsed"].out), str(runs["good"].out)
    assert emollm(["compare", base, good]) == 0
    text = capsys.readouterr().out
    assert markdown_rows(text)[:3] == [  # the accuracy table (a calibration table may follow)
        ["model", "emo_c", "emo_o", "intent", "hate", "humor", "sarcasm", "mean", "gain (pts)", "gain (%)", "baseline"],
        ["dummy-unparsed", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "-", "-", "-"],
        ["dummy-good", "50.0", "50.0", "50.0", "25.0", "50.0", "75.0", "50.0", "+50.0", "-", "dummy-unparsed"],
    ]

    out = tmp_path / "table.csv"
    assert (
        emollm(
            [
                "compare",
                good,
                base,
                "--labels",
                "A",
                "B",
                "--baseline-of",
                "B=A",
                "--format",
                "csv",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["model"] for row in rows] == ["A", "B"]
    assert {task: float(rows[0][task]) for task in TASKS} == EXPECTED_ACCURACY
    assert float(rows[1]["gain_points"]) == pytest.approx(-0.5)
    assert float(rows[1]["gain_relative"]) == pytest.approx(-1.0)
    assert rows[1]["baseline"] == "A" and rows[0]["baseline"] == ""
    assert rows[0]["results_file"].endswith("_results.json")

    assert emollm(["compare", good, "--labels", "A", "B"]) == 1
    assert "--labels has 2 names for 1 runs" in capsys.readouterr().out


def test_compare_errors_are_reported(tmp_path: Path, capsys) -> None:
    assert emollm(["compare", str(tmp_path)]) == 1
    assert "no lmms-eval results file" in capsys.readouterr().out


def test_agreement_of_the_runs_on_one_sample() -> None:
    assert agreement(["correct", "correct"]) == "all-correct"
    assert agreement(["wrong", "unreadable"]) == "all-wrong"
    assert agreement(["correct", "unreadable"]) == "disagree"
    assert agreement(["correct", None]) == "incomplete"


@slow
def test_compare_html_puts_each_sample_side_by_side_and_filters_in_chromium(runs: dict, tmp_path: Path,
                                                                           capsys) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.apps.browser import chromium

    page_file = tmp_path / "compare.html"
    base, good = str(runs["unparsed"].out), str(runs["good"].out)
    assert emollm(["compare", base, good, "--labels", "before", "after", "--html", str(page_file)]) == 0
    assert f"emollm compare: wrote {page_file}" in capsys.readouterr().out
    page = page_file.read_text()
    total = sum(len(answers) for answers in ANSWERS.values())
    right = round(sum(EXPECTED_ACCURACY[task] * len(ANSWERS[task]) for task in TASKS))
    assert page.count('<tr data-task="') == total  # every sample once, both runs' answers in its row
    assert page.count('<td class="unreadable">') == total and page.count('<td class="correct">') == right
    assert page.count('data-status="disagree"') == right and page.count('data-status="all-wrong"') == total - right
    assert '<table id="per-task">' in page
    assert re.search(r"<tr><td>after\s*</td>(<td>[^<]*</td>){7}<td>\+50.0\s*</td>", page)  # after's row: gain
    assert page.count('src="data:image/jpeg;base64,') == total  # media from the runs' EmoBench folder

    def visible(browser) -> int:
        return sum(row.is_displayed() for row in browser.find_elements(By.CSS_SELECTOR, "#samples tbody tr"))

    with chromium() as browser:
        browser.get(page_file.as_uri())
        assert visible(browser) == total
        Select(browser.find_element(By.ID, "filter-status")).select_by_value("disagree")
        assert visible(browser) == right
        assert browser.find_element(By.ID, "shown").text == f"showing {right} of {total} samples"
        Select(browser.find_element(By.ID, "filter-task")).select_by_value("sarcasm")
        assert visible(browser) == 3  # the dummy answers yes; three sarcasm records are sarcastic
