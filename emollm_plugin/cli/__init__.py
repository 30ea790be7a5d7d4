"""The ``emollm`` command.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so ``emollm --help``
is instant and a broken optional dependency breaks only the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emollm_plugin import offline_defaults

#: name -> (module, one-line help). Order is the order ``emollm --help`` lists them in.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("emollm_plugin.cli.demo", "Run all of EmoLLM end to end on synthetic data, offline, on CPU."),
    "tiny-model": ("emollm_plugin.cli.tiny_model", "Build a tiny offline LLaVA base (Llama/Mistral/MPT + CLIP tower) for tests."),
    "data": ("emollm_plugin.cli.data", "Build, validate or synthesize EmoBench data."),
    "emoprompt": ("emollm_plugin.cli.emoprompt", "Generate ground-truth-guided rationales and exemplars."),
    "train": ("emollm_plugin.train", "Train with LLaVA's train() plus MVP, EmoPrompt and video."),
    "eval": ("emollm_plugin.cli.eval", "Run EmoBench through lmms-eval and print the table."),
    "report": ("emollm_plugin.cli.report", "Markdown report and plots from an lmms-eval run folder."),
    "compare": ("emollm_plugin.cli.compare", "Paper-style table over several lmms-eval runs."),
    "judge": ("emollm_plugin.cli.judge", "Recognition and reasoning scores of a run from an OpenAI-compatible judge, cached."),
    "predict": ("emollm_plugin.cli.predict", "Answer and label your own images and videos with a checkpoint."),
    "serve": ("emollm_plugin.cli.serve", "OpenAI-compatible chat server and demo page over an EmoLLM checkpoint."),
    "ablate": ("emollm_plugin.cli.ablate", "Sweep tau, k, training order and MVP on/off; one table per sweep."),
}

#: Subcommands that parse their own argv (LLaVA's HfArgumentParser flags).
PASSTHROUGH = {"train"}


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="emollm",
        description="EmoLLM: MVP projector, EmoPrompt and EmoBench for LLaVA and lmms-eval.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"commands:\n{listing}\n\nRun 'emollm COMMAND --help' for a command's options.",
        usage="emollm [-h] [--version] COMMAND ...",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    offline_defaults()
    top = _top_parser()
    top.add_argument("--version", action="store_true", help="print the plugin's version and exit")
    if not argv or argv[0] not in COMMANDS:
        args, rest = top.parse_known_args(argv)
        if args.version:
            from emollm_plugin import __version__

            print(__version__)
            return 0
        if rest:
            top.error(f"unknown command {rest[0]!r}; choose one of: {', '.join(COMMANDS)}")
        top.print_help()
        return 0 if not argv else 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    if name in PASSTHROUGH:
        return int(module.main(rest) or 0)
    parser = argparse.ArgumentParser(prog=f"emollm {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    return int(module.run(args) or 0)

