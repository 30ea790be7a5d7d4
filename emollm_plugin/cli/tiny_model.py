"""``emollm tiny-model``: build a tiny offline LLaVA base for tests and the demo."""

from __future__ import annotations

import argparse

from emollm_plugin.tiny.llava import LLM_TYPES, build_tiny_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="folder to write llm/ and vision/ into")
    parser.add_argument("--llm-type", default="llama", choices=LLM_TYPES, help="LLM family (default llama)")
    parser.add_argument("--hidden", type=int, default=64, help="LLM hidden size (default 64)")
    parser.add_argument("--layers", type=int, default=2, help="LLM layers (default 2)")
    parser.add_argument("--image-size", type=int, default=32, help="vision input size in pixels (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="rebuild even if OUT holds the same tiny model")


def run(args: argparse.Namespace) -> int:
    out = build_tiny_model(
        args.out, llm_type=args.llm_type, hidden=args.hidden, layers=args.layers,
        image_size=args.image_size, seed=args.seed, overwrite=args.overwrite,
    )
    print(f"tiny LLaVA base written: --model_name_or_path {out / 'llm'} --vision_tower {out / 'vision'}")
    return 0
