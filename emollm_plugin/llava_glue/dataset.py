"""LLaVA's supervised dataset, extended with video records, EmoPrompt exemplars and bad-media skips.

A record with ``"video"`` becomes a ``[T, 3, H, W]`` frame block (frames from the shared sampler
in ``emobench.frames``) behind its single ``<image>`` token: LLaVA's
``prepare_inputs_labels_for_multimodal`` flattens the block to ``T * N`` visual tokens and MVP
sees one frame at a time. A sample whose media cannot be read is skipped (logged with its id,
appended to ``OUTPUT_DIR/skipped_samples.jsonl`` and counted at the end) instead of killing the
run; tokenisation and masking are LLaVA's own ``preprocess``.

Frames come through the frame cache (a clip is decoded once for all epochs) and decode safely in
DataLoader worker processes (``--dataloader_num_workers N``, forked): decord is imported and a
reader opened only inside the call that decodes, no reader outlives it, and a worker decodes
with one thread so N workers do not fight over the cores.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
from pathlib import Path

import torch
from llava.train import train as llava_train
from torch.utils.data import Dataset

from emollm_plugin.emobench.jsonl import read_objects
from emollm_plugin.emobench.media import load_frames, load_image
from emollm_plugin.llava_glue.pixels import prepare_pixels

logger = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
SKIP_LOG_NAME = "skipped_samples.jsonl"


class TooManyBadSamples(RuntimeError):
    """Many unreadable samples in a row: the data paths are probably wrong, not the samples."""


class MalformedSample(ValueError):
    """A sample LLaVA's ``preprocess`` would crash on (no turns, a turn without text, ...)."""


#: The speakers LLaVA's ``preprocess`` knows, in the order its templates alternate them.
ROLES = ("human", "gpt")


def sample_problem(sample: object) -> str | None:
    """Why LLaVA's ``preprocess`` would crash on (or learn nothing from) a sample; None when it is fine."""
    if not isinstance(sample, dict):
        return f"is a JSON {type(sample).__name__}, not an object"
    turns = sample.get("conversations")
    if turns is None:
        if "conversation" in sample:
            return "has 'conversation'; LLaVA reads 'conversations' (plural)"
        return "has no 'conversations' list"
    if not isinstance(turns, list) or not turns:
        return "'conversations' must be a non-empty list of turns"
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("from") not in ROLES:
            speaker = turn.get("from") if isinstance(turn, dict) else turn
            return f"turn {number}: 'from' must be 'human' or 'gpt', got {speaker!r}"
        if not isinstance(turn.get("value"), str):
            return f"turn {number} has no text 'value'"
    spoken = [turn["from"] for turn in turns]
    if spoken[0] == "gpt":  # LLaVA drops a leading answer turn
        spoken = spoken[1:]
    if any(who != ROLES[i % 2] for i, who in enumerate(spoken)):
        return f"turns must alternate human, gpt, ... (got {', '.join(spoken)})"
    if "gpt" not in spoken:
        return "has no 'gpt' answer turn to learn"
    for key in ("image", "video"):
        if key in sample and not (isinstance(sample[key], str) and sample[key]):
            return f"'{key}' must be a media file path"
    return None


def sample_label(index: int, sample: object) -> str:
    sid = sample.get("id") if isinstance(sample, dict) else None
    return f"sample {index}" + (f" (id {sid!r})" if sid is not None else "")


@functools.lru_cache(maxsize=2)
def _parse_samples(path: str, mtime_ns: int, size: int) -> list:
    try:
        with open(path, encoding="utf-8") as handle:
            samples = json.load(handle)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the file is "
            "truncated or not a LLaVA training JSON (a list of samples)"
        ) from None
    if not isinstance(samples, list):
        raise ValueError(f"{path}: LLaVA training data must be a JSON list of samples")
    return samples


def load_samples(data_path: str | Path) -> list:
    """The LLaVA JSON list, parsed once per process: the pre-flight check and the dataset share it."""
    stat = os.stat(data_path)
    return _parse_samples(str(data_path), stat.st_mtime_ns, stat.st_size)


def check_samples(data_path: str | Path, shown: int = 5) -> int:
    """Refuse a LLaVA JSON with malformed samples before a model loads; returns the sample count."""
    samples = load_samples(data_path)
    bad = [(i, s, problem) for i, s in enumerate(samples) if (problem := sample_problem(s))]
    if bad:
        listed = "; ".join(f"{sample_label(i, s)} {problem}" for i, s, problem in bad[:shown])
        more = f" (and {len(bad) - shown} more)" if len(bad) > shown else ""
        raise MalformedSample(
            f"{data_path}: {len(bad)} malformed sample(s) of {len(samples)}: {listed}{more}; fix or remove them"
        )
    return len(samples)


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
        self.samples: list[dict] = load_samples(data_path)
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
        if sample_problem(sample):  # skipped when loaded; no length to count
            return 1
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
        processor, ratio = self.data_args.image_processor, self.data_args.image_aspect_ratio
        path = self._media_path(sample, key)
        if key == "image":  # the runner prepares evaluation pixels with the same function
            return prepare_pixels([load_image(path)], processor, ratio)[0]
        threads = 1 if torch.utils.data.get_worker_info() is not None else 0  # 0: decord's choice
        frames = load_frames(path, num_frames=self.data_args.num_frames, max_fps=self.data_args.max_fps,
                             num_threads=threads)
        return prepare_pixels(frames, processor, ratio)

    def _record_skip(self, index: int, sample: dict, error: Exception) -> None:
        sid = sample.get("id", index) if isinstance(sample, dict) else index
        logger.warning("skipping sample %s (index %d): %s", sid, index, error)
        if self.skip_log is not None:
            self.skip_log.parent.mkdir(parents=True, exist_ok=True)
            with self.skip_log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"id": sid, "index": index, "error": str(error)}) + "\n")

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        for attempt in range(self.data_args.max_media_retries + 1):
            current = (index + attempt) % len(self.samples)
            sample = self.samples[current]
            problem = sample_problem(sample)
            if problem:  # the train entry refuses these up front; a dataset built elsewhere skips them
                self._record_skip(current, sample, MalformedSample(f"malformed: {problem}"))
                continue
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


def skipped_samples(output_dir: str | Path) -> list[dict]:
    """Every sample skipped so far in a run (all ranks and workers append to one file)."""
    path = Path(output_dir) / SKIP_LOG_NAME
    if not path.exists():
        return []
    return read_objects(path)[0]  # a line torn by a killed worker is left out, not fatal


def make_data_module(tokenizer, data_args, output_dir: str | None = None) -> dict:
    """Drop-in for ``llava.train.train.make_supervised_data_module``."""
    skip_log = Path(output_dir) / SKIP_LOG_NAME if output_dir else None
    dataset = EmoLLMSupervisedDataset(data_args.data_path, tokenizer, data_args, skip_log=skip_log)
    collator = llava_train.DataCollatorForSupervisedDataset(tokenizer=tokenizer)
    return {"train_dataset": dataset, "eval_dataset": None, "data_collator": collator}
