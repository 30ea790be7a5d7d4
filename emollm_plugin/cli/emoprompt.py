"""``emollm emoprompt {generate,to-llava,exemplars}``: the three EmoPrompt steps, each rerunnable alone.

1. ``generate``  records -> teacher (sees media, question, text and the correct answer) ->
   ``OUT/rationales.jsonl`` (accepted / rejected / failed per record) + ``OUT/summary.json``.
2. ``exemplars`` accepted rationales -> ``exemplars.json`` (k per task, spread over labels,
   seeded): the demonstrations training and evaluation both read.
3. ``to-llava``  records + accepted rationales -> LLaVA training JSON (rationale + final
   ``Answer:`` line as target, or the bare answer).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from emollm_plugin.emobench.records import RecordError

GENERATE_HELP = """\
Ask a teacher for a short rationale per training record, guided by the ground truth, and keep
only rationales whose final 'Answer: X' line is the correct answer (rejected ones are asked
again, up to --max-attempts). Results are cached in OUT/rationales.jsonl, one line per record,
flushed as they come: rerun the same command after a crash or Ctrl-C and only unfinished records
are asked (rejected ones too with --retry-rejected). OUT/summary.json holds accepted/rejected
counts per task, the rejection rate and the tokens used.

teachers:
  openai  any OpenAI-compatible chat endpoint: OpenAI (default --base-url), a vLLM or Ollama
          server (--base-url http://127.0.0.1:11434/v1), or `emollm serve`. The API key is read
          from the environment variable named by --api-key-env (never from the command line).
  local   a LLaVA/EmoLLM checkpoint loaded in this process (--model-path, --model-base).

example:
  export OPENAI_API_KEY=...
  emollm emoprompt generate --data data/emobench/records/meld.jsonl --out runs/emoprompt \\
      --teacher openai --model gpt-4o-mini --concurrency 8
"""

TO_LLAVA_HELP = """\
Write LLaVA training JSON from records and accepted rationales: each item has "id", "image" or
"video", "conversations" (human: '<image>' + question, gpt: rationale ending in 'Answer: X'),
"task" and "options". Records without an accepted rationale fall back to the bare answer (counted
and reported). --answer-only writes the bare answer for every record (the baseline without
EmoPrompt). Media paths are written absolute, so any --image_folder works; with --relative-to
DIR they are relative to DIR, and DIR must then be LLaVA's --image_folder.

--exemplars FILE (or --k/--seed) also puts k demonstrations into every question; do this OR use
the trainer's --emoprompt_k, not both, or the demonstrations appear twice.
"""

EXEMPLARS_HELP = """\
Select k accepted rationales per task as EmoPrompt demonstrations (round-robin over the task's
labels in a seeded order, so the same seed gives the same file) and write them to --out as
{task: [exemplars]}. Training (--emoprompt_k / to-llava --exemplars) and evaluation (the
lmms-eval task) read this one file, so both see the same demonstrations.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.split("\n", 1)[1].strip() + "\n\nRun 'emollm emoprompt VERB --help' for a step's options."
    sub = parser.add_subparsers(dest="verb", required=True, metavar="{generate,to-llava,exemplars}")
    fmt = argparse.RawDescriptionHelpFormatter

    gen = sub.add_parser("generate", help="ground-truth-guided rationales from a teacher", description=GENERATE_HELP,
                         formatter_class=fmt)
    gen.add_argument("--data", required=True, type=Path, help="EmoBench records (JSONL)")
    gen.add_argument("--out", required=True, type=Path, help="output folder (rationales.jsonl, summary.json)")
    gen.add_argument("--media-root", type=Path, help="folder the records' media paths are relative to "
                     "(default: the EmoBench folder holding --data, or --data's folder outside that layout)")
    gen.add_argument("--splits", nargs="+", default=["train"],
                     help="record splits to use (default: train; keep test questions out of prompts)")
    gen.add_argument("--limit", type=int, help="only the first N records (after --splits); rerun without it to go on")
    gen.add_argument("--max-attempts", type=int, default=3,
                     help="teacher replies per record before it is recorded as rejected (default 3)")
    gen.add_argument("--require-answer-line", action="store_true",
                     help="reject replies without a final 'Answer: X' line even when their text names the right "
                     "label (default: accept them and append the line; their count is 'normalised' in the summary)")
    gen.add_argument("--retry-rejected", action="store_true", help="ask again for records rejected by an earlier run")
    gen.add_argument("--num-frames", type=int, default=8, help="frames sampled per video (default 8)")
    gen.add_argument("--max-tokens", type=int, default=256, help="teacher reply length limit (default 256)")
    gen.add_argument("--temperature", type=float, default=0.2, help="first attempt's temperature (default 0.2)")
    gen.add_argument("--retry-temperature", type=float, default=0.8,
                     help="temperature of retries after a rejection, so they can differ (default 0.8)")
    gen.add_argument("--prompt-file", type=Path,
                     help="text file replacing the built-in teacher prompt; fields: {task_title} {modality} "
                     "{question} {text_block} {answer} {labels} {answer_prefix}; must contain {answer}")
    gen.add_argument("--teacher", choices=["openai", "local"], default="openai", help="which teacher (see above)")
    api = gen.add_argument_group("openai teacher")
    api.add_argument("--base-url", default="https://api.openai.com/v1", help="endpoint base (…/v1)")
    api.add_argument("--model", default="gpt-4o-mini", help="model name sent to the endpoint")
    api.add_argument("--api-key-env", default="OPENAI_API_KEY",
                     help="NAME of the environment variable holding the key ('' for none)")
    api.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    api.add_argument("--max-retries", type=int, default=5,
                     help="retries on timeouts, connection errors, 408/409/429 (after Retry-After) and 5xx (default 5)")
    api.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    api.add_argument("--max-image-side", type=int, default=1024,
                     help="downscale images/frames to this longest side before sending (default 1024)")
    loc = gen.add_argument_group("local teacher")
    loc.add_argument("--model-path", help="LLaVA/EmoLLM checkpoint folder")
    loc.add_argument("--model-base", help="base model for LoRA or projector-only checkpoints")
    loc.add_argument("--device", default="cpu", help="torch device (default cpu)")
    loc.add_argument("--batch-size", type=int, default=8, help="prompts per generate() call (default 8)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")

    tol = sub.add_parser("to-llava", help="LLaVA training JSON from records + rationales", description=TO_LLAVA_HELP,
                         formatter_class=fmt)
    tol.add_argument("--data", required=True, type=Path, help="EmoBench records (JSONL)")
    tol.add_argument("--rationales", type=Path, help="output folder of `generate` (not needed with --answer-only)")
    tol.add_argument("--out", required=True, type=Path, help="LLaVA JSON file to write")
    tol.add_argument("--media-root", type=Path, help="folder the records' media are relative to (default: the EmoBench folder "
                     "holding --data, or --data's folder outside that layout)")
    tol.add_argument("--relative-to", type=Path, help="write media paths relative to this folder (default: absolute)")
    tol.add_argument("--splits", nargs="+", default=["train"], help="record splits to convert (default: train)")
    tol.add_argument("--answer-only", action="store_true", help="target = the bare answer for every record")
    tol.add_argument("--exemplars", type=Path, help="exemplars.json whose demonstrations go into each question")
    tol.add_argument("--k", type=int, default=0, help="select k exemplars per task from --rationales instead")
    tol.add_argument("--seed", type=int, default=0, help="seed for --k (default 0)")

    exe = sub.add_parser("exemplars", help="select k demonstrations per task", description=EXEMPLARS_HELP,
                         formatter_class=fmt)
    exe.add_argument("--rationales", required=True, type=Path, help="output folder of `generate`")
    exe.add_argument("--k", required=True, type=int, help="exemplars per task (0 writes empty lists)")
    exe.add_argument("--seed", type=int, default=0, help="selection seed (default 0)")
    exe.add_argument("--tasks", nargs="+", help="tasks to include (default: every task with accepted rationales)")
    exe.add_argument("--out", required=True, type=Path, help="exemplars.json to write")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpx2"):  # the openai client's transport: one line per request drowns the bar
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return {"generate": _generate, "to-llava": _to_llava, "exemplars": _exemplars}[args.verb](args)
    except (RecordError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _records(args: argparse.Namespace) -> tuple[list, Path]:
    from emollm_plugin.emoprompt.rationales import load_records_for_run

    if not args.data.is_file():
        raise FileNotFoundError(f"{args.data}: records file not found")
    records, counts = load_records_for_run(args.data, args.splits)
    if counts["other_splits"]:
        skipped = ", ".join(f"{n} {s}" for s, n in sorted(counts["other_splits"].items()))
        print(f"skipped records of other splits ({skipped}); use --splits to include them")
    if counts["bad_lines"]:
        print(f"skipped {counts['bad_lines']} invalid records (see warnings; `emollm data validate` lists them)")
    from emollm_plugin.emobench.build import dataset_root

    return records, (args.media_root or dataset_root(args.data))


def make_teacher(args: argparse.Namespace):
    from emollm_plugin.emoprompt.teachers import OpenAITeacher
    from emollm_plugin.llava_glue.local_teacher import LocalTeacher

    if args.teacher == "local":
        if not args.model_path:
            raise ValueError("--teacher local needs --model-path")
        try:
            teacher = LocalTeacher(args.model_path, args.model_base, device=args.device,
                                   batch_size=args.batch_size, num_frames=args.num_frames)
        except (RuntimeError, OSError) as exc:  # CheckpointError and friends: say which folder
            raise ValueError(f"cannot load the local teacher {args.model_path}: {exc}") from exc
        return teacher, f"local:{args.model_path}"
    teacher = OpenAITeacher(
        args.base_url, args.model, api_key_env=args.api_key_env or None, timeout=args.timeout,
        max_retries=args.max_retries, concurrency=args.concurrency, max_image_side=args.max_image_side,
    )
    return teacher, f"openai:{args.model}@{args.base_url}"


def _generate(args: argparse.Namespace) -> int:
    from emollm_plugin.emoprompt.rationales import (
        RATIONALE_PROMPT,
        check_template,
        format_summary,
        generate_rationales,
    )

    template = check_template(args.prompt_file.read_text(encoding="utf-8")) if args.prompt_file else RATIONALE_PROMPT
    records, media_root = _records(args)
    if args.limit is not None:
        records = records[: max(0, args.limit)]
    if not records:
        print("no records to process")
        return 1
    teacher, name = make_teacher(args)
    try:
        summary = generate_rationales(
            records, teacher, args.out, media_root, max_attempts=args.max_attempts, num_frames=args.num_frames,
            retry_rejected=args.retry_rejected, template=template, max_tokens=args.max_tokens,
            temperature=args.temperature, retry_temperature=args.retry_temperature,
            require_answer_line=args.require_answer_line, teacher_name=name,
            progress=not args.no_progress,
        )
    finally:
        close = getattr(teacher, "close", None)
        if close:
            close()
    print(format_summary(summary))
    print(f"wrote {args.out / 'rationales.jsonl'} and {args.out / 'summary.json'}")
    return 0


def _exemplars(args: argparse.Namespace) -> int:
    from emollm_plugin.emoprompt.exemplars import select_all, write_exemplars
    from emollm_plugin.emoprompt.rationales import load_accepted

    accepted = load_accepted(args.rationales)
    selection = select_all(accepted.values(), args.k, args.seed, args.tasks)
    write_exemplars(args.out, selection)
    for task, items in selection.items():
        labels = sorted({e.answer for e in items})
        short = " (fewer accepted rationales than k)" if len(items) < args.k else ""
        print(f"{task}: {len(items)} exemplars over {len(labels)} labels{short}")
    print(f"wrote {args.out}")
    return 0


def _to_llava(args: argparse.Namespace) -> int:
    from emollm_plugin.emoprompt.exemplars import load_exemplars, select_all
    from emollm_plugin.emoprompt.rationales import build_llava_items, iter_tasks, load_accepted, write_json

    if args.exemplars and args.k:
        raise ValueError("give --exemplars or --k, not both")
    accepted: dict = {}
    if args.rationales:
        accepted = load_accepted(args.rationales)
    elif not args.answer_only:
        raise ValueError("--rationales is needed unless --answer-only")
    exemplars = None
    if args.exemplars:
        exemplars = load_exemplars(args.exemplars)
    elif args.k:
        if not accepted:
            raise ValueError("--k needs --rationales with accepted rationales")
        exemplars = select_all(accepted.values(), args.k, args.seed)
    records, media_root = _records(args)
    items, stats = build_llava_items(records, accepted, media_root, answer_only=args.answer_only,
                                     exemplars=exemplars, relative_to=args.relative_to)
    write_json(args.out, items)
    for task, counts in iter_tasks(stats):
        print(f"{task}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
    fallback = sum(c.get("fallback", 0) for c in stats.values())
    if fallback:
        print(f"{fallback} records had no accepted rationale and use the bare answer as target")
    where = f"relative to {args.relative_to} (pass it as --image_folder)" if args.relative_to else "absolute"
    print(f"wrote {len(items)} conversations to {args.out}; media paths are {where}")
    return 0
