"""``report.html`` from real lmms-eval runs (the session's dummy-model runs over images and videos):
every sample with its thumbnail, and the filters working in headless Chromium."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.apps.report import write_report
from emollm_plugin.apps.report_html import outcome, render_html
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import Sample, load_run
from tests.apps.browser import chromium, ink, size_of
from tests.emobench_fixtures import ANSWERS, session_runs

slow = pytest.mark.slow
TOTAL = sum(len(answers) for answers in ANSWERS.values())


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return session_runs(tmp_path_factory.mktemp("eval_runs"))


def test_outcome_names_unreadable_answers() -> None:
    def sample(parsed: str | None) -> Sample:
        return Sample(0, "id", "image", "src", "joy", parsed, parsed, "text")

    assert [outcome(sample(p)) for p in ("joy", "anger", None)] == ["correct", "wrong", "unreadable"]


@slow
def test_report_html_holds_every_sample_with_its_media(runs: dict, tmp_path: Path) -> None:
    written = write_report(runs["good"].out, tmp_path)
    page = written["html"].read_text()
    assert written["html"] == tmp_path / "report.html"
    assert page.count('<tr class="') == TOTAL
    assert page.count('src="data:image/jpeg;base64,') == TOTAL  # an image or a first frame each
    assert page.count('src="data:image/png;base64,') >= 1 + len(TASKS)  # bars + confusion matrices
    assert not re.search(r'(src|href)="(https?:|/|\.)', page)  # self-contained: nothing to fetch
    assert "Identify the only emotion depicted in the given video" in page
    assert "Nice weather, as always." in page  # the text that goes with a meme or an utterance
    run = load_run(runs["good"].out)
    wrong = sum(not s.correct for task in run.tasks.values() for s in task.samples)
    assert page.count('data-status="wrong"') == wrong and page.count('data-status="correct"') == TOTAL - wrong


@slow
def test_a_video_thumbnail_is_its_first_frame(runs: dict) -> None:
    run = load_run(runs["good"].out)
    page = render_html(run, {}, Path(run.settings["emobench_dir"]))
    thumb = re.search(r'<img src="data:image/jpeg;base64,([^"]+)" alt=""></td><td>emo_c<div class="id">emo_c-2<', page)
    assert thumb is not None  # emo_c-2 is a video record
    with Image.open(io.BytesIO(base64.b64decode(thumb.group(1)))) as image:
        brightness = sum(image.convert("L").getdata()) / (image.width * image.height)
    assert brightness < 20  # frame 0 of the fixture clip is black; later frames are brighter


@slow
def test_a_run_without_its_emobench_folder_still_lists_its_samples(runs: dict) -> None:
    run = load_run(runs["unparsed"].out)
    run.settings = {}
    page = render_html(run, {}, None)
    assert "does not name its EmoBench folder" in page
    assert page.count('data-status="unreadable"') == TOTAL and page.count("no record") == TOTAL


@slow
def test_the_sample_table_filters_in_chromium(runs: dict, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html = write_report(runs["good"].out, tmp_path)["html"]
    run = load_run(runs["good"].out)
    wrong = sum(not s.correct for task in run.tasks.values() for s in task.samples)

    def visible(page) -> int:
        return sum(row.is_displayed() for row in page.find_elements(By.CSS_SELECTOR, "#samples tbody tr"))

    with chromium(height=1400) as page:
        page.get(html.as_uri())
        table = page.find_element(By.ID, "samples")
        assert visible(page) == TOTAL
        assert page.find_element(By.ID, "shown").text == f"showing {TOTAL} of {TOTAL} samples"
        before = table.screenshot_as_png
        Select(page.find_element(By.ID, "filter-status")).select_by_value("wrong")
        assert visible(page) == wrong
        Select(page.find_element(By.ID, "filter-task")).select_by_value("hate")
        hate_wrong = sum(not s.correct for s in run.tasks["hate"].samples)
        assert visible(page) == hate_wrong
        assert page.find_element(By.ID, "shown").text == f"showing {hate_wrong} of {TOTAL} samples"
        after = table.screenshot_as_png
        Select(page.find_element(By.ID, "filter-status")).select_by_value("all")
        page.find_element(By.ID, "filter-text").send_keys("hate-3")
        assert visible(page) == 1
        (tmp_path / "report.png").write_bytes(page.get_screenshot_as_png())
    # the screenshots show it: fewer rows drawn, and less text, after filtering
    assert size_of(after)[1] < size_of(before)[1] / 2
    assert 0 < ink(after) < ink(before)
