"""``emollm judge``: recognition and reasoning scores of a run's answers from an OpenAI-compatible judge."""

from __future__ import annotations

import argparse
import sys

from emollm_plugin.apps.judge import format_report, judge_run
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import ResultsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Judge every answer of an `emollm eval` run with an OpenAI-compatible chat model (temperature 0,\n"
        "prompts shipped in emollm_plugin/emoprompt/prompts/): a recognition score (does the answer name\n"
        "the label), a reasoning score (are its stated cues in the media and do they support the label)\n"
        "and their mean. Every reply is cached by a hash of (prompt file, sample, answer, judge model), so\n"
        "rerunning with the same --cache gives the same numbers without the endpoint. Failed judgments\n"
        "score 0, are counted and listed, never skipped. Writes RUN_DIR/judge.json."
    )
    parser.epilog = (
        "examples:\n"
        "  emollm judge runs/eval --base-url https://api.openai.com/v1 --model gpt-4o --api-key-env OPENAI_API_KEY\n"
        "  emollm serve --model-path ckpt/judge --model-name emollm --port 8001 &   # any local OpenAI-compatible server\n"
        "  emollm judge runs/eval --base-url http://127.0.0.1:8001/v1 --model emollm --cache judge_cache.jsonl"
    )
    parser.add_argument("run_dir", help="an `emollm eval` / lmms-eval output folder (generative tasks)")
    parser.add_argument("--base-url", required=True, help="the endpoint's base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, help="the judge model's name at that endpoint")
    parser.add_argument(
        "--api-key-env", help="name of the environment variable holding the API key (default: no key)"
    )
    parser.add_argument("--cache", help="the judgment cache, JSON Lines (default: RUN_DIR/judge_cache.jsonl)")
    parser.add_argument(
        "--emobench-dir", help="EmoBench folder the run was evaluated on (default: the run's emollm_eval.json)"
    )
    parser.add_argument("--tasks", help=f"comma list of sub-tasks to judge (default: all of {', '.join(TASKS)})")
    parser.add_argument("--no-media", action="store_true", help="do not send the image or video frames")
    parser.add_argument("--num-frames", type=int, default=4, help="frames sent per video (default 4)")
    parser.add_argument("--limit", type=int, help="judge only the first N answers of each task")
    parser.add_argument("--out", help="where to write the report JSON (default: RUN_DIR/judge.json)")


def run(args: argparse.Namespace) -> int:
    tasks = None
    if args.tasks:
        tasks = [name.strip().removeprefix("emobench_") for name in args.tasks.split(",") if name.strip()]
        unknown = [task for task in tasks if task not in TASKS]
        if unknown:
            print(f"emollm judge: error: unknown task(s) {unknown}; choose from {', '.join(TASKS)}", file=sys.stderr)
            return 2
    try:
        report = judge_run(
            args.run_dir, args.base_url, args.model, api_key_env=args.api_key_env, cache_file=args.cache,
            emobench_dir=args.emobench_dir, tasks=tasks, with_media=not args.no_media,
            num_frames=args.num_frames, limit=args.limit, out=args.out,
        )
    except (ResultsError, ValueError, FileNotFoundError) as exc:
        print(f"emollm judge: error: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    calls = report["cache"]["calls"]
    failures = sum(sum(s["failures"].values()) for s in report["tasks"].values())
    if calls and failures >= calls:
        if report["failed"]["no reply"]:
            hint = "check --base-url, --model and that the server is up (or that --cache holds the replies)"
        else:
            hint = "the judge answered, but never with a valid 'Score:' line: use a stronger judge model"
        print(f"emollm judge: error: every judgment failed; {hint}", file=sys.stderr)
        return 1
    return 0
