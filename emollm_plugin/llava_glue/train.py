"""The plugin's train entry: LLaVA's own ``train()`` with EmoLLM registered.

``python -m emollm_plugin.train`` (or ``emollm train``) accepts every LLaVA flag unchanged plus
the plugin's (``--mvp_*``, ``--emoprompt_k``, ``--video_folder``, ``--num_frames``). It runs
under ``deepspeed`` and ``torchrun`` like LLaVA's ``train_mem.py``: each rank imports this
module, so each rank registers the plugin.

LLaVA's ``train()`` reads its argument dataclasses and its dataset factory from module globals
when it runs; ``register()`` (and so the autoload hook, on any ``import llava``) points those
globals at the plugin's versions and wraps ``train()`` itself (:func:`install_into_llava`), so
LLaVA's own doors (``python -m llava.train.train``, ``train_mem.py``) are this entry too. The
wrapper checks the flags LLaVA would silently misread (an unknown ``--version`` falls back to
``vicuna_v1``; a relative ``--vision_tower`` is stored verbatim in the checkpoint) and seeds
before the projector is built.
"""

from __future__ import annotations

import functools
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
    """Errors for flags LLaVA would accept and then misuse without a word, or fail on only after loading.

    Everything here is cheap (configs, file headers, the data JSON): a wrong flag costs seconds,
    not a model load.
    """
    emollm_plugin.register()  # the plugin's templates and projector must be known to check them
    from llava import conversation

    from emollm_plugin.llava_glue.dataset import check_samples
    from emollm_plugin.llava_glue.pixels import check_aspect_ratio
    from emollm_plugin.llava_glue.register import MVP_TYPE, mvp_options_from_args

    if not model_args.model_name_or_path:
        raise ValueError("--model_name_or_path is required: a base LLM folder or an (already cached) hub name")
    if model_args.version not in conversation.conv_templates and model_args.version not in ("v0", "v0.5"):
        known = ", ".join(sorted(conversation.conv_templates))
        raise ValueError(f"--version {model_args.version!r} is not a LLaVA conversation template; known: {known}")
    check_projector_type(model_args.mm_projector_type)
    if model_args.mm_projector_type == MVP_TYPE:
        mvp_options_from_args(model_args)  # raises with the offending --mvp_* flag
    check_aspect_ratio(data_args.image_aspect_ratio)
    if data_args.data_path is None or not Path(data_args.data_path).is_file():
        raise FileNotFoundError(f"--data_path {data_args.data_path}: no such file")
    check_samples(data_args.data_path)  # names the file (truncated JSON) or each malformed sample
    if model_args.pretrain_mm_mlp_adapter:
        check_adapter(model_args.pretrain_mm_mlp_adapter)
    check_pretrained("--model_name_or_path", model_args.model_name_or_path, llava_class_for)
    if model_args.vision_tower:
        check_pretrained("--vision_tower", model_args.vision_tower, transformers.AutoConfig.from_pretrained)
    check_context(model_args, data_args, training_args)


def check_projector_type(projector_type: str) -> None:
    """Ask LLaVA's own builder (as the plugin wraps it) whether it knows the type, on a 1x1 projector."""
    from types import SimpleNamespace

    from llava.model.multimodal_projector import builder

    from emollm_plugin.llava_glue.register import MVP_TYPE

    if projector_type == MVP_TYPE:
        return
    try:
        builder.build_vision_projector(SimpleNamespace(mm_projector_type=projector_type, mm_hidden_size=1, hidden_size=1))
    except ValueError:
        raise ValueError(
            f"--mm_projector_type {projector_type!r} is unknown; use linear, mlp2x_gelu (any mlpNx_gelu), identity "
            f"or {MVP_TYPE}"
        ) from None


def check_adapter(path: str) -> None:
    """A ``--pretrain_mm_mlp_adapter`` that exists and loads (LLaVA would fail on it after the model load)."""
    import torch

    if not Path(path).is_file():
        raise FileNotFoundError(f"--pretrain_mm_mlp_adapter {path}: no such file")
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError or pickle errors for a cut file
        raise ValueError(
            f"--pretrain_mm_mlp_adapter {path}: cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "the file is truncated or not a projector checkpoint: copy or download it again"
        ) from None


def check_pretrained(flag: str, name: str, load) -> None:
    """A base or tower that can be loaded: its config resolves (offline: from the cache) and its weights are whole."""
    from huggingface_hub import constants

    from emollm_plugin.llava_glue.inference import CheckpointError, check_weight_files

    if Path(name).is_dir():
        try:
            check_weight_files(Path(name), flag)
        except CheckpointError as exc:
            raise ValueError(str(exc)) from None
    try:
        load(name)
    except OSError as exc:
        if Path(name).exists():
            raise ValueError(f"{flag} {name}: cannot be loaded ({str(exc).splitlines()[0]})") from None
        if constants.HF_HUB_OFFLINE:
            raise ValueError(
                f"{flag} {name}: no such folder, and not in the Hugging Face cache (the plugin runs offline, "
                f"HF_HUB_OFFLINE=1): download it first (`.venv/bin/hf download {name}`), or "
                "`export HF_HUB_OFFLINE=0 TRANSFORMERS_OFFLINE=0` for the run"
            ) from None
        raise ValueError(f"{flag} {name}: no such folder or Hugging Face model ({str(exc).splitlines()[0]})") from None


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
    silently. Counts a frame's tokens as the model will: pooled by ``--mm_video_pool``, plus MVP's
    global tokens.
    """
    from emollm_plugin.llava_glue.register import pooled_tokens_per_frame

    pool = getattr(model_args, "mm_video_pool", 1)
    if pool < 1:
        raise ValueError(f"--mm_video_pool must be >= 1 (1 = every token of every frame), got {pool}")
    per_frame = visual_tokens_per_frame(model_args.vision_tower)
    if per_frame is None or not data_has_video(data_args.data_path):
        return
    per_frame = pooled_tokens_per_frame(per_frame, pool)
    per_frame += getattr(model_args, "mvp_global_tokens", 0) if model_args.mm_projector_type == "mvp" else 0
    needed = per_frame * data_args.num_frames + room
    if needed > training_args.model_max_length:
        raise ValueError(
            f"--num_frames {data_args.num_frames} x {per_frame} visual tokens per frame needs "
            f"--model_max_length >= {needed} (now {training_args.model_max_length}); LLaVA would cut off "
            "every video sample's answer. Lower --num_frames, pool each frame's tokens with --mm_video_pool 2 "
            "(or more), or raise --model_max_length."
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


_ENTRY_FLAG = "__emollm_train_entry"


def install_into_llava() -> None:
    """Make LLaVA's own ``train()`` the plugin's train entry (idempotent; part of ``register()``).

    ``llava.train.train`` reads its argument dataclasses and dataset factory from module globals
    when ``train()`` runs: they become the plugin's (every ``--mvp_*``, video and EmoPrompt flag;
    video records as frame blocks), and ``train`` itself is wrapped by :func:`_wrap_train`. So
    ``python -m llava.train.train``, LLaVA's ``train_mem.py`` (under ``deepspeed``) and
    ``python -m emollm_plugin.train`` run one function and write the same checkpoint.
    """
    from llava.train import train as llava_train

    if not _args_module_initialising():
        use_plugin_arguments(llava_train)
    if not getattr(llava_train.train, _ENTRY_FLAG, False):
        llava_train.train = _wrap_train(llava_train.train)


def _args_module_initialising() -> bool:
    """True when ``llava_glue.args`` itself triggered this registration (its ``import llava`` fires the
    autoload hook while it is half loaded); the wrapped ``train()`` then installs the arguments at call time."""
    module = sys.modules.get("emollm_plugin.llava_glue.args")
    return module is not None and not hasattr(module, "EmoDataArguments")


def use_plugin_arguments(llava_train) -> None:
    """The plugin's argument dataclasses and dataset factory as ``llava.train.train``'s globals."""
    from emollm_plugin.llava_glue.args import EmoDataArguments, EmoModelArguments
    from emollm_plugin.llava_glue.dataset import make_data_module

    llava_train.ModelArguments = EmoModelArguments
    llava_train.DataArguments = EmoDataArguments
    llava_train.make_supervised_data_module = make_data_module


def program_name() -> str:
    """How errors name the command: ``emollm train``, or LLaVA's script (``train.py``) on the stock doors."""
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "train"


def prepare_run(argv: list[str]):
    """Parse and check the flags of one run: ``(argv, model_args, data_args, training_args)``.

    Raises ``ValueError``/``OSError`` naming the flag; ``argv`` comes back with ``--vision_tower`` absolute.
    """
    argv = absolutise_flag(argv, "--vision_tower")
    model_args, data_args, training_args = parse_flags(argv)  # the dataclasses check their own values
    check_flags(model_args, data_args, training_args)
    return argv, model_args, data_args, training_args


def _wrap_train(original):
    """LLaVA's ``train()`` preceded by the plugin's checks and seeding, followed by its skip report."""

    @functools.wraps(original)
    def train(attn_implementation=None):
        from llava.train import train as llava_train

        from emollm_plugin.llava_glue.dataset import make_data_module

        use_plugin_arguments(llava_train)
        try:
            argv, model_args, data_args, training_args = prepare_run(sys.argv[1:])
        except (ValueError, OSError) as exc:
            print(f"{program_name()}: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        out = training_args.output_dir
        llava_train.make_supervised_data_module = functools.partial(make_data_module, output_dir=out)
        set_aside_incomplete_checkpoints(out)
        # The --attn_implementation flag wins over a caller's fixed choice (train_mem.py's flash-attn).
        attn = (model_args.attn_implementation or attn_implementation
                or default_attn_implementation(model_args.model_name_or_path))
        seed_before_model_building(training_args.seed)
        saved_argv = sys.argv
        sys.argv = [saved_argv[0], *argv]  # LLaVA's train() parses sys.argv itself
        try:
            result = original(attn_implementation=attn)
        finally:
            sys.argv = saved_argv
            llava_train.make_supervised_data_module = make_data_module
        report_skips(out)
        close_process_group()
        return result

    setattr(train, _ENTRY_FLAG, True)
    return train


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
    """``python -m emollm_plugin.train`` / ``emollm train``: LLaVA's ``train()`` as ``register()`` wrapped it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    emollm_plugin.register()
    from llava.train import train as llava_train

    saved_argv = sys.argv
    sys.argv = ["emollm train", *argv]  # the wrapped train() parses sys.argv and names errors after argv[0]
    try:
        llava_train.train()
    except SystemExit as exc:  # a flag error (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved_argv
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
