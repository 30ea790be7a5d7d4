"""Load an EmoLLM checkpoint through LLaVA's own loader and run it: batched generation and log-likelihoods.

The one place that turns a checkpoint folder into answers. The lmms-eval model, ``emollm serve``
and the local EmoPrompt teacher all use :class:`EmoLLMRunner`.

LLaVA's ``load_pretrained_model`` chooses its code path from substrings of a *model name*
("llava", "lora", "mpt", "mistral") and loads projector and LoRA extras with ``strict=False``.
Here the name is derived from what the folder holds (the base family is left out: once
``register()`` ran, ``llava_glue.bases`` picks the class and tokenizer from the config), and every
projector weight is checked after loading, so a mismatched checkpoint fails loudly instead of
running with random weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

import emollm_plugin
from emollm_plugin.emobench.media import Frames
from emollm_plugin.llava_glue.pixels import check_aspect_ratio, prepare_pixels

IGNORE_INDEX = -100
PROJECTOR_MODULE = "mm_projector."
#: Attribute of the LLaVA base module in each llava-torch class (``model`` for Llama/Mistral, ``transformer`` for MPT).
BASE_MODULES = ("model.", "transformer.")


class CheckpointError(RuntimeError):
    """A checkpoint folder that cannot be loaded as asked; the message says what is missing."""


@dataclass(frozen=True)
class Chat:
    """Several turns for :meth:`EmoLLMRunner.build_prompt`: user, assistant, user, ... ending with a user turn.

    The media goes into the turn at index ``media_turn`` (a user turn), where the user attached it.
    """

    turns: tuple[str, ...]
    media_turn: int = 0


@dataclass(frozen=True)
class CheckpointKind:
    kind: str  # "full", "lora" or "projector"
    model_type: str


def inspect_checkpoint(model_path: str | Path) -> CheckpointKind:
    """What a LLaVA output folder holds: full weights, LoRA adapters, or a projector only."""
    path = Path(model_path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path}: no config.json; is this a LLaVA/EmoLLM output folder?")
    model_type = json.loads(config_file.read_text()).get("model_type", "llava_llama")
    if (path / "adapter_config.json").is_file():
        return CheckpointKind("lora", model_type)
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("pytorch_model*.bin"))
    if (path / "mm_projector.bin").is_file() and not has_weights:
        return CheckpointKind("projector", model_type)
    if not has_weights:
        raise CheckpointError(f"{path}: no model weights (*.safetensors, pytorch_model*.bin, mm_projector.bin)")
    check_weight_files(path)
    return CheckpointKind("full", model_type)


def check_weight_files(folder: Path, what: str | None = None) -> None:
    """Every ``*.safetensors`` in ``folder`` has a whole header and all the bytes it promises.

    Reads headers only (no tensors). A file cut short by an interrupted copy otherwise fails deep
    inside ``from_pretrained`` with a message that names no file.
    """
    from safetensors import SafetensorError, safe_open

    for file in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except (SafetensorError, OSError) as exc:
            owner = f"{what} {folder}: " if what else ""
            raise CheckpointError(
                f"{owner}{file} is truncated or corrupt ({exc}); copy or download it again"
            ) from None


def llava_model_name(kind: CheckpointKind) -> str:
    """The model name that steers ``load_pretrained_model`` down the right branch.

    No "mpt" or "mistral": those branches hard-code a class and a tokenizer choice (and the MPT
    projector branch copies a remote-code file native MPT bases lack); the generic branch, with
    ``llava_glue.bases`` installed, picks both from the checkpoint's config for every family.
    """
    return "llava-lora" if kind.kind == "lora" else "llava"


def projector_key(name: str) -> str | None:
    """The projector-local name of a checkpoint key (``0.weight``), or None for other weights.

    The projector sits under the LLaVA base module, whose attribute is ``model`` for Llama and
    Mistral and ``transformer`` for MPT; LoRA checkpoints add ``base_model.model.`` in front.
    """
    owner, found, local = name.removeprefix("base_model.model.").partition(PROJECTOR_MODULE)
    return local if found and owner in BASE_MODULES else None


def _projector_tensors_in(path: Path) -> dict[str, torch.Tensor]:
    """The projector tensors of one weights file; safetensors are read selectively, not whole."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            names = handle.keys()  # noqa: SIM118 (a safetensors handle has no __iter__)
            return {name: handle.get_tensor(name) for name in names if projector_key(name) is not None}
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_projector_tensors(model_path: Path, kind: str) -> dict[str, torch.Tensor]:
    """Projector tensors as stored in the checkpoint, keyed by their name inside the projector."""
    if kind == "projector":
        files = [model_path / "mm_projector.bin"]
    elif kind == "lora":
        files = [model_path / "non_lora_trainables.bin"]
    else:
        files = sorted(model_path.glob("*.safetensors")) or sorted(model_path.glob("pytorch_model*.bin"))
    found = {}
    for file in files:
        for key, value in _projector_tensors_in(file).items():
            local = projector_key(key)
            if local is not None:
                found[local] = value
    return found


def load_projector(model, stored: dict[str, torch.Tensor]) -> None:
    """Copy a checkpoint's projector tensors into ``model`` (LoRA and projector-only checkpoints).

    LLaVA's loader applies them with ``strict=False`` after rewriting their keys for a ``model.``
    base module, so an MPT model (``transformer.``) silently keeps its random projector.
    """
    projector = model.get_model().mm_projector
    own = projector.state_dict()
    projector.load_state_dict({k: v.to(own[k].dtype) for k, v in stored.items() if k in own}, strict=False)


def verify_projector(model, stored: dict[str, torch.Tensor], model_path: str | Path) -> None:
    """Fail unless every projector weight of ``model`` equals the checkpoint's tensor in ``stored``."""
    projector = model.get_model().mm_projector.state_dict()
    missing = [name for name in projector if name not in stored]
    if missing:
        raise CheckpointError(
            f"{model_path}: the checkpoint lacks {len(missing)} projector weight(s) the model needs "
            f"(e.g. {', '.join(PROJECTOR_MODULE + name for name in missing[:3])}); it was saved with a "
            "different --mm_projector_type or MVP options"
        )
    for name, value in projector.items():
        expected = stored[name].to(value.dtype)
        if not torch.allclose(value.cpu(), expected, atol=1e-3, rtol=1e-3):
            raise CheckpointError(f"{model_path}: projector weight {name} was not loaded into the model")


def _default_conv_mode(config) -> str:
    from emollm_plugin.emoprompt.template import DEFAULT_TEMPLATE_FOR_MODEL_TYPE

    return getattr(config, "emollm_version", None) or DEFAULT_TEMPLATE_FOR_MODEL_TYPE.get(
        config.model_type, "emollm_v1"
    )


def stop_token_ids(tokenizer, conv_mode: str) -> list[int]:
    """EOS plus the template's turn separators that are single special tokens.

    ChatML-style templates (MPT's) end an answer with ``<|im_end|>``, not with EOS; without it
    as a stop token the model keeps writing past its answer until ``max_new_tokens``.
    """
    from llava.conversation import conv_templates

    conv = conv_templates.get(conv_mode)
    ids = [tokenizer.eos_token_id]
    special = set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab())
    for separator in (conv.sep, conv.sep2) if conv else ():
        if separator and separator.strip() in special:
            token_id = tokenizer.convert_tokens_to_ids(separator.strip())
            if token_id not in ids:
                ids.append(token_id)
    return ids


class EmoLLMRunner:
    """A loaded checkpoint with batched ``generate`` and ``loglikelihood``."""

    def __init__(
        self,
        model_path: str,
        model_base: str | None = None,
        device: str = "cpu",
        conv_mode: str | None = None,
        num_frames: int = 8,
        max_fps: float | None = None,
        dtype: str | None = None,
    ):
        emollm_plugin.register()
        from llava.model.builder import load_pretrained_model

        self.model_path = str(model_path)
        kind = inspect_checkpoint(model_path)
        if kind.kind in ("lora", "projector") and not model_base:
            raise CheckpointError(f"{model_path} holds a {kind.kind} checkpoint: pass its base model (model_base)")
        if model_base and Path(model_base).is_dir():
            check_weight_files(Path(model_base), "model_base")
        device_map = "auto" if device == "cuda" else device
        self.tokenizer, self.model, self.image_processor, self.context_len = load_pretrained_model(
            self.model_path, model_base, llava_model_name(kind), device=device, device_map=device_map
        )
        stored = checkpoint_projector_tensors(Path(model_path), kind.kind)
        if kind.kind in ("lora", "projector"):
            load_projector(self.model, stored)
        torch_dtype = getattr(torch, dtype) if dtype else (torch.float16 if device.startswith("cuda") else torch.float32)
        self.model.to(device=device, dtype=torch_dtype).eval()
        verify_projector(self.model, stored, model_path)
        self.device = device
        self.num_frames = num_frames
        self.max_fps = max_fps
        self.conv_mode = conv_mode or _default_conv_mode(self.model.config)
        #: How training prepared images (LLaVA stores ``--image_aspect_ratio`` in the checkpoint config).
        self.image_aspect_ratio = getattr(self.model.config, "image_aspect_ratio", None)
        check_aspect_ratio(self.image_aspect_ratio)
        self.model.config.tokenizer_padding_side = "left"  # batched generation
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.unk_token
        self.stop_token_ids = stop_token_ids(self.tokenizer, self.conv_mode)
        self._feature_counts: dict[tuple[int, bool], int] = {}  # (frames, video) -> positions (prompt_length)

    # -- prompts and pixels -------------------------------------------------------------
    def build_prompt(self, text: str | Chat, has_media: bool) -> str:
        from llava.conversation import conv_templates

        if self.conv_mode not in conv_templates:
            raise ValueError(f"conv_mode {self.conv_mode!r} is not registered; known: {', '.join(conv_templates)}")
        chat = text if isinstance(text, Chat) else Chat((text,))
        conv = conv_templates[self.conv_mode].copy()
        for i, turn in enumerate(chat.turns):
            marked = has_media and i == chat.media_turn
            conv.append_message(conv.roles[i % 2], f"<image>\n{turn}" if marked else turn)
        conv.append_message(conv.roles[1], None)
        return conv.get_prompt()

    def pixels(self, media: list[Image.Image] | None) -> torch.Tensor:
        """``[3, H, W]`` for one image, ``[T, 3, H, W]`` for video frames (:class:`Frames`, even T = 1, as the
        training dataset gives them), zeros for no media."""
        if not media:
            crop = self.image_processor.crop_size
            return torch.zeros(3, crop["height"], crop["width"])
        values = prepare_pixels(media, self.image_processor, self.image_aspect_ratio)  # as training did
        return values if isinstance(media, Frames) or len(media) > 1 else values[0]

    def _encode(self, prompt: str) -> torch.Tensor:
        from llava.constants import IMAGE_TOKEN_INDEX
        from llava.mm_utils import tokenizer_image_token

        return torch.tensor(tokenizer_image_token(prompt, self.tokenizer, IMAGE_TOKEN_INDEX), dtype=torch.long)

    def _batch(self, prompts: list[str], media: list[list[Image.Image] | None]):
        encoded = [self._encode(self.build_prompt(p, bool(m))) for p, m in zip(prompts, media, strict=True)]
        width = max(len(ids) for ids in encoded)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        attention = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, width - len(ids):] = ids
            attention[row, width - len(ids):] = 1
        dtype = next(self.model.parameters()).dtype
        images = [self.pixels(m).to(self.device, dtype) for m in media]
        return input_ids.to(self.device), attention.to(self.device), images

    # -- public API -----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        prompts: list[str | Chat],
        media: list[list[Image.Image] | None],
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        streamer=None,
        stopping_criteria=None,
    ) -> list[str]:
        """Answers for a batch of user texts (without ``<image>``), each with 1 image, T frames or None.

        ``streamer`` and ``stopping_criteria`` go to Hugging Face ``generate`` (``emollm serve`` streams a batch).
        """
        if not prompts:
            return []
        input_ids, attention, images = self._batch(prompts, media)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        output = self.model.generate(
            input_ids,
            attention_mask=attention,
            images=images,
            max_new_tokens=max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.stop_token_ids,
            use_cache=True,
            streamer=streamer,
            stopping_criteria=stopping_criteria,
            **sampling,
        )
        return [text.strip() for text in self.tokenizer.batch_decode(output, skip_special_tokens=True)]

    @torch.inference_mode()
    def count_tokens(self, text: str) -> int:
        """Text tokens as this checkpoint's tokenizer counts them (no special or image tokens)."""
        return len(self.tokenizer.tokenize(text))

    @torch.inference_mode()
    def prompt_length(self, prompt: str | Chat, media: list[Image.Image] | None) -> int:
        """Positions the model reads for one prompt: template and text tokens plus the image features.

        Images are resized to one size (``anyres`` is refused), so the features of N frames take the
        same room whatever the pixels: measured once per N with one vision pass, then only tokenised.
        """
        ids = self._encode(self.build_prompt(prompt, bool(media)))
        if not media:
            return len(ids)
        shape = (len(media), isinstance(media, Frames))  # a video's tokens may be pooled, an image's are not
        if shape not in self._feature_counts:
            probe = [Image.new("RGB", (8, 8))] * len(media)
            probe_ids, attention, images = self._batch(["x"], [Frames(probe) if shape[1] else probe])
            model_inputs = self.model.prepare_inputs_labels_for_multimodal(probe_ids, None, attention, None, None, images)
            self._feature_counts[shape] = model_inputs[4].shape[1] - probe_ids.shape[1] + 1
        return len(ids) - 1 + self._feature_counts[shape]

    def loglikelihood(
        self, prompt: str, media: list[Image.Image] | None, continuation: str
    ) -> tuple[float, bool]:
        """Sum of log-probabilities of ``continuation`` after the prompt, and whether it is greedy."""
        context = self._encode(self.build_prompt(prompt, bool(media)))
        whole = self._encode(self.build_prompt(prompt, bool(media)) + continuation)
        labels = whole.clone()
        labels[: len(context)] = IGNORE_INDEX
        dtype = next(self.model.parameters()).dtype
        images = [self.pixels(media).to(self.device, dtype)]
        _, _, attention, _, embeds, new_labels = self.model.prepare_inputs_labels_for_multimodal(
            whole[None].to(self.device), None, torch.ones_like(whole)[None].to(self.device), None,
            labels[None].to(self.device), images,
        )
        logits = self.model(inputs_embeds=embeds, attention_mask=attention).logits[0, :-1].float()
        targets = new_labels[0, 1:]
        keep = targets != IGNORE_INDEX
        logprobs = torch.log_softmax(logits[keep], dim=-1)
        chosen = targets[keep]
        total = logprobs.gather(-1, chosen[:, None]).sum().item()
        greedy = bool((logprobs.argmax(-1) == chosen).all().item())
        return total, greedy


def load_runner(
    model_path: str,
    model_base: str | None = None,
    device: str = "cpu",
    conv_mode: str | None = None,
    num_frames: int = 8,
    **kwargs,
) -> EmoLLMRunner:
    return EmoLLMRunner(model_path, model_base, device=device, conv_mode=conv_mode, num_frames=num_frames, **kwargs)
