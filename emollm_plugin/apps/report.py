"""``emollm report RUN_DIR``: a Markdown report and plots from one lmms-eval EmoBench run.

The per-task table shows what lmms-eval reported (accuracy is the paper's number; macro-F1, UAR
and the unparsed share come from the tasks' aggregations). Per-class tables, confusion matrices
and the per-source/modality breakdown are recomputed from the samples file with
``scoring.score_samples``, the function the tasks aggregate with; the report says so when a
recomputed accuracy disagrees with lmms-eval's.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

from emollm_plugin.apps.report_calibration import beyond_accuracy
from emollm_plugin.apps.report_html import write_report_html
from emollm_plugin.emobench.scoring import percent, score_samples
from emollm_plugin.emobench.tasks import TASK_SPECS, TASKS
from emollm_plugin.lmms_glue.results import Run, Sample, TaskRun, load_run


def sample_scores(samples: list[Sample], strict: bool = False) -> dict:
    """``scoring.score_samples`` over a samples file's readings (the path the tasks aggregate by)."""
    return score_samples(
        [{"target": s.target, "parsed": s.parsed, "parsed_strict": s.parsed_strict} for s in samples], strict=strict
    )


def per_class_rows(scores: dict) -> list[dict]:
    """One row per label: support, answers naming it, recall, precision and F1 (scikit-learn's, in ``score``)."""
    return [{"label": label, **values} for label, values in scores["per_class"].items()]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True).splitlines()


def breakdown_rows(task: TaskRun) -> list[list[str]]:
    """Accuracy by (source, modality) within a task."""
    groups: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in task.samples:
        groups[(sample.source or "?", sample.modality or "?")].append(sample)
    return [
        [task.name, source, modality, str(len(items)), percent(sum(s.correct for s in items) / len(items))]
        for (source, modality), items in sorted(groups.items())
    ]


def plot_task_bars(run: Run, path: Path) -> Path:
    """Grouped bars of accuracy, macro-F1 and UAR per task, with the mean accuracy as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if t in run.tasks]
    metrics = ("accuracy", "macro_f1", "uar")
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.27
    for j, metric in enumerate(metrics):
        values = [100 * run.tasks[t].metrics.get(metric, 0.0) for t in tasks]
        ax.bar([i + (j - 1) * width for i in range(len(tasks))], values, width, label=metric)
    if run.mean_accuracy is not None:
        ax.axhline(100 * run.mean_accuracy, color="black", linestyle="--", linewidth=1, label="mean accuracy")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(f"EmoBench: {run.label}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion(task: str, scores: dict, path: Path) -> Path:
    """Row-normalised confusion matrix with counts; the last column holds unreadable answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = scores["confusion"]["labels"]
    columns = scores["confusion"]["columns"]
    counts = np.array(scores["confusion"]["matrix"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(4.0, 0.55 * len(columns) + 2)
    fig, ax = plt.subplots(figsize=(size, max(3.5, 0.5 * len(labels) + 1.5)))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("answer")
    ax.set_ylabel("truth")
    for i in range(len(labels)):
        for j in range(len(columns)):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    int(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black",
                )
    ax.set_title(f"{task}: accuracy {percent(scores['accuracy'])}%")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def render(
    run: Run, scores: dict[str, dict], strict: dict[str, dict], plots: dict[str, Path], out: Path
) -> str:
    """The Markdown report (plots linked relative to ``out``)."""
    lines = [f"# EmoBench report: {run.label}", ""]
    lines.append(f"- results: `{run.results_file}`")
    lines.append(f"- model: `{run.model}` `{run.model_args}`")
    if run.settings:
        lines.append(
            f"- EmoPrompt k: {run.settings.get('k', 0)}; exemplars: `{run.settings.get('exemplars')}`"
        )
        if run.settings.get("limit"):
            lines.append(f"- limit: {run.settings['limit']} samples per task (not a full evaluation)")
    lines.append(f"- date: {run.date}")
    lines.append("")
    lines.append("## Per task")
    lines.append("")
    rows = []
    for task in TASKS:
        result = run.tasks.get(task)
        if result is None:
            rows.append([task, TASK_SPECS[task].title, "-", "missing", "-", "-", "-"])
            continue
        m = result.metrics
        rows.append(
            [
                task,
                TASK_SPECS[task].title,
                str(result.n),
                percent(m.get("accuracy")),
                percent(m.get("macro_f1")),
                percent(m.get("uar")),
                percent(m.get("unparsed_rate")),
            ]
        )
    mean = run.mean_accuracy
    rows.append(
        [
            "**mean**",
            "mean of the six accuracies (paper's score)",
            "",
            f"**{percent(mean)}**" if mean is not None else "- (incomplete)",
            "",
            "",
            "",
        ]
    )
    lines += _table(["task", "title", "n", "accuracy %", "macro-F1 %", "UAR %", "unparsed %"], rows)
    if "bars" in plots:
        lines += ["", f"![per-task metrics]({plots['bars'].relative_to(out).as_posix()})"]
    mismatches = [
        f"{task}: samples give {percent(scores[task]['accuracy'])}, lmms-eval reported {percent(run.tasks[task].accuracy)}"
        for task in scores
        if run.tasks[task].accuracy is not None
        and abs(scores[task]["accuracy"] - run.tasks[task].accuracy) > 1e-9
    ]
    if mismatches:
        lines += [
            "",
            "**Warning**: accuracy recomputed from the samples files differs: " + "; ".join(mismatches),
        ]
    if "emo_o" in run.tasks:
        m = run.tasks["emo_o"].metrics
        lines += ["", "## Open-set emotion (emo_o): strict vs lexicon-mapped", ""]
        mapped = sum(
            1 for s in run.tasks["emo_o"].samples if s.parsed is not None and s.parsed != s.parsed_strict
        )
        lines += _table(
            ["scoring", "accuracy %", "unparsed %"],
            [
                [
                    "lexicon-mapped (synonyms such as 'happy' count as joy)",
                    percent(m.get("accuracy")),
                    percent(m.get("unparsed_rate")),
                ],
                [
                    "strict (the label word itself)",
                    percent(m.get("strict_acc", strict.get("emo_o", {}).get("accuracy"))),
                    percent(strict.get("emo_o", {}).get("unparsed_rate")),
                ],
            ],
        )
        lines += ["", f"{mapped} answer(s) were read through the synonym lexicon."]
    lines += ["", "## By source and modality", ""]
    lines += _table(
        ["task", "source", "modality", "n", "accuracy %"],
        [row for task in TASKS if task in run.tasks for row in breakdown_rows(run.tasks[task])],
    )
    lines += ["", "## Per class", ""]
    for task in TASKS:
        if task not in scores:
            continue
        lines += [f"### {task}: {TASK_SPECS[task].title}", ""]
        lines += _table(
            ["label", "support", "answered", "recall %", "precision %", "F1 %"],
            [
                [
                    r["label"],
                    str(r["support"]),
                    str(r["predicted"]),
                    percent(r["recall"]),
                    percent(r["precision"]),
                    percent(r["f1"]),
                ]
                for r in per_class_rows(scores[task])
            ],
        )
        unparsed = sum(row[-1] for row in scores[task]["confusion"]["matrix"])
        lines += ["", f"Unreadable answers: {unparsed} of {scores[task]['n']}."]
        if task in plots:
            lines += ["", f"![{task} confusion matrix]({plots[task].relative_to(out).as_posix()})"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(run_dir: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Write ``report.md`` and the PNGs; returns ``{"report": path, "bars": path, <task>: path}``."""
    run = load_run(run_dir)
    out = Path(out) if out else run.folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    scores = {task: sample_scores(result.samples) for task, result in run.tasks.items() if result.samples}
    strict = {
        task: sample_scores(result.samples, strict=True)
        for task, result in run.tasks.items()
        if task == "emo_o" and result.samples
    }
    plots: dict[str, Path] = {}
    if run.tasks:
        plots["bars"] = plot_task_bars(run, out / "per_task.png")
    for task, task_scores in scores.items():
        plots[task] = plot_confusion(task, task_scores, out / f"confusion_{task}.png")
    report = out / "report.md"
    report.write_text(render(run, scores, strict, plots, out) + beyond_accuracy(run, out, plots), encoding="utf-8")
    return {"report": report, "html": write_report_html(run, plots, out), **plots}
