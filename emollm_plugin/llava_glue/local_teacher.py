"""A LLaVA checkpoint in this process as the EmoPrompt teacher (the ``emoprompt`` Teacher protocol)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from emollm_plugin.emoprompt.teachers import VIDEO_NOTE, TeacherError, TeacherReply, TeacherRequest
from emollm_plugin.llava_glue.inference import load_runner

log = logging.getLogger(__name__)


class LocalTeacher:
    """A LLaVA checkpoint in this process as the teacher (via ``llava_glue.inference``).

    Requests are batched ``batch_size`` at a time through the runner's ``generate``; token counts
    are text tokens only (the runner does not report the image tokens it adds).
    """

    concurrency = 1

    def __init__(
        self,
        model_path: str | None = None,
        model_base: str | None = None,
        device: str = "cpu",
        batch_size: int = 8,
        num_frames: int = 8,
        conv_mode: str | None = None,
        runner: object | None = None,
    ) -> None:
        if runner is None:
            if not model_path:
                raise ValueError("LocalTeacher needs --model-path (a LLaVA/EmoLLM checkpoint folder)")
            runner = load_runner(model_path, model_base=model_base, device=device, conv_mode=conv_mode,
                                 num_frames=num_frames)
        self.runner = runner
        self.batch_size = max(1, batch_size)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalTeacher(model_path={getattr(self.runner, 'model_path', '?')!r})"

    def complete(self, request: TeacherRequest) -> TeacherReply:
        reply = self.complete_batch([request])[0]
        if isinstance(reply, TeacherError):
            raise reply
        return reply

    def complete_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply | TeacherError]:
        out: list[TeacherReply | TeacherError] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = list(requests[start : start + self.batch_size])
            # One generate() call per temperature/length, since the runner takes them per call.
            groups: dict[tuple[int, float], list[int]] = {}
            for i, request in enumerate(chunk):
                groups.setdefault((request.max_tokens, request.temperature), []).append(i)
            replies: list[TeacherReply | TeacherError | None] = [None] * len(chunk)
            for (max_tokens, temperature), indices in groups.items():
                prompts = [self._prompt(chunk[i]) for i in indices]
                media = [list(chunk[i].images) or None for i in indices]
                try:
                    with self._lock:
                        texts = self.runner.generate(prompts, media, max_new_tokens=max_tokens,
                                                     temperature=temperature)
                except Exception as exc:  # one bad batch must not end the run
                    log.exception("local teacher: generate() failed for %d requests", len(indices))
                    for i in indices:
                        replies[i] = TeacherError(f"local teacher failed: {type(exc).__name__}: {exc}")
                    continue
                for i, prompt, text in zip(indices, prompts, texts, strict=True):
                    replies[i] = TeacherReply(text, self._count(prompt),
                                              self._count(text))
            out.extend(r for r in replies if r is not None)
        return out

    def _count(self, text: str) -> int:
        counter = getattr(self.runner, "count_tokens", None)
        return int(counter(text)) if callable(counter) else len(text.split())

    @staticmethod
    def _prompt(request: TeacherRequest) -> str:
        parts = []
        if request.system:
            parts.append(request.system)
        if request.video and request.images:
            parts.append(VIDEO_NOTE.format(n=len(request.images)))
        parts.append(request.prompt)
        return "\n".join(parts)
