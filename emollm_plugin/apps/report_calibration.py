"""The report's "Beyond accuracy" section, and the per-run numbers ``emollm compare`` shows beside accuracy.

Three kinds of score, each present only when the run has it:

- calibration (the ``emobench_<task>_ll`` log-likelihood tasks): accuracy of the most likely option,
  ECE, Brier, AUROC and accuracy at 50/80/100% coverage, recomputed from the samples' option
  probabilities with ``emobench.calibration`` (the numbers lmms-eval aggregated are the same
  functions), a reliability diagram and a coverage curve per task;
- open vocabulary (``emo_o``): set precision/recall/F1 beside strict and lexicon-mapped accuracy;
- the judge (``judge.json`` from ``emollm judge``): recognition, reasoning and combined scores with
  the judge's identity, prompt hashes and cache hit rate.
"""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from emollm_plugin.apps.judge import load_judgment
from emollm_plugin.emobench.calibration import COVERAGES, ECE_BINS, coverage_key, summarize
from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import LL_TASKS, Run, TaskRun


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True).splitlines()


def _decimal(value: float | None, undefined: str = "-") -> str:
    return undefined if value is None else f"{value:.3f}"


def task_calibration(task: TaskRun) -> dict | None:
    """``calibration.summarize`` over a log-likelihood task's samples (None without option probabilities)."""
    samples = [s for s in task.samples if s.probs is not None]
    if not samples:
        return None
    targets = [s.options.index(s.target) if s.target in s.options else None for s in samples]
    return summarize([list(s.probs) for s in samples], targets)


def plot_reliability(summaries: dict[str, dict], path: Path) -> Path:
    """One reliability diagram per task: accuracy per confidence bin against the diagonal, bin counts as labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summaries)
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    width = 1 / ECE_BINS
    for ax, name in zip(axes.flat, names, strict=False):
        bins = summaries[name]["reliability"]
        filled = [b for b in bins if b["count"]]
        ax.bar([b["low"] for b in filled], [b["accuracy"] for b in filled], width=width, align="edge",
               edgecolor="black", color="#4c72b0", label="accuracy")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="calibrated")
        for b in filled:
            ax.text(b["low"] + width / 2, min(0.95, b["accuracy"] + 0.03), str(b["count"]), ha="center", fontsize=6)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}: ECE {summaries[name]['ece']:.3f}", fontsize=9)
        ax.set_xlabel("confidence (top option probability)", fontsize=7)
        ax.set_ylabel("accuracy", fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_coverage(summaries: dict[str, dict], path: Path) -> Path:
    """Accuracy against coverage (answering only the most confident questions), one line per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, summary in summaries.items():
        curve = summary["curve"]
        ax.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], marker="o", markersize=3, label=name)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("accuracy on the answered questions")
    ax.set_title("Selective answering: accuracy at coverage")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def calibration_lines(run: Run, out: Path, plots: dict[str, Path]) -> list[str]:
    """The calibration table and the two plots (written to ``out``, added to ``plots``)."""
    summaries = {name: s for name, task in run.ll_tasks.items() if (s := task_calibration(task)) is not None}
    if not summaries:
        return []
    covs = [f"acc@{round(100 * c)}% %" for c in COVERAGES]
    rows = [
        [name, str(s["n"]), percent(s["accuracy"]), _decimal(s["ece"]), _decimal(s["brier"]),
         _decimal(s["auroc"], "undefined"), *(percent(s[coverage_key(c)]) for c in COVERAGES)]
        for name, s in summaries.items()
    ]
    lines = ["", "### Calibration and selective answering (log-likelihood tasks)", ""]
    lines += _table(["task", "n", "accuracy %", "ECE", "Brier", "AUROC", *covs], rows)
    lines += [
        "",
        f"Confidence is the top option's softmax-over-options probability. ECE: {ECE_BINS} fixed equal-width bins "
        "(right-closed); Brier: multi-class over the options (0 best, 2 worst); AUROC of confidence against "
        "correctness (undefined when all answers are right or all wrong); acc@c: accuracy when only the c% most "
        "confident questions are answered (ties at the threshold included).",
    ]
    plots["reliability"] = plot_reliability(summaries, out / "reliability.png")
    plots["coverage"] = plot_coverage(summaries, out / "coverage.png")
    lines += ["", f"![reliability diagrams]({plots['reliability'].relative_to(out).as_posix()})"]
    lines += ["", f"![accuracy at coverage]({plots['coverage'].relative_to(out).as_posix()})"]
    return lines


def open_vocab_lines(run: Run) -> list[str]:
    """emo_o's open-vocabulary set precision/recall/F1 beside its strict and lexicon-mapped accuracy."""
    task = run.tasks.get("emo_o")
    if task is None or "set_f1" not in task.metrics:
        return []
    m = task.metrics
    lines = ["", "### Open vocabulary (emo_o)", ""]
    lines += _table(
        ["strict accuracy %", "lexicon-mapped accuracy %", "set precision %", "set recall %", "set F1 %"],
        [[percent(m.get("strict_acc")), percent(m.get("accuracy")), percent(m.get("set_precision")),
          percent(m.get("set_recall")), percent(m.get("set_f1"))]],
    )
    lines += [
        "",
        "Every emotion an answer names is mapped onto the label set through emobench/data/emotion_wheel.json "
        "(Parrott 2001, Plutchik 2001); precision = share of the named emotions that are the label, recall = "
        "whether the label is named, means over answers (an answer naming none scores 0).",
    ]
    return lines


def judge_lines(run: Run) -> list[str]:
    """The judged scores of ``judge.json``, with who judged and how much came from the cache."""
    report = load_judgment(run.folder) or load_judgment(run.results_file.parent)
    if not report:
        return []
    judge, cache = report["judge"], report["cache"]
    lines = ["", "### Judged recognition and reasoning", ""]
    lines.append(
        f"Judge `{judge['model']}` at `{judge['base_url']}` (server reports: "
        f"{', '.join(judge['served_models']) or 'not reported'}), temperature {judge['temperature']:g}; prompts "
        + ", ".join(f"`{p['file']}` sha256 `{p['sha256'][:12]}`" for p in judge["prompts"].values())
        + f"; cache `{cache['file']}`: {cache['hits']}/{cache['calls']} from the cache ({100 * cache['hit_rate']:.1f}%)."
    )
    lines.append("")
    lines += _table(
        ["task", "n", "recognition %", "reasoning %", "combined %", "failed judgments"],
        [[task, str(s["n"]), percent(s["recognition"]), percent(s["reasoning"]), percent(s["combined"]),
          str(sum(s["failures"].values()))] for task, s in report["tasks"].items()],
    )
    lines += ["", "A failed judgment (no reply, or no valid score line) scores 0 and stays in the mean."]
    return lines


def beyond_accuracy(run: Run, out: Path, plots: dict[str, Path]) -> str:
    """The report's "Beyond accuracy" section (empty when the run has none of its scores)."""
    lines = calibration_lines(run, out, plots) + open_vocab_lines(run) + judge_lines(run)
    if not lines:
        return ""
    return "\n".join(["", "## Beyond accuracy", *lines]).rstrip() + "\n"


# ----------------------------------------------------------------------------- emollm compare

#: Columns ``emollm compare`` adds per run: (header, key in :func:`run_scores`, is a percentage).
COMPARE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("LL acc", "ll_accuracy", True),
    ("ECE", "ece", False),
    ("Brier", "brier", False),
    ("AUROC", "auroc", False),
    *((f"acc@{round(100 * c)}%", coverage_key(c), True) for c in COVERAGES),
    ("emo_o set F1", "set_f1", True),
    ("judge rec", "recognition", True),
    ("judge reas", "reasoning", True),
    ("judge comb", "combined", True),
)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def run_scores(run: Run) -> dict[str, float | None]:
    """One run's beyond-accuracy numbers for ``emollm compare``: means over the six tasks where all six ran.

    Calibration numbers are the means over the six log-likelihood tasks (None unless all six ran;
    AUROC over the tasks where it is defined); judge scores are the means over the judged tasks.
    """
    out: dict[str, float | None] = {key: None for _, key, _ in COMPARE_COLUMNS}
    if all(name in run.ll_tasks for name in LL_TASKS):
        metrics = [run.ll_tasks[name].metrics for name in LL_TASKS]
        out["ll_accuracy"] = _mean([m.get("accuracy") for m in metrics])
        for key in ("ece", "brier", "auroc", *(coverage_key(c) for c in COVERAGES)):
            out[key] = _mean([m.get(key) for m in metrics])
    if "emo_o" in run.tasks:
        out["set_f1"] = run.tasks["emo_o"].metrics.get("set_f1")
    report = load_judgment(run.folder) or load_judgment(run.results_file.parent)
    if report and all(task in report["tasks"] for task in TASKS):
        for key in ("recognition", "reasoning", "combined"):
            out[key] = _mean([report["tasks"][task][key] for task in TASKS])
    return out


def compare_cells(scores: dict[str, float | None]) -> list[str]:
    """One run's cells under :data:`COMPARE_COLUMNS`."""
    return [percent(scores.get(key)) if pct else _decimal(scores.get(key)) for _, key, pct in COMPARE_COLUMNS]


def compare_markdown(labels: list[str], scores: list[dict[str, float | None]]) -> str:
    """The side-by-side table of beyond-accuracy scores ("" when no run has any)."""
    if not any(value is not None for run in scores for value in run.values()):
        return ""
    lines = ["", "Beyond accuracy", ""]
    lines += _table(["model", *(header for header, _, _ in COMPARE_COLUMNS)],
                    [[label, *compare_cells(s)] for label, s in zip(labels, scores, strict=True)])
    lines += [""]
    lines.append(
        "LL acc .. acc@100%: means over the six log-likelihood tasks (emobench_ll; ECE/Brier/AUROC as fractions, "
        "the rest in %); emo_o set F1: open-vocabulary; judge: means over the six tasks from `emollm judge`."
    )
    return "\n".join(lines) + "\n"
