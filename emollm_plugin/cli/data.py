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


def positive_int(text: str) -> int:
    """An argparse type for counts that must be at least 1 (0 frames would fail every video)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


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
    synth.add_argument(
        "--difficulty",
        choices=("easy", "hard"),
        default="easy",
        help="easy (default): colour and shape/motion each name the label; hard: labels follow rules over "
        "combinations of colour family, shape or motion, size and text words, with distractors and "
        "more noise (see emollm_plugin/emobench/synth.py)",
    )

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
    build.add_argument(
        "--root", required=True, type=Path,
        help="the folder the release was unpacked into, or any folder up to 4 levels above it",
    )
    build.add_argument(
        "--media-root", type=Path,
        help="folder holding the images/clips when they are not under --root (media paths become relative to it)",
    )
    build.add_argument("--out", required=True, type=Path, help="EmoBench folder to write into")
    build.add_argument(
        "--check-media",
        choices=("none", "exists", "decode"),
        default="exists",
        help="per-sample media check: exists (default, fast), decode (slow, thorough), none",
    )
    build.add_argument(
        "--num-frames", type=positive_int, default=8, help="frames decoded per video with --check-media decode"
    )
    build.add_argument(
        "--workers", type=positive_int, default=1, metavar="N",
        help="processes decoding media with --check-media decode (1); same records and skips whatever N",
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
    validate.add_argument("--num-frames", type=positive_int, default=8, help="frames decoded per video (8)")
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
    validate.add_argument(
        "--workers", type=positive_int, default=1, metavar="N",
        help="processes checking media files (1); the same report whatever N",
    )
    validate.add_argument("--no-progress", action="store_true", help="no progress bar")

    frames = verbs.add_parser(
        "frames",
        help="decode every video of an EmoBench folder into the frame cache ahead of training",
        description="Fill the frame cache (${EMOLLM_FRAME_CACHE}, default ~/.cache/emollm/frames; "
        "EMOLLM_FRAME_CACHE=off turns it off) with the frames training and evaluation will ask for, "
        "so no epoch, arm or evaluation decodes a clip again. Resumable: clips already cached are "
        "skipped. Use the --num-frames/--max-fps of the training run (entries are per option).",
    )
    frames.add_argument("--emobench-dir", required=True, type=Path, help="EmoBench folder (or one .jsonl)")
    frames.add_argument("--num-frames", type=positive_int, default=8, help="frames sampled per video (8)")
    frames.add_argument("--max-fps", type=float, default=None, help="cap on sampled frames per second")
    frames.add_argument("--workers", type=positive_int, default=1, metavar="N", help="decoding processes (1)")
    frames.add_argument(
        "--media-root", type=Path, help="folder media paths are relative to (default: the EmoBench folder)"
    )
    frames.add_argument("--no-progress", action="store_true", help="no progress bar")

    views = verbs.add_parser(
        "views",
        help="regenerate train/test/llava views and summary.json from OUT/records",
        description="Regenerate the derived files of an EmoBench folder from OUT/records/*.jsonl "
        "(after editing or deleting records by hand).",
    )
    views.add_argument("out", type=Path, help="EmoBench folder")

    sources = verbs.add_parser(
        "sources",
        help="list the source adapters, or say which recognise a folder",
        description="List the source adapters `emollm data build --source` accepts; with --root, say which "
        "releases sit under that folder and the command that builds each.",
    )
    sources.add_argument("--root", type=Path, help="a folder to search for known releases (4 levels deep)")


def run(args: argparse.Namespace) -> int:
    handlers = {"synth": _synth, "build": _build, "validate": _validate, "views": _views, "sources": _sources,
                "frames": _frames}
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
            difficulty=args.difficulty,
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
            media_root=args.media_root,
            check_media=args.check_media,
            num_frames=args.num_frames,
            workers=args.workers,
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
            workers=args.workers,
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


def _frames(args: argparse.Namespace) -> int:
    from emollm_plugin.emobench import frame_cache

    try:
        paths = frame_cache.video_paths(args.emobench_dir, args.media_root)
        report = frame_cache.fill(
            paths, num_frames=args.num_frames, max_fps=args.max_fps, workers=args.workers,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems[:50]:
        print(f"bad video: {problem}")
    cap = frame_cache.max_bytes()
    print(
        f"{report.clips} videos: {report.cached} already cached, {report.decoded} decoded now, "
        f"{len(report.problems)} unreadable; {report.entry_bytes / 2**30:.2f} GiB of frames in "
        f"{frame_cache.cache_dir()} (cap {cap / 2**30:.0f} GiB, ${frame_cache.ENV_MAX})"
    )
    if report.entry_bytes > cap:
        print(f"warning: these frames exceed the cache cap; raise ${frame_cache.ENV_MAX} above "
              f"{report.entry_bytes / 2**30:.0f}G or each epoch decodes clips again")
    return 1 if report.problems else 0


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
    if args.root is not None:
        return _detect(args.root)
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


def _detect(root: Path) -> int:
    from emollm_plugin.emobench.sources import detect_sources

    try:
        found = detect_sources(root)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not found:
        print(f"no known release under {root}; see docs/sources.md for each dataset's layout")
        return 1
    for detection in found:
        print(f"{detection.source}: {detection.folder}")
        print(f"  emollm data build --source {detection.source} --root {root} --out OUT")
    return 0
