"""``emollm demo``: all of EmoLLM end to end, offline, on CPU (see ``apps.demo``)."""

from __future__ import annotations

import argparse

from emollm_plugin.apps.demo import run_demo
from emollm_plugin.apps.pipeline import PipelineConfig
from emollm_plugin.tiny.llava import LLM_TYPES


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
    config = PipelineConfig(
        out=args.out, k=args.k, objective_steps=args.objective_steps, emotional_steps=args.emotional_steps,
        teacher_limit=args.teacher_limit, mvp_tau=args.tau, tiny_llm_type=args.llm_type, eval_limit=args.eval_limit,
        device=args.device,
    )
    run_demo(config)
    return 0
