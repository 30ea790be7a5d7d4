"""``emollm eval``: run EmoBench through lmms-eval and print the paper's table.

lmms-eval runs as its own CLI in a subprocess (``python -m lmms_eval ... --include_path
<eval_tasks> --log_samples --output_path OUT``) rather than through its Python API because:
the printed command reproduces the run without the plugin; lmms-eval reconfigures logging,
initialises Accelerate and may call ``sys.exit``, none of which should leak into this process;
and a model's memory is released when the run ends.

The verdict never comes from lmms-eval's exit code: 0.7.3 exits 0 when the model fails to load
(it only logs ``Error during evaluation``) and its wrappers turn ``generate()`` errors into empty
answers. So this command reads the results and samples files the run wrote and exits non-zero
when they are missing, stale, lack a task, or a task's answers are all empty or all unreadable.

Settings reach the tasks through environment variables only (see ``eval_tasks/emobench/utils.py``):
``EMOBENCH_DIR`` (``--emobench-dir``), ``EMOBENCH_EXEMPLARS`` (``--exemplars``), ``EMOBENCH_K`` (``--k``).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASK_SPECS, TASKS
from emollm_plugin.lmms_glue.results import GROUP, LL_GROUP, LL_SUFFIX, LL_TASKS, TASK_PREFIX, Run

ENV_DIR = "EMOBENCH_DIR"
ENV_EXEMPLARS = "EMOBENCH_EXEMPLARS"
ENV_K = "EMOBENCH_K"
#: How to get data; the tasks (eval_tasks/emobench/utils.py) end their missing-data errors with it too.
BUILD_HINT = (
    "Build EmoBench first: `emollm data synth --out DIR` (synthetic, offline) or "
    "`emollm data build --source NAME --root SRC --out DIR` (public sources; `emollm data sources` lists them), "
    f"then `export {ENV_DIR}=DIR` (or pass `emollm eval --emobench-dir DIR`)."
)


#: ``emollm eval``'s exit code for a run that finished and scored every record but in which all of a task's
#: answers were unreadable: a score of 0 there, not a broken run (exit code 1). The pipeline keeps it.
UNREADABLE_ANSWERS = 3


class EvalSetupError(ValueError):
    """A problem found before lmms-eval starts (data, exemplars, task names)."""


def tasks_dir() -> Path:
    """The folder holding the EmoBench task YAML, as installed (package ``emollm_plugin.eval_tasks``)."""
    folder = Path(str(resources.files("emollm_plugin.eval_tasks") / "emobench"))
    if not (folder / "emobench.yaml").is_file():
        raise EvalSetupError(
            f"{folder}: the EmoBench task files are missing; reinstall the plugin (`pip install -e .`)"
        )
    return folder


def expand_tasks(spec: str) -> list[str]:
    """``emobench`` -> the six sub-tasks; ``emobench_hate,emo_c`` -> those, in EmoBench order.

    ``emobench_ll`` -> the six log-likelihood variants (``emo_c_ll``, ...), listed after the
    generative tasks when both are asked for.
    """
    wanted: list[str] = []
    for raw in spec.split(","):
        name = raw.strip()
        if not name:
            continue
        if name in (GROUP, LL_GROUP):
            wanted.extend(TASKS if name == GROUP else LL_TASKS)
            continue
        short = name.removeprefix(TASK_PREFIX)
        if short not in TASKS + LL_TASKS:
            raise EvalSetupError(
                f"unknown task {name!r}; use {GROUP!r}, {LL_GROUP!r} (log-likelihood variants) or any of "
                f"{', '.join(TASK_PREFIX + t for t in TASKS)} (add {LL_SUFFIX} for a log-likelihood variant)"
            )
        wanted.append(short)
    if not wanted:
        raise EvalSetupError("--tasks is empty; use 'emobench' for all six sub-tasks")
    return [task for task in TASKS + LL_TASKS if task in wanted]


def lmms_task_arg(spec: str, tasks: list[str]) -> str:
    """The ``--tasks`` value for lmms-eval: a group when all six of it run and were asked as it, else task names."""
    asked = [s.strip() for s in spec.split(",")]
    names: list[str] = []
    for group, members in ((GROUP, TASKS), (LL_GROUP, LL_TASKS)):
        chosen = [task for task in tasks if task in members]
        if set(chosen) == set(members) and group in asked:
            names.append(group)
        else:
            names.extend(TASK_PREFIX + task for task in chosen)
    return ",".join(names)


def data_dir(value: str | None) -> Path:
    """``--emobench-dir`` or ``$EMOBENCH_DIR``, resolved; an error with the build hint when absent."""
    raw = value or os.environ.get(ENV_DIR, "").strip()
    if not raw:
        raise EvalSetupError(f"no EmoBench folder: pass --emobench-dir DIR or set {ENV_DIR}. {BUILD_HINT}")
    folder = Path(raw).expanduser().resolve()
    if not folder.is_dir():
        raise EvalSetupError(f"EmoBench folder {folder} does not exist. {BUILD_HINT}")
    return folder


def check_data(folder: Path, tasks: list[str]) -> None:
    """Every requested task has its ``test/<task>.jsonl`` (the layout the task YAML reads)."""
    missing = [
        str(folder / "test" / f"{task}.jsonl")
        for task in dict.fromkeys(task.removesuffix(LL_SUFFIX) for task in tasks)
        if not (folder / "test" / f"{task}.jsonl").is_file()
    ]
    if missing:
        raise EvalSetupError(f"EmoBench test records missing: {', '.join(missing)}. {BUILD_HINT}")


def exemplar_settings(k: int | None, exemplars: str | None) -> tuple[int, Path | None]:
    """``(k, exemplars file)`` from the flags, falling back to ``$EMOBENCH_K`` / ``$EMOBENCH_EXEMPLARS``."""
    if k is None:
        raw = os.environ.get(ENV_K, "").strip() or "0"
        try:
            k = int(raw)
        except ValueError:
            raise EvalSetupError(f"{ENV_K}={raw!r} is not an integer") from None
    if k < 0:
        raise EvalSetupError(f"--k must be >= 0, got {k}")
    path = exemplars or os.environ.get(ENV_EXEMPLARS, "").strip() or None
    if k == 0:
        return 0, Path(path).expanduser().resolve() if path else None
    if not path:
        raise EvalSetupError(
            f"--k {k} needs --exemplars FILE (an exemplars.json from `emollm emoprompt exemplars`)"
        )
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise EvalSetupError(f"exemplars file {file} not found; create it with `emollm emoprompt exemplars`")
    return k, file


def free_port() -> int:
    """A TCP port nobody listens on now, for the processes of one multi-process run to meet on."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launcher(num_processes: int) -> list[str]:
    """How lmms-eval starts: ``python -m`` for one process; for several, Accelerate's launcher (lmms-eval's
    documented way to scale out), each process evaluating a share of the documents. ``--multi_gpu`` selects
    its torchrun-based launcher, which also runs CPU processes (gloo) on a machine without GPUs."""
    if num_processes < 1:
        raise EvalSetupError(f"--num-processes must be >= 1, got {num_processes}")
    if num_processes == 1:
        return [sys.executable, "-m"]
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()), "-m",
    ]


def build_command(args: argparse.Namespace, lmms_tasks: str, out: Path) -> list[str]:
    """The lmms-eval command line this run executes (printed, so it can be rerun by hand)."""
    command = [
        *launcher(getattr(args, "num_processes", 1)),
        "lmms_eval",
        "--model",
        args.model,
        "--tasks",
        lmms_tasks,
        "--include_path",
        str(tasks_dir()),
        "--log_samples",
        "--output_path",
        str(out),
        "--batch_size",
        str(args.batch_size),
        "--verbosity",
        args.verbosity,
        # Use a model's simple (non-chat) wrapper where it has one: the EmoBench tasks build
        # simple requests, and lmms-eval 0.7.3 otherwise picks e.g. llava_hf's chat class, which
        # crashes on them. Models with only one wrapper are unaffected.
        "--force_simple",
    ]
    if args.model_args:
        command += ["--model_args", args.model_args]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    if args.device:
        command += ["--device", args.device]
    if args.max_new_tokens is not None:
        command += ["--gen_kwargs", f"max_new_tokens={args.max_new_tokens}"]
    extra = list(args.lmms_eval_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    return command + extra


def build_env(folder: Path, k: int, exemplars: Path | None) -> dict[str, str]:
    """The subprocess environment: offline hub and datasets (unless set), and the EmoBench settings."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env[ENV_DIR] = str(folder)
    env[ENV_K] = str(k)
    if exemplars is not None:
        env[ENV_EXEMPLARS] = str(exemplars)
    else:
        env.pop(ENV_EXEMPLARS, None)
    return env


def is_stale(results_file: Path, started: float) -> bool:
    """A results file older than this run's start was left by an earlier run in the same folder."""
    return results_file.stat().st_mtime < started - 1.0  # 1 s of slack for coarse file-system clocks


def count_test_records(folder: Path, tasks: list[str]) -> dict[str, int]:
    """Non-blank lines of each task's ``test/<task>.jsonl`` (read as bytes: a bad line still counts)."""
    counts = {}
    for task in tasks:
        with (folder / "test" / f"{task.removesuffix(LL_SUFFIX)}.jsonl").open("rb") as handle:
            counts[task] = sum(1 for line in handle if line.strip())
    return counts


def check_accounting(run: Run, tasks: list[str], lines: dict[str, int], limit: int | None = None) -> list[str]:
    """Records of the test files that were not scored, one line per task (empty when every record was).

    Each task must score ``lines[task]`` records (``min(lines, limit)`` with ``--limit``); a record
    whose media is missing or unreadable is counted as missing, and a line the task could not read
    at all (malformed JSON, a record of another task) is counted by difference.
    """
    problems = []
    for task in tasks:
        result = run.get(task)
        if result is None or task not in lines:
            continue  # check_run reports a task without results
        wanted = min(lines[task], limit) if limit is not None else lines[task]
        scored = result.n
        missing = len(result.missing)
        if missing:
            example = result.missing[0]
            problems.append(
                f"{task}: {missing} of {wanted} records not scored, their media is missing or unreadable "
                f"(e.g. {example.id}: {example.problem})"
            )
        unread = wanted - scored - missing
        if unread > 0:
            problems.append(
                f"{task}: {unread} of {wanted} records were not evaluated (malformed lines or records of another "
                f"task in test/{task.removesuffix(LL_SUFFIX)}.jsonl; `emollm data validate` lists them)"
            )
    return problems


def check_run(run: Run, tasks: list[str]) -> list[str]:
    """Why a run cannot be trusted, one line per problem (empty when every requested task is usable)."""
    problems = []
    for task in tasks:
        result = run.get(task)
        if result is None:
            problems.append(
                f"{task}: no result in {run.results_file} (lmms-eval did not evaluate it; read its log)"
            )
            continue
        if result.accuracy is None:
            problems.append(f"{task}: no accuracy in {run.results_file}")
        if result.samples_file is None:
            problems.append(f"{task}: no samples file beside {run.results_file}")
            continue
        counts = result.counts
        if counts["samples"] == 0:
            problems.append(f"{task}: the samples file {result.samples_file} is empty")
        elif task.endswith(LL_SUFFIX):  # no text: each sample must carry its option probabilities
            if any(sample.probs is None for sample in result.samples):
                problems.append(f"{task}: samples in {result.samples_file} lack option probabilities")
        elif counts["empty"] == counts["samples"]:
            problems.append(
                f"{task}: all {counts['samples']} answers are empty; the model's generate() probably failed "
                "(lmms-eval's wrappers log the error and return ''): read the log above"
            )
    return problems


def check_answers(run: Run, tasks: list[str]) -> list[str]:
    """Tasks whose answers were all unreadable: a finished, whole run that scores 0 there (exit code 3)."""
    problems = []
    for task in tasks:
        result = run.get(task)
        if result is None or task.endswith(LL_SUFFIX) or result.samples_file is None:
            continue
        counts = result.counts
        if counts["samples"] and counts["empty"] < counts["samples"] and counts["unparsed"] == counts["samples"]:
            example = next(s.output for s in result.samples if not s.empty)
            problems.append(
                f"{task}: none of the {counts['samples']} answers names a label (e.g. {example[:80]!r}); "
                "check the model, the prompt (--k/--exemplars) or --max-new-tokens"
            )
    return problems


def format_table(run: Run, tasks: list[str], partial: str | None = None) -> str:
    """Per-task accuracy (%), records scored and missing, unreadable answers, then the mean of the six accuracies.

    ``partial`` (why not every record was scored) heads the table, so a partial run never reads as whole.
    """
    lines = [f"EmoBench ({run.label}; {run.results_file})", ""]
    if partial:
        lines[1:1] = [f"PARTIAL: {partial}"]
    ll_tasks = [task for task in tasks if task.endswith(LL_SUFFIX)]
    tasks = [task for task in tasks if task not in ll_tasks]
    if not tasks:
        return "\n".join(lines + format_calibration_table(run, ll_tasks))
    lines.append(f"{'task':<8} {'title':<33} {'scored':>6} {'accuracy':>9} {'unparsed':>9} {'missing':>8}")
    for task in tasks:
        result = run.tasks.get(task)
        title = TASK_SPECS[task].title
        if result is None:
            lines.append(f"{task:<8} {title:<33} {'-':>6} {'no result':>9} {'-':>9} {'-':>8}")
            continue
        unparsed = result.metrics.get("unparsed_rate")
        lines.append(
            f"{task:<8} {title:<33} {result.n:>6} {percent(result.accuracy):>9} {percent(unparsed):>9} "
            f"{len(result.missing):>8}"
        )
        if "strict_acc" in result.metrics:
            lines.append(
                f"{'':<8} {'  strict (label word only)':<33} {'':>6} {percent(result.metrics['strict_acc']):>9}"
            )
        if "set_f1" in result.metrics:
            scores = "/".join(percent(result.metrics.get(f"set_{m}")) for m in ("precision", "recall", "f1"))
            lines.append(f"{'':<8} {'  open-vocabulary set P/R/F1':<33} {'':>6} {scores:>9}")
    mean = run.mean_accuracy
    if mean is not None:
        lines.append(f"{'mean':<8} {'mean of the six accuracies':<33} {'':>6} {percent(mean):>9}")
    else:
        present = [
            run.tasks[t].accuracy for t in tasks if t in run.tasks and run.tasks[t].accuracy is not None
        ]
        if present:
            lines.append(
                f"{'mean':<8} {f'mean of {len(present)} task(s), not EmoBench':<33} {'':>6} {percent(sum(present) / len(present)):>9}"
            )
    if ll_tasks:
        lines += ["", *format_calibration_table(run, ll_tasks)]
    return "\n".join(lines)


def _decimal(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:.3f}"


def format_calibration_table(run: Run, ll_tasks: list[str]) -> list[str]:
    """The log-likelihood variants: accuracy, ECE, Brier, AUROC and accuracy at 50/80/100% coverage."""
    lines = [
        "Log-likelihood scoring (softmax over the options; ECE: 10 equal-width confidence bins;",
        "acc@c: accuracy on the c% most confident questions; AUROC undef. when all right or all wrong)",
        f"{'task':<11} {'n':>6} {'accuracy':>9} {'ECE':>6} {'Brier':>6} {'AUROC':>6} {'acc@50%':>8} {'acc@80%':>8} {'acc@100%':>9}",
    ]
    for task in ll_tasks:
        result = run.get(task)
        if result is None:
            lines.append(f"{task:<11} {'-':>6} {'missing':>9}")
            continue
        m = result.metrics
        auroc = _decimal(m.get("auroc"), "undef." if "auroc" in m else "-")
        lines.append(
            f"{task:<11} {result.n:>6} {percent(result.accuracy):>9} {_decimal(m.get('ece')):>6} "
            f"{_decimal(m.get('brier')):>6} {auroc:>6} {percent(m.get('acc_cov50')):>8} "
            f"{percent(m.get('acc_cov80')):>8} {percent(m.get('acc_cov100')):>9}"
        )
    return lines
