"""Reading an lmms-eval run folder back: the one place that knows lmms-eval 0.7.3's output layout.

``lmms_eval --output_path OUT --log_samples`` writes, per run,
``OUT[/<model name>]/<date>_results.json`` (aggregated metrics, configs) and one
``<date>_samples_<task>.jsonl`` per task beside it (one line per document: ``target``, the model's
``filtered_resps``, and whatever the task's ``process_results`` returned; lmms-eval drops the
document itself). The EmoBench tasks put each sample's id, modality, source, target and parsed
answer into their ``macro_f1`` entry, which is where :func:`load_run` reads them from.

``emollm eval`` also leaves ``emollm_eval.json`` (its settings) in ``OUT``; it is optional here, so
folders written by plain ``lmms_eval`` load the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from emollm_plugin.emobench.jsonl import BadLine, iter_lines
from emollm_plugin.emobench.tasks import TASKS

TASK_PREFIX = "emobench_"
GROUP = "emobench"
RESULTS_SUFFIX = "_results.json"
SETTINGS_FILE = "emollm_eval.json"
#: The log-likelihood variant of a task: ``emobench_emo_c_ll`` (eval_tasks/emobench/ll_utils.py).
LL_SUFFIX = "_ll"
LL_GROUP = GROUP + LL_SUFFIX
LL_TASKS: tuple[str, ...] = tuple(task + LL_SUFFIX for task in TASKS)
#: Metrics the EmoBench tasks report (``strict_acc`` and the ``set_*`` open-vocabulary scores only
#: for ``emo_o``; ``ece`` .. ``acc_cov100`` only for the log-likelihood variants).
METRICS = (
    "accuracy", "strict_acc", "macro_f1", "uar", "unparsed_rate", "set_precision", "set_recall", "set_f1",
    "ece", "brier", "auroc", "acc_cov50", "acc_cov80", "acc_cov100", "scored", "missing",
)


class ResultsError(ValueError):
    """A run folder without usable lmms-eval output; the message names the folder and what is missing."""


@dataclass(frozen=True)
class Sample:
    """One scored document: what the model said, what it was read as, and the truth."""

    doc_id: int
    id: str | None
    modality: str | None
    source: str | None
    target: str
    parsed: str | None
    parsed_strict: str | None
    output: str
    #: Log-likelihood tasks: the options scored and their softmax probabilities (same order).
    options: tuple[str, ...] = ()
    probs: tuple[float, ...] | None = None
    #: Why the record was not scored (its media is missing or unreadable); None for a scored sample.
    problem: str | None = None

    @property
    def correct(self) -> bool:
        return self.parsed == self.target

    @property
    def empty(self) -> bool:
        return not self.output.strip()


@dataclass
class TaskRun:
    """One EmoBench sub-task of a run: lmms-eval's aggregated metrics and its samples."""

    name: str  # emo_c
    lmms_task: str  # emobench_emo_c
    metrics: dict[str, float]
    n: int
    samples: list[Sample] = field(default_factory=list)
    samples_file: Path | None = None
    #: Records counted but not scored: their media was missing or unreadable (``Sample.problem`` says why).
    missing: list[Sample] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def counts(self) -> dict[str, int]:
        """Scored samples, empty outputs, outputs that could not be read as a label, correct ones; missing records."""
        return {
            "missing": len(self.missing),
            "samples": len(self.samples),
            "empty": sum(s.empty for s in self.samples),
            "unparsed": sum(s.parsed is None for s in self.samples),
            "correct": sum(s.correct for s in self.samples),
        }


@dataclass
class Run:
    """An lmms-eval run over (some of) EmoBench."""

    folder: Path
    results_file: Path
    model: str
    model_args: str
    date: str
    tasks: dict[str, TaskRun]
    group: dict[str, float]
    settings: dict
    #: Log-likelihood variants, keyed ``emo_c_ll`` (see :data:`LL_TASKS`).
    ll_tasks: dict[str, TaskRun] = field(default_factory=dict)

    def get(self, name: str) -> TaskRun | None:
        """A task by its short name: ``emo_c`` or its log-likelihood variant ``emo_c_ll``."""
        return self.ll_tasks.get(name) if name.endswith(LL_SUFFIX) else self.tasks.get(name)

    @property
    def label(self) -> str:
        """``emollm eval --label``, else the model name from ``model_args``, else the folder name."""
        if self.settings.get("label"):
            return str(self.settings["label"])
        for key in ("pretrained", "model_path", "model", "path"):
            for part in self.model_args.split(","):
                name, _, value = part.partition("=")
                if name.strip() == key and value.strip():
                    return Path(value.strip()).name or value.strip()
        return self.folder.name

    @property
    def complete(self) -> bool:
        return all(task in self.tasks and self.tasks[task].accuracy is not None for task in TASKS)

    @property
    def mean_accuracy(self) -> float | None:
        """The paper's overall score: the plain mean of the six accuracies (None unless all six ran)."""
        if not self.complete:
            return None
        return sum(self.tasks[task].accuracy for task in TASKS) / len(TASKS)


def _results_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f"*{RESULTS_SUFFIX}"), key=lambda p: (p.name, str(p)))


def find_results_file(path: str | Path) -> Path:
    """The newest ``*_results.json`` under ``path`` (or ``path`` itself when it is one)."""
    path = Path(path)
    if path.is_file():
        if not path.name.endswith(RESULTS_SUFFIX):
            raise ResultsError(f"{path}: not an lmms-eval results file (*{RESULTS_SUFFIX})")
        return path
    if not path.is_dir():
        raise ResultsError(f"{path}: no such run folder")
    files = _results_files(path)
    if not files:
        raise ResultsError(
            f"{path}: no lmms-eval results file (*{RESULTS_SUFFIX}); the run did not finish or the model "
            "failed to load (lmms-eval logs 'Error during evaluation' and still exits 0): read its log"
        )
    return files[-1]  # names start with the run's date, so the last one is the newest


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}); the run was interrupted?"
        ) from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return data


def _metrics(entry: dict) -> dict[str, float]:
    """``{"accuracy,none": 0.5, ...}`` -> ``{"accuracy": 0.5, ...}`` (the unfiltered values only).

    An undefined value (NaN, e.g. AUROC when every answer is right) becomes None.
    """
    out = {}
    for key, value in entry.items():
        name, _, filter_name = key.partition(",")
        if filter_name == "none" and name in METRICS and isinstance(value, int | float):
            out[name] = None if math.isnan(value) else float(value)
    return out


def _output_text(record: dict) -> str:
    value = record.get("filtered_resps", record.get("resps", ""))
    while isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def iter_samples(path: Path) -> Iterator[Sample]:
    """Samples of one ``*_samples_<task>.jsonl``; a line that is not JSON is an error naming it."""
    for lineno, record in iter_lines(path):
        if isinstance(record, BadLine):
            raise ResultsError(f"{record} (an lmms-eval samples file; rerun the evaluation)")
        if not isinstance(record, dict):
            raise ResultsError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        status = record.get("missing") if isinstance(record.get("missing"), dict) else {}
        info = record.get("macro_f1") if isinstance(record.get("macro_f1"), dict) else status
        yield Sample(
            doc_id=int(record.get("doc_id", lineno - 1)),
            id=info.get("id"),
            modality=info.get("modality"),
            source=info.get("source"),
            target=str(info.get("target", record.get("target", ""))),
            parsed=info.get("parsed"),
            parsed_strict=info.get("parsed_strict", info.get("parsed")),
            output=_output_text(record),
            options=tuple(info.get("options") or ()),
            probs=tuple(info["probs"]) if isinstance(info.get("probs"), list) else None,
            problem=status.get("problem"),
        )


def _settings(results_file: Path) -> dict:
    """``emollm_eval.json`` beside the results file or one folder up (lmms-eval adds a model-name folder)."""
    for folder in (results_file.parent, results_file.parent.parent):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                return {}
    return {}


def load_run(path: str | Path) -> Run:
    """Per-task accuracy and metrics, every sample (target, parsed, raw output) and counts of one run.

    ``path`` is a run folder (the newest results file under it is used) or a results file.
    Tasks that lmms-eval did not report are absent from ``Run.tasks``; a reported task whose
    samples file is missing has no samples (``emollm eval`` treats both as failures).
    """
    results_file = find_results_file(path)
    data = _read_json(results_file)
    results = data.get("results")
    if not isinstance(results, dict):
        raise ResultsError(f"{results_file}: no 'results' section")
    date_id = results_file.name[: -len(RESULTS_SUFFIX)]
    n_samples = data.get("n-samples", {})
    tasks: dict[str, TaskRun] = {}
    for lmms_task, entry in results.items():
        name = lmms_task.removeprefix(TASK_PREFIX)
        if not lmms_task.startswith(TASK_PREFIX) or name not in TASKS + LL_TASKS or not isinstance(entry, dict):
            continue
        samples_file = results_file.parent / f"{date_id}_samples_{lmms_task}.jsonl"
        every = list(iter_samples(samples_file)) if samples_file.is_file() else []
        samples = [sample for sample in every if sample.problem is None]
        metrics = _metrics(entry)
        # n is what was scored: runs without a "scored" metric (older plugin versions) scored every sample.
        n = metrics["scored"] if metrics.get("scored") is not None else (
            entry.get("samples") or n_samples.get(lmms_task, {}).get("effective") or len(samples)
        )
        tasks[name] = TaskRun(
            name=name,
            lmms_task=lmms_task,
            metrics=metrics,
            n=int(n),
            samples=samples,
            samples_file=samples_file if samples_file.is_file() else None,
            missing=[sample for sample in every if sample.problem is not None],
        )
    group_entry = (data.get("groups") or {}).get(GROUP) or results.get(GROUP) or {}
    config = data.get("config") or {}
    root = Path(path) if Path(path).is_dir() else results_file.parent
    return Run(
        folder=root,
        results_file=results_file,
        model=str(config.get("model", "")),
        model_args=str(config.get("model_args") or ""),
        date=str(data.get("date", date_id)),
        tasks={task: tasks[task] for task in TASKS if task in tasks},
        ll_tasks={task: tasks[task] for task in LL_TASKS if task in tasks},
        group=_metrics(group_entry),
        settings=_settings(results_file),
    )
