"""``emollm demo``: all of EmoLLM end to end, offline, on CPU, in minutes.

Synthesizes an EmoBench, builds the tiny model, trains with MVP using the sequential recipe
(synthetic objective stage, then the emotional stage), generates EmoPrompt rationales with the
objective-stage model as the (ground-truth-guided) teacher, evaluates with lmms-eval through
the ``emollm`` model and prints the paper's table: six sub-task accuracies and their mean.
A rerun reuses finished stages. The same pipeline takes real data and models:
``emollm ablate`` with a config naming ``emobench_dir``, ``model_name_or_path`` and ``vision_tower``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emollm_plugin.pipeline import PipelineConfig, run_pipeline
from emollm_plugin.tiny import LLM_TYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="emollm_demo", help="run folder (default ./emollm_demo); reused on rerun")
    parser.add_argument("--k", type=int, default=0, help="EmoPrompt exemplars per question, at training and evaluation "
                        "(default 0: the tiny teacher accepts few rationales, and noisy exemplars can "
                        "mislead a 2-layer model; try --k 1)")
    parser.add_argument("--objective-steps", type=int, default=20, help="stage 1 (objective) steps (default 20)")
    parser.add_argument("--emotional-steps", type=int, default=200, help="stage 2 (EmoBench) steps (default 200)")
    parser.add_argument("--teacher-limit", type=int, default=48,
                        help="training records sent to the EmoPrompt teacher (default 48)")
    parser.add_argument("--llm-type", default="llama", choices=LLM_TYPES,
                        help="family of the tiny base LLM, trained with its EmoPrompt template (default llama)")
    parser.add_argument("--tau", type=float, default=0.5, help="MVP --mvp_tau (default 0.5)")
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluate only N samples per task")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")


def run(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench.tasks import TASKS
    from emollm_plugin.lmms_glue.evaluate import format_table
    from emollm_plugin.lmms_glue.results import load_run
    from emollm_plugin.report import write_report

    started = time.time()
    config = PipelineConfig(
        out=args.out, k=args.k, objective_steps=args.objective_steps, emotional_steps=args.emotional_steps,
        teacher_limit=args.teacher_limit, mvp_tau=args.tau, tiny_llm_type=args.llm_type, eval_limit=args.eval_limit,
        device=args.device,
    )
    run_dir = run_pipeline(config)
    written = write_report(run_dir, Path(args.out) / "report")
    print()
    print(format_table(load_run(run_dir), list(TASKS)))
    print()
    print(f"report: {written.get('report')}")
    print(f"plots:  {', '.join(str(p) for name, p in written.items() if name != 'report')}")
    print(f"lmms-eval run: {run_dir}  (emollm demo took {time.time() - started:.0f} s)")
    return 0
