"""``emollm data``: synthesize, build, validate EmoBench data and list the source adapters."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_LAYOUT = """\
An EmoBench folder OUT holds records/<source>.jsonl (the truth), media/<source>/ (a link to the
source's files), train|test/<task>.jsonl (per-task views; lmms-eval reads test/), llava/train.json
(LLaVA training JSON) and summary.json. Media paths are relative to OUT."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _LAYOUT
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    synth = verbs.add_parser(
        "synth",
        help="write a small synthetic EmoBench (seconds; labels learnable from pixels)",
        description="Write a synthetic EmoBench: all six sub-tasks, PNG images and MP4 videos, train "
        "and test splits, labels coded by colour + shape/motion with noise. Deterministic per seed.",
    )
    synth.add_argument("--out", required=True, type=Path, help="EmoBench folder to write")
    synth.add_argument(
        "--per-task", type=int, default=40, metavar="N", help="train records per sub-task (40)"
    )
    synth.add_argument(
        "--test-per-task",
        type=int,
        default=None,
        metavar="M",
        help="test records per sub-task (default: half of --per-task)",
    )
    synth.add_argument("--seed", type=int, default=0, help="random seed (0)")
    synth.add_argument("--frames", type=int, default=8, metavar="F", help="frames per video (8)")
    synth.add_argument("--size", type=int, default=32, metavar="PX", help="image/frame side in pixels (32)")

    build = verbs.add_parser(
        "build",
        help="turn a public dataset's native release into EmoBench records",
        description="Build OUT/records/<source>.jsonl from one source's release under --root, then "
        "regenerate the views. Resumable: rerun the same command after an interruption. Bad samples "
        "are skipped and listed in OUT/skipped/<source>.jsonl and the summary.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_LAYOUT,
    )
    build.add_argument("--source", required=True, help="adapter name (see `emollm data sources`)")
    build.add_argument("--root", required=True, type=Path, help="folder holding the source's files")
    build.add_argument("--out", required=True, type=Path, help="EmoBench folder to write into")
    build.add_argument(
        "--check-media",
        choices=("none", "exists", "decode"),
        default="exists",
        help="per-sample media check: exists (default, fast), decode (slow, thorough), none",
    )
    build.add_argument(
        "--num-frames", type=int, default=8, help="frames decoded per video with --check-media decode"
    )
    build.add_argument(
        "--fresh", action="store_true", help="discard earlier progress and rebuild this source"
    )
    build.add_argument("--no-progress", action="store_true", help="no progress bar")

    validate = verbs.add_parser(
        "validate",
        help="check records and media files; report every bad one",
        description="Check every record (schema, malformed JSON, label outside the label set, duplicate "
        "ids) and every media file (missing, empty, truncated or undecodable). Keeps going, prints each "
        "problem by file, line and record id. Exit 0 unless --strict and something is wrong.",
    )
    validate.add_argument("path", type=Path, help="an EmoBench folder or one .jsonl records file")
    validate.add_argument("--strict", action="store_true", help="exit 1 when anything is wrong")
    validate.add_argument("--num-frames", type=int, default=8, help="frames decoded per video (8)")
    validate.add_argument(
        "--quarantine",
        type=Path,
        metavar="FILE",
        help="write the problems as JSON Lines {file, line, id, problem} to FILE",
    )
    validate.add_argument(
        "--no-decode", action="store_true", help="only check media files exist and are not empty (fast)"
    )
    validate.add_argument(
        "--media-root",
        type=Path,
        help="folder media paths are relative to (default: the EmoBench folder holding the records)",
    )
    validate.add_argument("--no-progress", action="store_true", help="no progress bar")

    views = verbs.add_parser(
        "views",
        help="regenerate train/test/llava views and summary.json from OUT/records",
        description="Regenerate the derived files of an EmoBench folder from OUT/records/*.jsonl "
        "(after editing or deleting records by hand).",
    )
    views.add_argument("out", type=Path, help="EmoBench folder")

    verbs.add_parser(
        "sources",
        help="list the registered source adapters",
        description="List the source adapters `emollm data build --source` accepts.",
    )


def run(args: argparse.Namespace) -> int:
    handlers = {"synth": _synth, "build": _build, "validate": _validate, "views": _views, "sources": _sources}
    try:
        return handlers[args.verb](args)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _synth(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench.build import format_summary
    from emollm_plugin.emobench.synth import synthesize

    try:
        out = synthesize(
            args.out,
            per_task=args.per_task,
            test_per_task=args.test_per_task,
            seed=args.seed,
            frames=args.frames,
            size=args.size,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    print(format_summary(summary, out))
    return 0


def _build(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench.build import BuildError, build_source, format_summary

    try:
        result = build_source(
            args.source,
            args.root,
            args.out,
            check_media=args.check_media,
            num_frames=args.num_frames,
            fresh=args.fresh,
            progress=not args.no_progress,
        )
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{result.source}: {result.total} records in {result.records_path} "
        f"({result.added} new, {result.resumed} from an earlier run, {len(result.skipped)} skipped)"
    )
    print(format_summary(result.summary, args.out))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench.validate import format_report, validate, write_quarantine

    try:
        report = validate(
            args.path,
            num_frames=args.num_frames,
            check_media=not args.no_decode,
            media_root=args.media_root,
            progress=not args.no_progress,
        )
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.quarantine is not None:
        print(f"quarantine list: {write_quarantine(report, args.quarantine)}")
    elif not report.ok:
        print("use --quarantine FILE to save the list of bad records")
    return 1 if args.strict and not report.ok else 0


def _views(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench.build import format_summary, write_views

    try:
        summary = write_views(args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(summary, args.out))
    return 0


def _sources(args: argparse.Namespace) -> int:
    try:
        from emollm_plugin.emobench.sources import available_sources, get_source
    except ImportError as exc:
        print(
            f"error: the source adapters (emollm_plugin.emobench.sources) are not available: {exc}",
            file=sys.stderr,
        )
        return 1
    names = available_sources()
    if not names:
        print("no source adapters are registered")
        return 1
    width = max(len(n) for n in names)
    for name in names:
        adapter = get_source(name)
        print(
            f"{name:<{width}}  tasks: {', '.join(adapter.tasks)}  modalities: {', '.join(adapter.modalities)}"
        )
    return 0
