"""``emollm predict``: label images and videos with a checkpoint (see ``apps.predict``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from emollm_plugin.apps.predict import collect_media, plan, predict, read_done
from emollm_plugin.emobench.tasks import TASKS

DESCRIPTION = """Answer and label images and videos with an EmoLLM/LLaVA checkpoint.

Each file gets the EmoBench question of --task (or --question), asked with the checkpoint's own
template and image preparation; videos are sampled as in training. One JSON line per file holds the
full answer and the label EmoBench's parser reads from it (null when none can be read). Rerunning
the same command resumes; unreadable files are reported, recorded with their error, and skipped.
"""

EXAMPLE = """
examples:
  emollm predict --model checkpoints/emollm-mvp-7b photos/ clips/party.mp4 --out preds.jsonl
  emollm predict --model CKPT memes/ --task hate --text "when the wifi drops" --out hate.jsonl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.epilog = EXAMPLE
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER", help="images, videos, or folders of them")
    parser.add_argument("--model", required=True, help="EmoLLM/LLaVA checkpoint folder")
    parser.add_argument("--model-base", help="base model for LoRA or projector-only checkpoints")
    parser.add_argument("--task", default="emo_c", choices=TASKS, help="EmoBench sub-task whose question is asked")
    parser.add_argument("--question", help="ask this instead of the sub-task's EmoBench question")
    parser.add_argument("--text", help="the meme text or utterance that goes with every file (added to the question)")
    parser.add_argument("--options", help="comma-separated label set for emo_c/intent (default: Ekman-7 / MIntRec-20)")
    parser.add_argument("--out", type=Path, help="JSON Lines file to append to (resumable); default: stdout")
    parser.add_argument("--batch-size", type=int, default=8, help="files per generate call (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="answer length cap (default 256)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--dtype", help="torch dtype (default float16 on cuda, float32 on cpu)")
    parser.add_argument("--conv-mode", help="LLaVA conversation template (default: the checkpoint's)")
    parser.add_argument("--num-frames", type=int, default=8, help="frames sampled per video (default 8)")
    parser.add_argument("--max-fps", type=float, help="at most this many frames per second of video")
    parser.add_argument("--retry-unreadable", action="store_true",
                        help="try again the files --out records as unreadable (default: they count as done)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check(args: argparse.Namespace) -> str | None:
    if args.batch_size < 1:
        return f"--batch-size must be >= 1, got {args.batch_size}"
    if args.max_new_tokens < 1:
        return f"--max-new-tokens must be >= 1, got {args.max_new_tokens}"
    if args.num_frames < 1:
        return f"--num-frames must be >= 1, got {args.num_frames}"
    if args.max_fps is not None and args.max_fps <= 0:
        return f"--max-fps must be > 0, got {args.max_fps}"
    if args.question is not None and not args.question.strip():
        return "--question is empty"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"emollm predict: error: {problem}", file=sys.stderr)
        return 2
    options = [o.strip() for o in args.options.split(",") if o.strip()] if args.options else None
    files, problems = collect_media(args.paths)
    for line in problems:
        print(f"emollm predict: {line}", file=sys.stderr)
    if not files:
        print("emollm predict: error: no image or video files to answer", file=sys.stderr)
        return 2
    done, notes = read_done(args.out, args.retry_unreadable) if args.out else (set(), [])
    for line in notes:
        print(f"emollm predict: {line}", file=sys.stderr)
    jobs, resumed = plan(files, args.task, args.question, args.text, options, done)
    if not jobs:
        print(f"emollm predict: all {resumed} file(s) already in {args.out}; nothing to do", file=sys.stderr)
        return 0
    from emollm_plugin.llava_glue.inference import CheckpointError, load_runner

    try:
        runner = load_runner(args.model, model_base=args.model_base, device=args.device, conv_mode=args.conv_mode,
                             num_frames=args.num_frames, max_fps=args.max_fps, dtype=args.dtype)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"emollm predict: error: cannot load {args.model}: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            sink = stack.enter_context(args.out.open("a", encoding="utf-8"))
        else:
            sink = sys.stdout
        summary = predict(runner, files, args.task, sink, question=args.question, text=args.text, options=options,
                          done=done, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                          model=args.model, progress=not args.no_progress)
    where = f" to {args.out}" if args.out else ""
    print(f"emollm predict: {summary.answered} answered{where}, {len(summary.skipped)} unreadable (skipped), "
          f"{summary.resumed} already done, {len(problems)} path problem(s)", file=sys.stderr)
    return 1 if summary.answered == 0 and (summary.skipped or problems) and not summary.resumed else 0
