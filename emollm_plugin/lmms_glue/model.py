"""The ``emollm`` lmms-eval model: EmoLLM checkpoints (MVP, EmoPrompt template, LoRA or merged).

``--model emollm --model_args pretrained=RUN_DIR[,model_base=BASE,num_frames=8,...] --batch_size 8``
(batch size and device are lmms-eval's own flags; repeating them in model_args is an error).
lmms-eval discovers it through the ``lmms_eval.models`` entry point (see ``manifest.py``). The
checkpoint is loaded by :class:`~emollm_plugin.llava_glue.inference.EmoLLMRunner`, which calls
``emollm_plugin.register()`` in this process first. Images arrive as PIL images; a video arrives
as a file path and is read through the plugin's one frame sampler, as in training. A video that
fails to decode there does not stop the run: its sample is answered with ``UNREADABLE_MEDIA_ANSWER``
and the reason (log-likelihood: ``nan``), which the EmoBench tasks count as missing.

Data-parallel like lmms-eval's own simple models: under ``accelerate launch --num_processes N -m
lmms_eval`` (or ``torchrun``; ``emollm eval --num-processes N``) each process loads the checkpoint on
its own device, lmms-eval gives it every N-th document and gathers answers and scores on rank 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import torch
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from loguru import logger
from PIL import Image
from tqdm import tqdm

from emollm_plugin.emobench.media import UNREADABLE_MEDIA_ANSWER, MediaError, load_frames


def _flag(value, default: bool = False) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return default if value is None else bool(value)


def truncate_at_stops(text: str, stops: Sequence[str]) -> str:
    """Cut generated text at the earliest stop sequence."""
    cut = len(text)
    for stop in stops:
        if stop and stop in text:
            cut = min(cut, text.index(stop))
    return text[:cut].strip()


def process_device(device: str | None, world_size: int = 1) -> str:
    """This process's device: a GPU when there is one, else the CPU; with several processes a bare
    ``cuda`` becomes ``cuda:<LOCAL_RANK>`` so each process loads its own copy on its own GPU."""
    local_rank = os.environ.get("LOCAL_RANK", "0")
    if device is None:
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and world_size > 1:
        return f"cuda:{local_rank}"
    return device


class EmoLLM(lmms):
    """Batched, image- and video-aware lmms-eval wrapper around an EmoLLM checkpoint."""

    is_simple = True

    def __init__(
        self,
        pretrained: str,
        model_base: str | None = None,
        device: str | None = None,
        batch_size: int | str = 1,
        conv_mode: str | None = None,
        num_frames: int | str = 8,
        max_fps: float | str | None = None,
        dtype: str | None = None,
        max_new_tokens: int | str = 128,
        **kwargs,
    ) -> None:
        super().__init__()
        from emollm_plugin.llava_glue.inference import load_runner

        # Data-parallel under lmms-eval's launchers (accelerate launch, torchrun): each process loads
        # the model on its own device, lmms-eval hands it a share of the documents and gathers the results.
        self._rank = int(os.environ.get("RANK", "0"))
        self._world_size = int(os.environ.get("WORLD_SIZE", "1"))
        device = process_device(device, self._world_size)
        self._device = torch.device(device)
        self.batch_size_per_gpu = int(batch_size)
        self.max_new_tokens = int(max_new_tokens)
        self.runner = load_runner(
            pretrained, model_base=model_base or None, device=device, conv_mode=conv_mode,
            num_frames=int(num_frames), max_fps=float(max_fps) if max_fps not in (None, "", "None") else None,
            dtype=dtype,
        )

    @property
    def device(self) -> torch.device:
        """Where this process's model lives; lmms-eval's evaluator puts its cross-process counts there."""
        return self._device

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    # -- visuals ----------------------------------------------------------------------------
    def media_for(self, visuals: list) -> list[Image.Image] | None:
        """One request's visuals as the runner wants them: an image, the frames of a video, or None."""
        visuals = [v for v in visuals if v is not None]
        if not visuals:
            return None
        if len(visuals) == 1 and isinstance(visuals[0], str):
            return load_frames(visuals[0], num_frames=self.runner.num_frames, max_fps=self.runner.max_fps)
        images = [v for v in visuals if isinstance(v, Image.Image)]
        if len(images) != len(visuals):
            raise ValueError(f"emollm takes PIL images or one video path per sample, got {[type(v) for v in visuals]}")
        return images

    def _readable_media(self, request_args: tuple) -> tuple[list[Image.Image] | None, str | None]:
        """``(media, None)``, or ``(None, why)`` when the request's media cannot be decoded."""
        try:
            return self.media_for(self._visuals(*request_args[2:6])), None
        except MediaError as exc:
            logger.error(f"emollm: {request_args[4]} document {request_args[3]}: counted as missing: {exc}")
            return None, str(exc)

    def _visuals(self, doc_to_visual, doc_id: int, task: str, split: str) -> list:
        if doc_to_visual is None:
            return []
        visuals = doc_to_visual(self.task_dict[task][split][doc_id])
        return visuals if isinstance(visuals, list) else [visuals]

    @staticmethod
    def _text(context) -> str:
        context = context[0] if isinstance(context, list) else context
        return context.replace("<image>", "").strip()

    # -- lmms-eval API ----------------------------------------------------------------------
    def generate_until(self, requests: list[Instance]) -> list[str]:
        args = [request.args for request in requests]
        # Batches share generation kwargs; similar prompt lengths keep left padding small.
        groups: dict[str, list[int]] = {}
        for i in sorted(range(len(args)), key=lambda i: -len(self._text(args[i][0]))):
            groups.setdefault(json.dumps(args[i][1], sort_keys=True, default=str), []).append(i)
        results: list[str] = [""] * len(args)
        progress = tqdm(total=len(args), disable=self.rank != 0, desc="emollm generating")
        for indices in groups.values():
            gen_kwargs = dict(args[indices[0]][1])
            stops = gen_kwargs.get("until") or []
            stops = [stops] if isinstance(stops, str) else list(stops)
            for start in range(0, len(indices), self.batch_size_per_gpu):
                chunk = indices[start:start + self.batch_size_per_gpu]
                media = {}
                for i in chunk:
                    media[i], problem = self._readable_media(args[i])
                    if problem:
                        results[i] = UNREADABLE_MEDIA_ANSWER + problem
                ready = [i for i in chunk if not results[i]]
                if ready:
                    answers = self.runner.generate(
                        [self._text(args[i][0]) for i in ready], [media[i] for i in ready],
                        max_new_tokens=int(gen_kwargs.get("max_new_tokens", self.max_new_tokens)),
                        temperature=float(gen_kwargs.get("temperature", 0.0) or 0.0),
                    )
                    for i, answer in zip(ready, answers, strict=True):
                        results[i] = truncate_at_stops(answer, stops)
                progress.update(len(chunk))
        progress.close()
        return results

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        scores = []
        for request_args in tqdm([r.args for r in requests], disable=self.rank != 0, desc="emollm log-likelihood"):
            context, target, _, doc_id, task, split = request_args
            media, problem = self._readable_media(request_args)
            if problem:
                scores.append((float("nan"), False))
                continue
            doc = self.task_dict[task][split][doc_id]
            continuation = target if isinstance(target, str) else target(doc)
            scores.append(self.runner.loglikelihood(self._text(context), media, continuation))
        return scores

    def generate_until_multi_round(self, requests) -> list[str]:
        raise NotImplementedError("emollm answers single-turn EmoBench questions; multi-round is not supported")
