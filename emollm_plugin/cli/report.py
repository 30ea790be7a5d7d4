"""``emollm report``: a Markdown report with plots from one lmms-eval run folder."""

from __future__ import annotations

import argparse

from emollm_plugin.apps.report import write_report
from emollm_plugin.lmms_glue.results import ResultsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="an `emollm eval` / lmms-eval output folder (or its *_results.json)")
    parser.add_argument("--out", help="where to write report.md and the plots (default: RUN_DIR/report)")


def run(args: argparse.Namespace) -> int:
    try:
        written = write_report(args.run_dir, args.out)
    except ResultsError as exc:
        print(f"emollm report: error: {exc}")
        return 1
    print(f"emollm report: wrote {written['report']} and {written['html']}")
    for name, path in written.items():
        if name not in ("report", "html"):
            print(f"  plot {name}: {path}")
    return 0
