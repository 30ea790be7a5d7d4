"""``emollm compare RUN_DIR...``: the paper-style table over several EmoBench runs.

One row per run: the six sub-task accuracies, their mean (the paper's score) and the gain of the
mean over the run's baseline, in points and relative to the baseline's mean.

Which run is whose baseline (the one rule): ``--baseline-of RUN=BASE`` (labels or 1-based
positions, repeatable) says it explicitly; every other run is compared with the FIRST run,
except the first run itself and the runs named as a BASE, which are foundations and show no
gain. So "base, base+MVP, base+MVP+EmoPrompt" needs no option, and two foundations side by side
need one mapping per derived run of the second, e.g. ``--baseline-of qwen+emollm=qwen``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from emollm_plugin.apps.report_calibration import COMPARE_COLUMNS, compare_markdown, run_scores
from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import Run


@dataclass
class Row:
    """One run's line in the table (accuracies in [0, 1]; None where a task is missing)."""

    label: str
    results_file: Path
    accuracies: dict[str, float | None]
    mean: float | None
    baseline: str | None = None
    gain_points: float | None = None
    gain_relative: float | None = None
    #: Calibration, open-vocabulary and judge scores (``report_calibration.run_scores``).
    beyond: dict[str, float | None] = field(default_factory=dict)


def unique_labels(runs: list[Run], labels: list[str] | None) -> list[str]:
    """``--labels`` when given (one per run), else each run's own label, made unique with #2, #3..."""
    if labels:
        if len(labels) != len(runs):
            raise ValueError(f"--labels has {len(labels)} names for {len(runs)} runs")
        if len(set(labels)) != len(labels):
            raise ValueError(f"--labels must be unique, got {labels}")
        return list(labels)
    seen: dict[str, int] = {}
    out = []
    for run in runs:
        base = run.label
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


def _resolve(name: str, labels: list[str]) -> str:
    if name in labels:
        return name
    if name.isdigit() and 1 <= int(name) <= len(labels):
        return labels[int(name) - 1]
    raise ValueError(
        f"--baseline-of: {name!r} is neither a run label ({', '.join(labels)}) nor a position 1..{len(labels)}"
    )


def baselines(labels: list[str], mapping: list[str] | None) -> dict[str, str | None]:
    """Each run's baseline label (None for foundations); see the module docstring for the rule."""
    explicit: dict[str, str] = {}
    for item in mapping or []:
        run, sep, base = item.partition("=")
        if not sep:
            raise ValueError(f"--baseline-of expects RUN=BASE, got {item!r}")
        explicit[_resolve(run.strip(), labels)] = _resolve(base.strip(), labels)
    foundations = set(explicit.values()) | ({labels[0]} if labels[0] not in explicit else set())
    out: dict[str, str | None] = {}
    for label in labels:
        if label in explicit:
            out[label] = explicit[label] if explicit[label] != label else None
        else:
            out[label] = None if label in foundations else labels[0]
    return out


def build_rows(runs: list[Run], labels: list[str], mapping: list[str] | None = None) -> list[Row]:
    rows = [
        Row(
            label=label,
            results_file=run.results_file,
            accuracies={task: run.tasks[task].accuracy if task in run.tasks else None for task in TASKS},
            mean=run.mean_accuracy,
            beyond=run_scores(run),
        )
        for run, label in zip(runs, labels, strict=True)
    ]
    by_label = {row.label: row for row in rows}
    for row, base in zip(rows, baselines(labels, mapping).values(), strict=True):
        row.baseline = base
        if base is None:
            continue
        base_mean = by_label[base].mean
        if row.mean is not None and base_mean is not None:
            row.gain_points = row.mean - base_mean
            row.gain_relative = (row.mean - base_mean) / base_mean if base_mean else None
    return rows


def _signed(value: float | None, scale: float = 100.0, suffix: str = "") -> str:
    return "-" if value is None else f"{scale * value:+.1f}{suffix}"


HEADER = ["model", *TASKS, "mean", "gain (pts)", "gain (%)", "baseline"]


def table_cells(rows: list[Row]) -> list[list[str]]:
    return [
        [
            row.label,
            *(percent(row.accuracies[t]) for t in TASKS),
            percent(row.mean),
            _signed(row.gain_points),
            _signed(row.gain_relative, suffix="%"),
            row.baseline or "-",
        ]
        for row in rows
    ]


def to_markdown(rows: list[Row]) -> str:
    lines = tabulate(table_cells(rows), headers=HEADER, tablefmt="github", disable_numparse=True).splitlines()
    lines.append("")
    lines.append(
        "Accuracy in %; mean = arithmetic mean of the six sub-task accuracies; "
        "gain = mean minus the baseline's mean (points) and relative to it (%)."
    )
    incomplete = [row.label for row in rows if row.mean is None]
    if incomplete:
        lines.append(f"No mean for {', '.join(incomplete)}: not all six sub-tasks were evaluated.")
    return "\n".join(lines) + "\n" + compare_markdown([row.label for row in rows], [row.beyond for row in rows])


def to_html(rows: list[Row]) -> str:
    """The accuracy table as an HTML table (cells escaped), for ``compare --html``."""
    return tabulate(table_cells(rows), headers=HEADER, tablefmt="html", disable_numparse=True).replace(
        "<table>", '<table id="per-task">', 1
    )


def to_csv(rows: list[Row]) -> str:
    """Machine-readable: accuracies and gains as fractions, empty where missing."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    beyond = [key for _, key, _ in COMPARE_COLUMNS]
    writer.writerow(["model", *TASKS, "mean", "gain_points", "gain_relative", "baseline", "results_file", *beyond])
    for row in rows:

        def cell(value: float | None) -> str:
            return "" if value is None else f"{value:.6f}"

        writer.writerow(
            [
                row.label,
                *(cell(row.accuracies[t]) for t in TASKS),
                cell(row.mean),
                cell(row.gain_points),
                cell(row.gain_relative),
                row.baseline or "",
                str(row.results_file),
                *(cell(row.beyond.get(key)) for key in beyond),
            ]
        )
    return buffer.getvalue()
