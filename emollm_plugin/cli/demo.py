"""``emollm demo``: all of EmoLLM end to end, offline, on CPU (see ``apps.demo``)."""

from __future__ import annotations

import argparse

from emollm_plugin.apps.demo import run_demo
from emollm_plugin.apps.pipeline import PipelineConfig
from emollm_plugin.mvp.config import add_arguments as add_mvp_arguments
from emollm_plugin.mvp.config import options as mvp_options
from emollm_plugin.tiny.llava import LLM_TYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="emollm_demo", help="run folder (default ./emollm_demo); reused on rerun")
    parser.add_argument("--k", type=int, default=0, help="EmoPrompt exemplars per question, at training and evaluation "
                        "(default 0; --k 1 shows the exemplar path, at the cost of longer prompts)")
    parser.add_argument("--objective-steps", type=int, default=20, help="stage 1 (objective) steps (default 20)")
    parser.add_argument("--emotional-steps", type=int, default=200, help="stage 2 (EmoBench) steps (default 200)")
    parser.add_argument("--teacher", default="auto", choices=("auto", "synthetic", "none"),
                        help="who writes the EmoPrompt rationales stage 2 trains on: auto (default) = the synthetic "
                        "teacher, which names the generator's cues (the offline stand-in for GPT-4o); none = bare answers")
    parser.add_argument("--teacher-limit", type=int, default=None,
                        help="training records sent to the EmoPrompt teacher (default: all)")
    parser.add_argument("--difficulty", default="easy", choices=("easy", "hard"),
                        help="synthetic EmoBench: easy (default; the tiny model reaches the ceiling) or hard "
                        "(labels from combinations of cues; the ablation set)")
    parser.add_argument("--llm-type", default="llama", choices=LLM_TYPES,
                        help="family of the tiny base LLM, trained with its EmoPrompt template (default llama)")
    mvp = parser.add_argument_group("MVP options (as the train flags --mvp_*)")
    add_mvp_arguments(mvp, prefix="--mvp-", aliases={"tau": ["--tau"]})
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluate only N samples per task")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")


def run(args: argparse.Namespace) -> int:
    config = PipelineConfig(
        out=args.out, k=args.k, objective_steps=args.objective_steps, emotional_steps=args.emotional_steps,
        teacher=args.teacher, teacher_limit=args.teacher_limit, synth_difficulty=args.difficulty,
        tiny_llm_type=args.llm_type, eval_limit=args.eval_limit,
        device=args.device, **{option.flag: getattr(args, option.flag) for option in mvp_options()},
    )
    run_demo(config)
    return 0
