"""``emollm compare``: the paper-style table over several lmms-eval runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from emollm_plugin.apps.compare import build_rows, to_csv, to_html, to_markdown, unique_labels
from emollm_plugin.apps.report_html import render_compare_html
from emollm_plugin.lmms_glue.results import ResultsError, load_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "baseline rule: --baseline-of RUN=BASE maps a run explicitly; every other run is compared with the\n"
        "FIRST run, except the first run and the runs named as a BASE (foundations: no gain).\n\n"
        "examples:\n"
        "  emollm compare runs/llava runs/llava_mvp runs/llava_mvp_emoprompt\n"
        "  emollm compare runs/llava runs/llava_emollm runs/qwen runs/qwen_emollm \\\n"
        "      --labels llava llava+emollm qwen qwen+emollm \\\n"
        "      --baseline-of llava+emollm=llava --baseline-of qwen+emollm=qwen --format csv --out table.csv\n"
        "  emollm compare runs/llava runs/llava_emollm --html compare.html   # browse where they differ"
    )
    parser.add_argument(
        "run_dirs", nargs="+", help="lmms-eval output folders (e.g. from `emollm eval --output`)"
    )
    parser.add_argument("--labels", nargs="+", help="one name per run (default: each run's label)")
    parser.add_argument(
        "--baseline-of",
        action="append",
        metavar="RUN=BASE",
        help="compare RUN with BASE instead of the first run (labels or 1-based positions; repeatable)",
    )
    parser.add_argument(
        "--format", choices=("markdown", "csv"), default="markdown", help="output format (default markdown)"
    )
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write one self-contained page: the table, then every sample with each run's answer side by "
        "side, filterable by task and by whether the runs agree",
    )


def run(args: argparse.Namespace) -> int:
    try:
        runs = [load_run(path) for path in args.run_dirs]
        labels = unique_labels(runs, args.labels)
        rows = build_rows(runs, labels, args.baseline_of)
    except (ResultsError, ValueError) as exc:
        print(f"emollm compare: error: {exc}")
        return 1
    text = to_markdown(rows) if args.format == "markdown" else to_csv(rows)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"emollm compare: wrote {args.out}")
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_compare_html(runs, labels, to_html(rows)), encoding="utf-8")
        print(f"emollm compare: wrote {args.html}")
    return 0
