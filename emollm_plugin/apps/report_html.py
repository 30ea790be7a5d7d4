"""``report.html``: one self-contained page per run (or comparison) to browse what a model got right and wrong.

Beside ``report.md``, ``emollm report`` writes this page: the per-task table, the plots (embedded
as ``data:`` URLs, so the file can be mailed or archived alone), and a table of every sample with
a thumbnail of its image or its video's first frame, the question, the model's full answer, the
label read from it and the truth, filterable by task, by outcome (correct, wrong, unreadable) and by
text. Questions and media come from the EmoBench test records the run used (``emobench_dir`` in
``emollm_eval.json``); a sample whose record or media is not found still gets its row, marked so.

``emollm compare --html FILE`` writes the same kind of page for several runs: the comparison table,
then every sample once with each run's answer, label and outcome side by side, filterable by whether
the runs agree.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from emollm_plugin.emobench.media import MediaError, load_frames, load_image
from emollm_plugin.emobench.records import Record, RecordError, iter_jsonl
from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASK_SPECS, TASKS
from emollm_plugin.lmms_glue.results import Run, Sample

THUMBNAIL_PX = 96


def _png_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def thumbnail(path: Path, modality: str | None) -> str:
    """A small JPEG ``data:`` URL of the image or the video's first frame; MediaError when it cannot be read."""
    if modality == "video":
        image = load_frames(path, num_frames=2)[0]  # the sampler's first index is frame 0
    else:
        image = load_image(path)
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def load_test_records(emobench_dir: Path | None, tasks: list[str]) -> tuple[dict[tuple[str, str], Record], list[str]]:
    """``(task, id) -> record`` from ``<emobench_dir>/test/<task>.jsonl``, and notes on what was not found."""
    if emobench_dir is None:
        return {}, ["the run does not name its EmoBench folder (emollm_eval.json); questions and media are not shown"]
    found: dict[tuple[str, str], Record] = {}
    notes = []
    for task in tasks:
        path = emobench_dir / "test" / f"{task}.jsonl"
        if not path.is_file():
            notes.append(f"{path}: not found; {task} samples are shown without question and media")
            continue
        bad = 0
        for _, item in iter_jsonl(path):
            if isinstance(item, RecordError):
                bad += 1
            else:
                found[(task, item.id)] = item
        if bad:
            notes.append(f"{path}: {bad} line(s) are not valid records")
    return found, notes


def outcome(sample: Sample) -> str:
    """``correct``, ``wrong`` or ``unreadable`` (no label could be read from the answer)."""
    if sample.parsed is None:
        return "unreadable"
    return "correct" if sample.correct else "wrong"


def _media_cell(record: Record | None, emobench_dir: Path | None, cache: dict[Path, str]) -> str:
    """The thumbnail of a record's media (made once per file), or why there is none."""
    if record is None or emobench_dir is None:
        return '<span class="none">no record</span>'
    media = emobench_dir / record.media
    if media not in cache:
        try:
            cache[media] = f'<img src="{thumbnail(media, record.modality)}" alt="">'
        except MediaError as exc:
            cache[media] = f'<span class="none" title="{html.escape(str(exc))}">unreadable media</span>'
    return cache[media]


def _question_cell(record: Record | None) -> str:
    question = html.escape(record.question) if record else ""
    if record and record.text:
        question += f'<div class="text">text: {html.escape(record.text)}</div>'
    return question


def _answer_cell(sample: Sample) -> str:
    return html.escape(sample.output) if sample.output.strip() else '<span class="none">(empty)</span>'


def _label_cell(sample: Sample) -> str:
    return html.escape(sample.parsed) if sample.parsed is not None else '<span class="none">unreadable</span>'


def _id_cell(task: str, sample: Sample) -> str:
    return (f"{task}<div class=\"id\">{html.escape(sample.id or str(sample.doc_id))}</div>"
            f"<div class=\"id\">{html.escape(sample.modality or '?')} · {html.escape(sample.source or '?')}</div>")


def _sample_row(task: str, sample: Sample, record: Record | None, emobench_dir: Path | None,
                cache: dict[Path, str]) -> str:
    status = outcome(sample)
    search = html.escape(" ".join(filter(None, [task, sample.id, sample.source, record.question if record else "",
                                                 sample.output])).lower())
    return (
        f'<tr class="{status}" data-task="{task}" data-status="{status}" data-search="{search}">'
        f"<td>{_media_cell(record, emobench_dir, cache)}</td><td>{_id_cell(task, sample)}</td>"
        f"<td>{_question_cell(record)}</td><td class=\"answer\">{_answer_cell(sample)}</td>"
        f"<td>{_label_cell(sample)}</td><td>{html.escape(sample.target)}</td><td class=\"status\">{status}</td></tr>"
    )


_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; margin: 24px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; } th, td { border: 1px solid #d7dce3; padding: 4px 8px; vertical-align: top; }
th { background: #f0f2f5; text-align: left; } td.num { text-align: right; }
.plots img { max-width: min(100%, 760px); margin: 6px 12px 6px 0; border: 1px solid #e3e6ea; }
.confusions { display: flex; flex-wrap: wrap; align-items: flex-start; }
.confusions img { max-width: 420px; }
#samples td { max-width: 380px; } #samples img { width: 72px; border-radius: 4px; }
.answer { white-space: pre-wrap; } .id { color: #5b6575; font-size: 12px; } .text { color: #5b6575; font-size: 12px; }
.none { color: #8a93a3; font-style: italic; }
tr.correct .status { color: #1d7a3a; font-weight: 600; } tr.wrong .status { color: #b3261e; font-weight: 600; }
tr.unreadable .status { color: #8a5a00; font-weight: 600; }
td.correct .status { color: #1d7a3a; font-weight: 600; } td.wrong .status { color: #b3261e; font-weight: 600; }
td.unreadable .status { color: #8a5a00; font-weight: 600; }
.filters { margin: 10px 0; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
.filters select, .filters input { font: inherit; padding: 4px 6px; }
.notes { color: #8a5a00; }
"""

_SCRIPT = """
const rows = Array.from(document.querySelectorAll("#samples tbody tr"));
function applyFilters() {
  const task = document.getElementById("filter-task").value;
  const status = document.getElementById("filter-status").value;
  const words = document.getElementById("filter-text").value.trim().toLowerCase();
  let shown = 0;
  for (const row of rows) {
    const keep = (task === "all" || row.dataset.task === task) && (status === "all" || row.dataset.status === status)
      && (!words || row.dataset.search.includes(words));
    row.style.display = keep ? "" : "none";
    if (keep) shown += 1;
  }
  document.getElementById("shown").textContent = "showing " + shown + " of " + rows.length + " samples";
}
for (const id of ["filter-task", "filter-status"]) document.getElementById(id).addEventListener("change", applyFilters);
document.getElementById("filter-text").addEventListener("input", applyFilters);
applyFilters();
"""


def _filter_bar(tasks: list[str], statuses: tuple[tuple[str, str], ...], status_name: str) -> str:
    """Task, status and text filters over ``#samples`` (the page's script applies them)."""
    task_options = "".join(f'<option value="{t}">{t}</option>' for t in tasks)
    status_options = "".join(f'<option value="{value}">{html.escape(text)}</option>' for value, text in statuses)
    return ('<div class="filters"><label>task <select id="filter-task"><option value="all">all</option>'
            f'{task_options}</select></label><label>{status_name} <select id="filter-status">'
            f'<option value="all">all</option>{status_options}</select></label><label>search '
            '<input id="filter-text" type="search" placeholder="id, question or answer"></label>'
            '<span id="shown"></span></div>')


def _page(title: str, parts: list[str]) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts)
            + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")


def render_html(run: Run, plots: dict[str, Path], emobench_dir: Path | None) -> str:
    """The page as one string (plots and thumbnails inline)."""
    tasks = [task for task in TASKS if task in run.tasks]
    records, notes = load_test_records(emobench_dir, tasks)
    parts = [f"<h1>EmoBench report: {html.escape(run.label)}</h1>",
             f"<p>model <code>{html.escape(run.model)}</code> <code>{html.escape(run.model_args)}</code> · "
             f"{html.escape(run.date)} · results <code>{html.escape(str(run.results_file))}</code></p>"]
    rows = []
    for task in TASKS:
        result = run.tasks.get(task)
        if result is None:
            rows.append(f"<tr><td>{task}</td><td>{TASK_SPECS[task].title}</td><td colspan=5>missing</td></tr>")
            continue
        metric = result.metrics.get
        cells = [str(result.n), *(percent(metric(m)) for m in ("accuracy", "macro_f1", "uar", "unparsed_rate"))]
        rows.append(f"<tr><td>{task}</td><td>{TASK_SPECS[task].title}</td>"
                    + "".join(f'<td class="num">{c}</td>' for c in cells) + "</tr>")
    mean = run.mean_accuracy
    rows.append(f'<tr><th colspan=3>mean of the six accuracies (the paper\'s score)</th><th class="num">'
                f"{percent(mean) if mean is not None else '- (incomplete)'}</th><th colspan=3></th></tr>")
    parts += ["<h2>Per task</h2>", "<table id=\"per-task\"><tr><th>task</th><th>title</th><th>n</th>"
              "<th>accuracy %</th><th>macro-F1 %</th><th>UAR %</th><th>unparsed %</th></tr>", *rows, "</table>"]
    if "bars" in plots:
        parts.append(f'<div class="plots"><img alt="per-task metrics" src="{_png_url(plots["bars"])}"></div>')
    confusions = [f'<img alt="{task} confusion matrix" src="{_png_url(plots[task])}">' for task in tasks
                  if task in plots]
    if confusions:
        parts += ["<h2>Confusion matrices</h2>", '<div class="plots confusions">', *confusions, "</div>"]
    others = [f'<img alt="{html.escape(name)}" src="{_png_url(path)}">' for name, path in plots.items()
              if name != "bars" and name not in TASKS and Path(path).suffix == ".png"]
    if others:
        parts += ["<h2>More plots</h2>", '<div class="plots confusions">', *others, "</div>"]
    samples = [(task, sample) for task in tasks for sample in run.tasks[task].samples]
    parts.append(f"<h2>Samples ({len(samples)})</h2>")
    if notes:
        parts += ['<ul class="notes">', *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"]
    parts.append(_filter_bar(tasks, (("correct", "correct"), ("wrong", "wrong"), ("unreadable", "unreadable answer")),
                             "outcome"))
    cache: dict[Path, str] = {}
    body = [_sample_row(task, sample, records.get((task, sample.id or "")), emobench_dir, cache)
            for task, sample in samples]
    parts += ['<table id="samples"><thead><tr><th>media</th><th>task</th><th>question</th><th>answer</th>'
              "<th>read as</th><th>truth</th><th>outcome</th></tr></thead><tbody>", *body, "</tbody></table>"]
    return _page(f"EmoBench report: {html.escape(run.label)}", parts)


def emobench_dir_of(run: Run) -> Path | None:
    """The EmoBench folder ``emollm eval`` recorded for the run, when it still exists."""
    folder = run.settings.get("emobench_dir")
    return Path(folder) if folder and Path(folder).is_dir() else None


def write_report_html(run: Run, plots: dict[str, Path], out: Path) -> Path:
    """Write ``out/report.html`` and return its path."""
    path = out / "report.html"
    path.write_text(render_html(run, plots, emobench_dir_of(run)), encoding="utf-8")
    return path



#: How the compared runs did on one sample (the comparison page's filter).
AGREEMENTS = (
    ("disagree", "runs disagree"),
    ("all-correct", "all correct"),
    ("all-wrong", "none correct"),
    ("incomplete", "not in every run"),
)


def agreement(outcomes: list[str | None]) -> str:
    """``incomplete`` when a run lacks the sample, else ``all-correct``, ``all-wrong`` or ``disagree``."""
    if None in outcomes:
        return "incomplete"
    correct = [status == "correct" for status in outcomes]
    if all(correct):
        return "all-correct"
    return "all-wrong" if not any(correct) else "disagree"


def _run_cell(sample: Sample | None) -> str:
    if sample is None:
        return '<td class="none">not in this run</td>'
    status = outcome(sample)
    return (f'<td class="{status}"><div class="answer">{_answer_cell(sample)}</div>'
            f'<div>read as <b>{_label_cell(sample)}</b> · <span class="status">{status}</span></div></td>')


def render_compare_html(runs: list[Run], labels: list[str], table: str) -> str:
    """One page for several runs: the comparison ``table`` (HTML) and every sample side by side.

    Samples are matched by task and record id; questions and media come from the first run whose
    EmoBench folder still exists.
    """
    tasks = [task for task in TASKS if any(task in run.tasks for run in runs)]
    emobench_dir = next((folder for folder in map(emobench_dir_of, runs) if folder is not None), None)
    records, notes = load_test_records(emobench_dir, tasks)
    by_run = [{(task, s.id or str(s.doc_id)): s for task, result in run.tasks.items() for s in result.samples}
              for run in runs]
    keys = sorted({key for samples in by_run for key in samples}, key=lambda k: (TASKS.index(k[0]), k[1]))
    cache: dict[Path, str] = {}
    body = []
    for task, sample_id in keys:
        per_run = [samples.get((task, sample_id)) for samples in by_run]
        first = next(sample for sample in per_run if sample is not None)
        record = records.get((task, sample_id))
        status = agreement([None if sample is None else outcome(sample) for sample in per_run])
        words = [task, sample_id, first.source, record.question if record else "",
                 *(sample.output for sample in per_run if sample)]
        search = html.escape(" ".join(filter(None, words)).lower())
        body.append(
            f'<tr data-task="{task}" data-status="{status}" data-search="{search}">'
            f"<td>{_media_cell(record, emobench_dir, cache)}</td><td>{_id_cell(task, first)}</td>"
            f"<td>{_question_cell(record)}</td><td>{html.escape(first.target)}</td>"
            + "".join(_run_cell(sample) for sample in per_run) + "</tr>"
        )
    names = " vs ".join(html.escape(label) for label in labels)
    parts = [f"<h1>EmoBench comparison: {names}</h1>", "<h2>Per task</h2>", table,
             f"<h2>Samples ({len(keys)})</h2>"]
    if notes:
        parts += ['<ul class="notes">', *(f"<li>{html.escape(n)}</li>" for n in notes), "</ul>"]
    parts.append(_filter_bar(tasks, AGREEMENTS, "runs"))
    heads = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    parts += ['<table id="samples"><thead><tr><th>media</th><th>task</th><th>question</th><th>truth</th>'
              f"{heads}</tr></thead><tbody>", *body, "</tbody></table>"]
    return _page(f"EmoBench comparison: {names}", parts)
