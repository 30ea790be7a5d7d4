"""The plugin's train entry: LLaVA's own ``train()`` with EmoLLM registered.

``python -m emollm_plugin.train`` (or ``emollm train``) accepts every LLaVA flag unchanged plus
the plugin's (``--mvp_*``, ``--emoprompt_k``, ``--video_folder``, ``--num_frames``). It runs
under ``deepspeed`` and ``torchrun`` like LLaVA's ``train_mem.py``: each rank imports this
module, so each rank registers the plugin.

LLaVA's ``train()`` reads its argument dataclasses and its dataset factory from module globals
when it runs; this entry points those globals at the plugin's versions (``register()`` has
already pointed its model class and tokenizer loader at ``llava_glue.bases``) and checks the
flags LLaVA would silently misread (an unknown ``--version`` falls back to
``vicuna_v1``; a relative ``--vision_tower`` is stored verbatim in the checkpoint).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import transformers

import emollm_plugin
from emollm_plugin import offline_defaults
from emollm_plugin.llava_glue.bases import llava_class_for

logger = logging.getLogger(__name__)

def default_attn_implementation(model_name_or_path: str) -> str:
    """flash-attn where installed, a GPU is present and the base supports it; else sdpa; else eager (MPT)."""
    import importlib.util

    import torch

    cls = llava_class_for(model_name_or_path)
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") and cls._supports_flash_attn_2:
        return "flash_attention_2"
    return "sdpa" if cls._supports_sdpa else "eager"


def parse_flags(argv: list[str]):
    from llava.train import train as llava_train

    from emollm_plugin.llava_glue.args import EmoDataArguments, EmoModelArguments

    parser = transformers.HfArgumentParser((EmoModelArguments, EmoDataArguments, llava_train.TrainingArguments))
    return parser.parse_args_into_dataclasses(args=argv)


def check_flags(model_args, data_args, training_args) -> None:
    """Errors for flags LLaVA would accept and then misuse without a word."""
    emollm_plugin.register()  # the plugin's templates and projector must be known to check them
    from llava import conversation

    from emollm_plugin.llava_glue.register import MVP_TYPE, mvp_options_from_args

    if model_args.version not in conversation.conv_templates and model_args.version not in ("v0", "v0.5"):
        known = ", ".join(sorted(conversation.conv_templates))
        raise ValueError(f"--version {model_args.version!r} is not a LLaVA conversation template; known: {known}")
    if model_args.mm_projector_type == MVP_TYPE:
        mvp_options_from_args(model_args)  # raises with the offending --mvp_* flag
    if data_args.data_path is None or not Path(data_args.data_path).is_file():
        raise FileNotFoundError(f"--data_path {data_args.data_path}: no such file")
    if model_args.pretrain_mm_mlp_adapter and not Path(model_args.pretrain_mm_mlp_adapter).is_file():
        raise FileNotFoundError(f"--pretrain_mm_mlp_adapter {model_args.pretrain_mm_mlp_adapter}: no such file")
    llava_class_for(model_args.model_name_or_path)
    check_context(model_args, data_args, training_args)


def visual_tokens_per_frame(vision_tower: str | None) -> int | None:
    """Patch tokens one image or frame becomes, from the tower's config (None when unknown offline)."""
    if not vision_tower:
        return None
    try:
        config = transformers.CLIPVisionConfig.from_pretrained(vision_tower)
    except (OSError, ValueError):
        return None
    return (config.image_size // config.patch_size) ** 2


def data_has_video(path: str, chunk: int = 1 << 24) -> bool:
    """Whether a LLaVA JSON has any ``"video"`` sample (a streamed byte scan: the file may be GBs)."""
    key, tail = b'"video"', b""
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            if key in tail + block:
                return True
            tail = block[-len(key):]
    return False


def check_context(model_args, data_args, training_args, room: int = 32) -> None:
    """Refuse a video length that leaves no room for the answer.

    LLaVA truncates to ``--model_max_length`` *after* inserting visual tokens, so a video whose
    ``num_frames`` x tokens-per-frame fills the context loses its answer and teaches nothing,
    silently.
    """
    per_frame = visual_tokens_per_frame(model_args.vision_tower)
    if per_frame is None or not data_has_video(data_args.data_path):
        return
    per_frame += getattr(model_args, "mvp_global_tokens", 0) if model_args.mm_projector_type == "mvp" else 0
    needed = per_frame * data_args.num_frames + room
    if needed > training_args.model_max_length:
        raise ValueError(
            f"--num_frames {data_args.num_frames} x {per_frame} visual tokens per frame needs "
            f"--model_max_length >= {needed} (now {training_args.model_max_length}); LLaVA would cut off "
            "every video sample's answer. Lower --num_frames or raise --model_max_length."
        )


def absolutise_flag(argv: list[str], flag: str) -> list[str]:
    """Make a local path flag absolute so checkpoints work from any folder."""
    out = list(argv)
    for i, item in enumerate(out):
        if item == flag and i + 1 < len(out) and os.path.exists(out[i + 1]):
            out[i + 1] = str(Path(out[i + 1]).resolve())
        elif item.startswith(flag + "=") and os.path.exists(item.split("=", 1)[1]):
            out[i] = f"{flag}={Path(item.split('=', 1)[1]).resolve()}"
    return out


def install_into_llava(output_dir: str) -> None:
    """Point ``llava.train.train``'s globals at the plugin's arguments and dataset."""
    from llava.train import train as llava_train

    from emollm_plugin.llava_glue.args import EmoDataArguments, EmoModelArguments
    from emollm_plugin.llava_glue.dataset import make_data_module

    llava_train.ModelArguments = EmoModelArguments
    llava_train.DataArguments = EmoDataArguments
    llava_train.make_supervised_data_module = lambda tokenizer, data_args: make_data_module(
        tokenizer, data_args, output_dir=output_dir
    )


def set_aside_incomplete_checkpoints(output_dir: str) -> list[Path]:
    """Rename ``checkpoint-N`` folders a killed run left half-written, so the resume uses a whole one.

    The Trainer writes ``trainer_state.json`` last; without it a checkpoint may lack its optimizer
    or weights, and resuming from it crashes. Every rank runs this; a rename another rank already
    made is simply not found.
    """
    moved = []
    for folder in sorted(Path(output_dir).glob("checkpoint-*")):
        if not folder.is_dir() or (folder / "trainer_state.json").exists():
            continue
        target = folder.with_name(f"incomplete-{folder.name}")
        try:
            folder.rename(target)
        except FileNotFoundError:
            continue
        logger.warning("%s was not fully written (the run was killed while saving): moved to %s", folder, target)
        moved.append(target)
    return moved


def report_skips(output_dir: str) -> int:
    from emollm_plugin.llava_glue.dataset import SKIP_LOG_NAME, skipped_samples

    skips = skipped_samples(output_dir)
    if skips and int(os.environ.get("RANK", "0")) == 0:
        ids = ", ".join(str(s["id"]) for s in skips[:10])
        logger.warning(
            "%d sample(s) were skipped because their media could not be read (%s%s); see %s",
            len(skips), ids, ", ..." if len(skips) > 10 else "", Path(output_dir) / SKIP_LOG_NAME,
        )
    return len(skips)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    emollm_plugin.register()
    argv = absolutise_flag(argv, "--vision_tower")
    model_args, data_args, training_args = parse_flags(argv)
    try:
        check_flags(model_args, data_args, training_args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"emollm train: error: {exc}", file=sys.stderr)
        return 2
    install_into_llava(training_args.output_dir)
    set_aside_incomplete_checkpoints(training_args.output_dir)

    from llava.train import train as llava_train

    attn = model_args.attn_implementation or default_attn_implementation(model_args.model_name_or_path)
    seed_before_model_building(training_args.seed)
    saved_argv = sys.argv
    sys.argv = [saved_argv[0], *argv]  # LLaVA's train() parses sys.argv itself
    try:
        llava_train.train(attn_implementation=attn)
    finally:
        sys.argv = saved_argv
    report_skips(training_args.output_dir)
    close_process_group()
    return 0


def seed_before_model_building(seed: int) -> None:
    """Seed every generator before LLaVA builds the projector, so ``--seed`` fixes its initial weights.

    The Trainer seeds only in its own ``__init__``, after ``train()`` has created ``mm_projector``
    with unseeded random weights: two runs with the same ``--seed`` then started apart.
    """
    from transformers import set_seed

    set_seed(seed)


def close_process_group() -> None:
    """Leave the process group cleanly; without it gloo ranks wait ~100 s at exit on CPU."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
