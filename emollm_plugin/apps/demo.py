"""``emollm demo``: all of EmoLLM end to end, offline, on CPU, in minutes.

Synthesizes an EmoBench, builds the tiny model, trains with MVP using the sequential recipe
(synthetic objective stage, then the emotional stage), generates EmoPrompt rationales with the
objective-stage model as the (ground-truth-guided) teacher, evaluates with lmms-eval through
the ``emollm`` model and prints the paper's table: six sub-task accuracies and their mean.
A rerun reuses finished stages. The same pipeline takes real data and models:
``emollm ablate`` with a config naming ``emobench_dir``, ``model_name_or_path`` and ``vision_tower``.
"""

from __future__ import annotations

import time
from pathlib import Path

from emollm_plugin.apps.pipeline import PipelineConfig, run_pipeline
from emollm_plugin.apps.report import write_report
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.evaluate import format_table
from emollm_plugin.lmms_glue.results import load_run


def run_demo(config: PipelineConfig) -> Path:
    """Run the pipeline, write the report, print the table; returns the lmms-eval run folder."""
    started = time.time()
    run_dir = run_pipeline(config)
    written = write_report(run_dir, Path(config.out) / "report")
    print()
    print(format_table(load_run(run_dir), list(TASKS)))
    print()
    print(f"report: {written.get('report')}")
    print(f"plots:  {', '.join(str(p) for name, p in written.items() if name != 'report')}")
    print(f"lmms-eval run: {run_dir}  (emollm demo took {time.time() - started:.0f} s)")
    return run_dir
