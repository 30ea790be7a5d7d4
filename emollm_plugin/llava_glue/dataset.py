"""LLaVA's supervised dataset, extended with video records, EmoPrompt exemplars and bad-media skips.

A record with ``"video"`` becomes a ``[T, 3, H, W]`` frame block (frames from the shared sampler
in ``emobench.frames``) behind its single ``<image>`` token: LLaVA's
``prepare_inputs_labels_for_multimodal`` flattens the block to ``T * N`` visual tokens and MVP
sees one frame at a time. A sample whose media cannot be read is skipped (logged with its id,
appended to ``OUTPUT_DIR/skipped_samples.jsonl`` and counted at the end) instead of killing the
run; tokenisation and masking are LLaVA's own ``preprocess``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import torch
from llava.train import train as llava_train
from torch.utils.data import Dataset

from emollm_plugin.emobench.media import load_frames, load_image

logger = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
SKIP_LOG_NAME = "skipped_samples.jsonl"


class TooManyBadSamples(RuntimeError):
    """Many unreadable samples in a row: the data paths are probably wrong, not the samples."""


def media_key(sample: dict) -> str | None:
    return "image" if "image" in sample else "video" if "video" in sample else None


def add_exemplars(sample: dict, exemplars: dict[str, list], k: int) -> dict:
    """Insert the task's first ``k`` EmoPrompt exemplars into the first human turn, as evaluation does.

    A sample that is itself one of them gets ``k - 1`` (it never sees its own target).
    """
    from emollm_plugin.emoprompt.exemplars import format_with_exemplars

    chosen = exemplars.get(sample.get("task", ""), [])
    if k <= 0 or not chosen:
        return sample
    sample = copy.deepcopy(sample)
    turn = sample["conversations"][0]
    has_image = IMAGE_TOKEN in turn["value"]
    question = turn["value"].replace(IMAGE_TOKEN, "").strip()
    turn["value"] = (IMAGE_TOKEN + "\n" if has_image else "") + format_with_exemplars(
        question, chosen[:k], exclude_id=sample.get("id")
    )
    return sample


class EmoLLMSupervisedDataset(Dataset):
    """Image, video and text samples from a LLaVA-format JSON list."""

    def __init__(self, data_path: str, tokenizer, data_args, skip_log: str | Path | None = None):
        with open(data_path, encoding="utf-8") as handle:
            self.samples: list[dict] = json.load(handle)
        if not isinstance(self.samples, list):
            raise ValueError(f"{data_path}: LLaVA training data must be a JSON list of samples")
        self.tokenizer = tokenizer
        self.data_args = data_args
        self.skip_log = Path(skip_log) if skip_log else None
        self.exemplars: dict[str, list] = {}
        if data_args.emoprompt_k > 0:
            if not data_args.emoprompt_exemplars:
                raise ValueError("--emoprompt_k > 0 needs --emoprompt_exemplars (from 'emollm emoprompt exemplars')")
            from emollm_plugin.emoprompt.exemplars import load_exemplars

            self.exemplars = load_exemplars(data_args.emoprompt_exemplars)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def lengths(self) -> list[int]:
        return [self._text_length(s) + (128 if media_key(s) else 0) for s in self.samples]

    @property
    def modality_lengths(self) -> list[int]:
        return [self._text_length(s) * (1 if media_key(s) else -1) for s in self.samples]

    @staticmethod
    def _text_length(sample: dict) -> int:
        return sum(len(turn["value"].split()) for turn in sample["conversations"])

    def _media_path(self, sample: dict, key: str) -> str:
        folder = self.data_args.image_folder if key == "image" else (
            self.data_args.video_folder or self.data_args.image_folder
        )
        return os.path.join(folder or "", sample[key])

    def load_media(self, sample: dict) -> torch.Tensor | None:
        """Pixel values: ``[3, H, W]`` for an image, ``[T, 3, H, W]`` for a video, None for text."""
        key = media_key(sample)
        if key is None:
            return None
        processor = self.data_args.image_processor
        path = self._media_path(sample, key)
        if key == "image":
            image = load_image(path)
            if self.data_args.image_aspect_ratio == "pad":
                image = pad_to_square(image, tuple(int(x * 255) for x in processor.image_mean))
            return processor.preprocess(image, return_tensors="pt")["pixel_values"][0]
        frames = load_frames(path, num_frames=self.data_args.num_frames, max_fps=self.data_args.max_fps)
        return processor.preprocess(frames, return_tensors="pt")["pixel_values"]

    def _record_skip(self, index: int, sample: dict, error: Exception) -> None:
        sid = sample.get("id", index)
        logger.warning("skipping sample %s (index %d): %s", sid, index, error)
        if self.skip_log is not None:
            self.skip_log.parent.mkdir(parents=True, exist_ok=True)
            with self.skip_log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"id": sid, "index": index, "error": str(error)}) + "\n")

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        for attempt in range(self.data_args.max_media_retries + 1):
            current = (index + attempt) % len(self.samples)
            sample = self.samples[current]
            try:
                pixels = self.load_media(sample)
            except (OSError, ValueError, RuntimeError) as exc:
                self._record_skip(current, sample, exc)
                continue
            return self._tokenize(sample, pixels)
        raise TooManyBadSamples(
            f"{self.data_args.max_media_retries + 1} unreadable samples in a row from index {index}: "
            f"check --image_folder/--video_folder, and run 'emollm data validate' on the data"
        )

    def _tokenize(self, sample: dict, pixels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        sample = add_exemplars(sample, self.exemplars, self.data_args.emoprompt_k)
        conversations = copy.deepcopy([sample["conversations"]])
        if pixels is not None:
            conversations = llava_train.preprocess_multimodal(conversations, self.data_args)
        tokens = llava_train.preprocess(conversations, self.tokenizer, has_image=pixels is not None)
        item = {"input_ids": tokens["input_ids"][0], "labels": tokens["labels"][0]}
        if pixels is not None:
            item["image"] = pixels
        elif self.data_args.is_multimodal:
            crop = self.data_args.image_processor.crop_size
            item["image"] = torch.zeros(3, crop["height"], crop["width"])
        return item


def pad_to_square(image, background: tuple[int, ...]):
    """LLaVA's ``--image_aspect_ratio pad``: centre the image on a square canvas."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), background)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def skipped_samples(output_dir: str | Path) -> list[dict]:
    """Every sample skipped so far in a run (all ranks and workers append to one file)."""
    path = Path(output_dir) / SKIP_LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_data_module(tokenizer, data_args, output_dir: str | None = None) -> dict:
    """Drop-in for ``llava.train.train.make_supervised_data_module``."""
    skip_log = Path(output_dir) / SKIP_LOG_NAME if output_dir else None
    dataset = EmoLLMSupervisedDataset(data_args.data_path, tokenizer, data_args, skip_log=skip_log)
    collator = llava_train.DataCollatorForSupervisedDataset(tokenizer=tokenizer)
    return {"train_dataset": dataset, "eval_dataset": None, "data_collator": collator}
