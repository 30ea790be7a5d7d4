"""``emollm eval``: run EmoBench through lmms-eval and print the paper's table (see ``lmms_glue.evaluate``)."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from emollm_plugin.lmms_glue.evaluate import (
    ENV_DIR,
    ENV_EXEMPLARS,
    ENV_K,
    UNREADABLE_ANSWERS,
    EvalSetupError,
    build_command,
    build_env,
    check_accounting,
    check_answers,
    check_data,
    check_run,
    count_test_records,
    data_dir,
    exemplar_settings,
    expand_tasks,
    format_table,
    is_stale,
    lmms_task_arg,
)
from emollm_plugin.lmms_glue.results import GROUP, SETTINGS_FILE, ResultsError, load_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Run EmoBench through lmms-eval (a subprocess, offline) and print accuracy per sub-task and\n"
        "their mean. Every record of test/<task>.jsonl is scored or counted as missing (media missing or\n"
        "unreadable). Exit 1 when lmms-eval wrote no results, a task is missing, its answers are all empty,\n"
        "or a record was not scored (unless --allow-partial); exit 3 when the run is whole but all of a\n"
        "task's answers are unreadable (lmms-eval itself exits 0 in all these cases)."
    )
    parser.epilog = (
        "examples:\n"
        "  emollm eval --model emollm --model_args pretrained=ckpt/emollm --emobench-dir data/emobench\n"
        "  emollm eval --model llava_hf --model_args pretrained=PATH,device_map=cpu --device cpu --limit 20\n"
        "  emollm eval ... --k 2 --exemplars runs/emoprompt/exemplars.json --max-new-tokens 256\n"
        "  emollm eval ... --num-processes 8   (data-parallel, one process per GPU, via accelerate launch)\n"
        "  emollm eval ... --tasks emobench_ll   (score every option: ECE, Brier, AUROC, accuracy at coverage)\n"
        "  emollm eval ... -- --seed 1,1,1,1   (arguments after -- go to lmms-eval unchanged)"
    )
    parser.add_argument(
        "--model", required=True, help="lmms-eval model name (emollm, llava_hf, qwen2_vl, dummy, ...)"
    )
    parser.add_argument(
        "--model_args",
        "--model-args",
        dest="model_args",
        default="",
        help="lmms-eval model_args, e.g. pretrained=PATH",
    )
    parser.add_argument(
        "--tasks",
        default=GROUP,
        help="'emobench' (all six), 'emobench_ll' (their log-likelihood variants: calibration) or a comma "
        "list such as emobench_hate,emobench_emo_c_ll",
    )
    parser.add_argument(
        "--emobench-dir", help=f"EmoBench folder holding test/<task>.jsonl (default: ${ENV_DIR})"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="run folder for lmms-eval's results and samples (default: runs/eval-<time>)",
    )
    parser.add_argument(
        "--label", help="name of this run in reports and `emollm compare` (default: the model path's name)"
    )
    parser.add_argument(
        "--limit", type=int, help="evaluate only the first N samples of each task (for smoke tests)"
    )
    parser.add_argument("--batch-size", type=int, default=1, help="lmms-eval --batch_size (default 1)")
    parser.add_argument(
        "--num-processes",
        type=int,
        default=1,
        help="processes evaluating in parallel, each on its own share of the samples (one per GPU; "
        "`accelerate launch`); default 1",
    )
    parser.add_argument(
        "--k", type=int, help=f"EmoPrompt exemplars per question (default ${ENV_K} or 0 = off)"
    )
    parser.add_argument(
        "--exemplars", help=f"exemplars.json from `emollm emoprompt exemplars` (default ${ENV_EXEMPLARS})"
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        help="override the tasks' max_new_tokens (64); use ~256 for rationale models",
    )
    parser.add_argument("--device", help="lmms-eval --device, e.g. cpu or cuda:0")
    parser.add_argument("--verbosity", default="INFO", help="lmms-eval log level (default INFO)")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept a run that could not score every record of test/<task>.jsonl (media missing or "
        "unreadable, malformed lines); the table then says PARTIAL. Without it such a run exits 1",
    )
    parser.add_argument(
        "lmms_eval_args", nargs=argparse.REMAINDER, help="after --: extra arguments passed to lmms-eval"
    )


def run(args: argparse.Namespace) -> int:
    try:
        tasks = expand_tasks(args.tasks)
        folder = data_dir(args.emobench_dir)
        check_data(folder, tasks)
        lines = count_test_records(folder, tasks)  # every one must be scored or counted as missing
        k, exemplars = exemplar_settings(args.k, args.exemplars)
        if args.lmms_eval_args and args.lmms_eval_args[0] != "--":
            raise EvalSetupError(
                f"unrecognized arguments: {' '.join(args.lmms_eval_args)} (put lmms-eval arguments after --)"
            )
        out = (args.output or Path("runs") / f"eval-{datetime.now():%Y%m%d-%H%M%S}").resolve()
        command = build_command(args, lmms_task_arg(args.tasks, tasks), out)
    except EvalSetupError as exc:
        print(f"emollm eval: error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "label": args.label,
        "model": args.model,
        "model_args": args.model_args,
        "tasks": tasks,
        "emobench_dir": str(folder),
        "k": k,
        "exemplars": str(exemplars) if exemplars else None,
        "limit": args.limit,
        "allow_partial": args.allow_partial,
        "num_processes": args.num_processes,
        "command": command,
        "started": datetime.now().isoformat(timespec="seconds"),
    }
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    print(
        f"emollm eval: {ENV_DIR}={folder} {ENV_K}={k}"
        + (f" {ENV_EXEMPLARS}={exemplars}" if exemplars else ""),
        flush=True,
    )
    print(f"emollm eval: running {shlex.join(command)}", flush=True)
    started = time.time()
    returncode = subprocess.run(command, env=build_env(folder, k, exemplars)).returncode
    try:
        result = load_run(out)
    except ResultsError as exc:
        print(f"emollm eval: error: {exc} (lmms-eval exit code {returncode})", file=sys.stderr)
        return 1
    if is_stale(result.results_file, started):
        print(
            f"emollm eval: error: {out} holds only results from an earlier run ({result.results_file.name}); "
            "this run wrote none, so it failed: read lmms-eval's log above",
            file=sys.stderr,
        )
        return 1
    problems = check_run(result, tasks)
    unscored = check_accounting(result, tasks, lines, args.limit)
    partial = [f"--limit {args.limit}: at most {args.limit} records per task"] if args.limit is not None else []
    if unscored and args.allow_partial:
        partial.append("records not scored (--allow-partial): see the 'missing' column and the lines below")
    print()
    print(format_table(result, tasks, partial="; ".join(partial) or None))
    for problem in problems:
        print(f"emollm eval: error: {problem}", file=sys.stderr)
    for problem in unscored:
        if args.allow_partial:
            print(f"emollm eval: partial: {problem}", file=sys.stderr)
        else:
            print(f"emollm eval: error: {problem}; fix the data or pass --allow-partial", file=sys.stderr)
    unreadable = check_answers(result, tasks)
    for problem in unreadable:
        print(f"emollm eval: error: {problem}", file=sys.stderr)
    if returncode != 0:
        print(f"emollm eval: lmms-eval exited with code {returncode}", file=sys.stderr)
    print(f"\nemollm eval: results in {out}; `emollm report {out}` for per-class tables and plots")
    if problems or returncode != 0 or (unscored and not args.allow_partial):
        return 1
    return UNREADABLE_ANSWERS if unreadable else 0
