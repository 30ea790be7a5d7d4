"""Merge a LoRA EmoLLM run into a full checkpoint that loads without its base model.

A LoRA run's folder holds the adapters, the projector (``non_lora_trainables.bin``) and the config,
and needs the base LLM to load. LLaVA merges the adapters while loading such a folder with a base;
this loads it through the plugin's loader (which also checks every projector weight), saves the
merged model with the base's tokenizer, and then checks that the projector options (``mm_*``,
``mvp_*``, the conversation template) and the projector weights arrived unchanged, so that
``load_runner(OUT)``, ``emollm eval`` and LLaVA's own loader rebuild the same MVP projector.
The folder is written under a temporary name and renamed at the end: OUT exists only when complete.

    .venv/bin/python scripts/merge_lora.py --lora checkpoints/llava-v1.5-7b-emollm-mvp-lora \\
        --base lmsys/vicuna-7b-v1.5 --out checkpoints/llava-v1.5-7b-emollm-mvp-lora-merged
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

#: Config keys that describe the projector and the prompt format; a merge must not change any.
OPTION_PREFIXES = ("mm_", "mvp_")
OPTION_KEYS = ("emollm_version", "tokenizer_padding_side", "tokenizer_model_max_length", "model_type")
DTYPES = ("float16", "bfloat16", "float32")


class MergeError(RuntimeError):
    """A merge that cannot run or whose result does not match its input; the message says why."""


def projector_options(config: dict) -> dict:
    """The config entries that rebuild the projector and the prompts."""
    return {
        key: value
        for key, value in config.items()
        if key.startswith(OPTION_PREFIXES) or key in OPTION_KEYS
    }


def option_drift(source: dict, merged: dict) -> list[str]:
    """Human-readable differences between the projector options of two configs."""
    before, after = projector_options(source), projector_options(merged)
    return [
        f"{key}: {before.get(key, '<missing>')!r} -> {after.get(key, '<missing>')!r}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def saved_projector(folder: Path) -> dict[str, torch.Tensor]:
    """The projector tensors of a saved checkpoint, read without loading the rest of the weights."""
    from emollm_plugin.llava_glue.inference import checkpoint_projector_tensors

    return checkpoint_projector_tensors(folder, "full")


def check_lora_folder(lora: Path, out: Path, overwrite: bool) -> None:
    from emollm_plugin.llava_glue.inference import inspect_checkpoint

    kind = inspect_checkpoint(lora).kind
    if kind != "lora":
        raise MergeError(f"{lora} holds a {kind} checkpoint, not LoRA adapters (no adapter_config.json): nothing to merge")
    if out.resolve() == lora.resolve():
        raise MergeError(f"--out {out} is the LoRA folder itself; choose a new folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise MergeError(f"--out {out} exists and is not empty; pass --overwrite to replace it")


def verify_merged(lora: Path, folder: Path, model) -> None:
    """Fail unless the saved folder carries the LoRA run's projector options and the model's projector."""
    source = json.loads((lora / "config.json").read_text())
    merged = json.loads((folder / "config.json").read_text())
    drift = option_drift(source, merged)
    if drift:
        raise MergeError(f"{folder}: the merge changed projector options: {'; '.join(drift)}")
    expected = model.get_model().mm_projector.state_dict()
    stored = saved_projector(folder)
    missing = sorted(set(expected) - set(stored))
    if missing:
        raise MergeError(f"{folder}: the saved weights lack projector tensor(s) {', '.join(missing[:3])}")
    for name, value in expected.items():
        if not torch.equal(stored[name].to(value.dtype).cpu(), value.cpu()):
            raise MergeError(f"{folder}: projector tensor {name} differs from the merged model's")


def merge_lora(
    lora: str | Path, base: str, out: str | Path, dtype: str = "float16", device: str = "cpu",
    overwrite: bool = False,
) -> Path:
    """Write the merged model of LoRA run ``lora`` (trained on ``base``) to ``out``; return ``out``."""
    from emollm_plugin.llava_glue.inference import load_runner

    lora, out = Path(lora), Path(out)
    check_lora_folder(lora, out, overwrite)
    runner = load_runner(str(lora), model_base=base, device=device, dtype=dtype)
    model = runner.model
    # The runner sets left padding for batched generation; keep what the run was trained with.
    source = json.loads((lora / "config.json").read_text())
    if "tokenizer_padding_side" in source:
        model.config.tokenizer_padding_side = source["tokenizer_padding_side"]

    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial), safe_serialization=True)
    runner.tokenizer.save_pretrained(str(partial))
    verify_merged(lora, partial, model)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge_lora.py",
        description="Merge a LoRA EmoLLM run (adapters + projector) into a full checkpoint that loads "
        "without --model-base; checks that the MVP projector options and weights survive.",
    )
    parser.add_argument("--lora", required=True, help="output folder of a --lora_enable True run")
    parser.add_argument("--base", required=True, help="the LLM the run was trained on (its --model_name_or_path)")
    parser.add_argument("--out", required=True, help="folder to write the merged checkpoint to")
    parser.add_argument(
        "--dtype", choices=DTYPES, default="float16",
        help="dtype of the saved weights (default float16, as LLaVA's released checkpoints)",
    )
    parser.add_argument("--device", default="cpu", help="where to merge: cpu (default) or cuda")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    from emollm_plugin import offline_defaults
    from emollm_plugin.llava_glue.inference import CheckpointError

    args = build_parser().parse_args(argv)
    offline_defaults()
    try:
        out = merge_lora(args.lora, args.base, args.out, dtype=args.dtype, device=args.device, overwrite=args.overwrite)
    except (MergeError, CheckpointError) as error:
        print(f"merge_lora.py: {error}", file=sys.stderr)
        return 1
    config = json.loads((out / "config.json").read_text())
    print(f"merged {args.lora} + {args.base} -> {out} (projector {config.get('mm_projector_type')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
