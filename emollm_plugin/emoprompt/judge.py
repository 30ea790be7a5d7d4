"""A reproducible judge of free-form answers: recognition and reasoning scores from any OpenAI-compatible endpoint.

A judged number is only worth reporting if someone else can get it again. So:

- the prompts are files in the repository (``prompts/judge_recognition.txt`` and
  ``prompts/judge_reasoning.txt``), filled with the task title, question, label and answer; their
  SHA-256 is printed and stored with every judgment;
- every call is made at temperature 0 through the official ``openai`` client, to whatever
  ``--base-url`` names (OpenAI, vLLM, Ollama, ``emollm serve``);
- every reply is cached in a JSON Lines file under a key hashing (prompt file content, sample id,
  question, label, answer text, judge model, the media shown), so a rerun with the same
  cache gives the same number without the endpoint, and a changed prompt or model is a new key;
- a failed call (connection error, HTTP error after the client's retries, empty reply, a reply
  without a valid ``Score:`` line) is a failure: it scores 0, is counted and reported, and is never
  dropped from the denominator. Replies that cannot be read are cached too (they are what the judge
  said); transport errors are not (nothing was said), so an offline rerun fails them again.

Scores per answer: recognition 0 or 1 (does the final answer identify the label); reasoning 0, 1
or 2, scaled to 0, 0.5, 1 (are the stated cues present in the media and do they support the
label); combined = the mean of the two. A task's scores are the means over its answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emollm_plugin.emobench.jsonl import BadLine, JsonlAppender, iter_lines
from emollm_plugin.emoprompt.teachers import TeacherRequest, connect, request_to_messages

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).with_name("prompts")
KINDS: tuple[str, ...] = ("recognition", "reasoning")
PROMPT_FILES = {"recognition": "judge_recognition.txt", "reasoning": "judge_reasoning.txt"}
#: The largest score each judgment may give; scores are divided by it.
MAX_POINTS = {"recognition": 1, "reasoning": 2}
TEMPERATURE = 0.0
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*(\d+)\s*\**", re.IGNORECASE)


@dataclass(frozen=True)
class JudgePrompt:
    """One prompt file: its text (``{task_title}``, ``{question}``, ``{label}``, ``{answer}``) and SHA-256."""

    kind: str
    path: Path
    text: str
    sha256: str

    def render(self, sample: JudgeSample) -> str:
        return self.text.format_map(
            {"task_title": sample.task_title, "question": sample.question, "label": sample.label,
             "answer": sample.answer}
        )


def load_prompts(folder: str | Path = PROMPTS_DIR) -> dict[str, JudgePrompt]:
    """Both prompt files of ``folder``; a clear error when one is missing or has a stray placeholder."""
    prompts = {}
    for kind, name in PROMPT_FILES.items():
        path = Path(folder) / name
        if not path.is_file():
            raise FileNotFoundError(f"judge prompt {path} not found; the plugin ships it in emoprompt/prompts/")
        text = path.read_text(encoding="utf-8")
        try:
            text.format_map({"task_title": "", "question": "", "label": "", "answer": ""})
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(f"{path}: bad placeholder ({exc}); use {{task_title}} {{question}} {{label}} {{answer}}") from None
        prompts[kind] = JudgePrompt(kind, path, text, hashlib.sha256(text.encode("utf-8")).hexdigest())
    return prompts


@dataclass(frozen=True)
class JudgeSample:
    """One answer to judge, with what the judge is shown: the question, the label and the media.

    The media file is read only when the judge is actually called (a cached rerun reads none).
    """

    task: str
    id: str
    question: str
    label: str
    answer: str
    task_title: str = ""
    media_path: str | None = None
    video: bool = False


def cache_key(prompt: JudgePrompt, sample: JudgeSample, model: str, media: str) -> str:
    """SHA-256 of everything that decides a judgment: prompt file, sample, answer, judge model, media shown.

    ``media`` says what the judge was shown: ``none``, ``image`` or ``video:<frames>``.
    """
    fields = {
        "prompt_sha256": prompt.sha256,
        "id": sample.id,
        "question": sample.question,
        "label": sample.label,
        "answer": sample.answer,
        "model": model,
        "media": media,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def parse_score(reply: str | None, kind: str) -> float | None:
    """The last ``Score: N`` of a reply scaled to [0, 1]; None when absent or out of range."""
    matches = _SCORE.findall(reply or "")
    if not matches:
        return None
    points = int(matches[-1])
    if points > MAX_POINTS[kind]:
        return None
    return points / MAX_POINTS[kind]


@dataclass(frozen=True)
class Verdict:
    """One judgment: the score in [0, 1] (0 for a failure), whether it failed and why, and whether it was cached."""

    task: str
    id: str
    kind: str
    score: float
    ok: bool
    cached: bool
    error: str | None = None
    reply: str | None = None


class JudgeCache:
    """Replies by key, from and appended to a JSON Lines file (one line per reply, flushed at once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        self.bad_lines: list[str] = []
        if self.path.exists():
            for _, item in iter_lines(self.path):
                if isinstance(item, BadLine) or not isinstance(item, dict) or "key" not in item:
                    self.bad_lines.append(str(item))  # e.g. a line cut by a crash: that call is made again
                    continue
                self.entries[item["key"]] = item
        for problem in self.bad_lines[:5]:
            log.warning("judge cache: ignoring %s", problem)
        self._appender: JsonlAppender | None = None

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entry: dict) -> None:
        if self._appender is None:
            self._appender = JsonlAppender(self.path)
        self._appender.write(entry)
        self.entries[entry["key"]] = entry

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None


@dataclass
class JudgeStats:
    """Calls asked of the judge, how many the cache answered, and the model names the server reported."""

    calls: int = 0
    hits: int = 0
    served_models: set[str] = field(default_factory=set)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.calls if self.calls else 0.0


class Judge:
    """Judges answers through an OpenAI-compatible endpoint, every reply cached (see the module docstring).

    The API key is read from the environment variable named ``api_key_env`` (none: no Authorization
    header, which local servers accept); it is never logged. The client is built on the first cache miss,
    so a fully cached rerun never touches the network.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        cache: JudgeCache,
        api_key_env: str | None = None,
        with_media: bool = True,
        timeout: float = 120.0,
        max_retries: int = 2,
        max_tokens: int = 256,
        max_image_side: int | None = 768,
        num_frames: int = 4,
        prompts: dict[str, JudgePrompt] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.cache = cache
        self.api_key_env = api_key_env
        self.with_media = with_media
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.max_image_side = max_image_side
        self.num_frames = num_frames
        self.prompts = prompts or load_prompts()
        self.stats = JudgeStats()
        self._client: Any = None
        self._headers: dict | None = None

    def _openai(self) -> Any:
        """The client, built on the first cache miss (a warning when ``$api_key_env`` is empty)."""
        if self._client is None:
            self._client, self._headers, _ = connect(self.base_url, self.api_key_env, self.timeout, self.max_retries)
        return self._client

    def media_shown(self, sample: JudgeSample) -> str:
        """What the judge sees of a sample's media: ``none``, ``image`` or ``video:<frames>``."""
        if not (self.with_media and sample.media_path):
            return "none"
        return f"video:{self.num_frames}" if sample.video else "image"

    def _ask(self, prompt: JudgePrompt, sample: JudgeSample) -> tuple[str, str]:
        """(reply text, model the server says answered); raises on a media, transport or HTTP error."""
        images: list = []
        if self.with_media and sample.media_path:
            from emollm_plugin.emobench.media import load_frames, load_image

            images = load_frames(sample.media_path, self.num_frames) if sample.video else [load_image(sample.media_path)]
        request = TeacherRequest(
            prompt.render(sample),
            images,
            video=sample.video and bool(images),
            max_tokens=self.max_tokens,
            temperature=TEMPERATURE,
        )
        response = self._openai().chat.completions.create(
            model=self.model,
            messages=request_to_messages(request, self.max_image_side),
            temperature=TEMPERATURE,
            max_tokens=self.max_tokens,
            extra_headers=self._headers,
        )
        choices = getattr(response, "choices", None)
        if not choices:
            raise ValueError(f"no choices in the reply: {str(response)[:200]}")
        return choices[0].message.content or "", str(getattr(response, "model", "") or "")

    def judge(self, sample: JudgeSample, kind: str) -> Verdict:
        """One judgment, from the cache when it holds one; never raises for a failed call."""
        prompt = self.prompts[kind]
        key = cache_key(prompt, sample, self.model, self.media_shown(sample))
        self.stats.calls += 1
        entry = self.cache.get(key)
        cached = entry is not None
        if cached:
            self.stats.hits += 1
        else:
            try:
                reply, served = self._ask(prompt, sample)
            except Exception as exc:  # every failure is counted and reported, never raised or skipped
                message = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                return Verdict(sample.task, sample.id, kind, 0.0, False, False, message)
            entry = {
                "key": key, "kind": kind, "id": sample.id, "task": sample.task, "model": self.model,
                "served_model": served, "prompt_sha256": prompt.sha256, "media": self.media_shown(sample),
                "reply": reply,
            }
            self.cache.put(entry)
        if entry.get("served_model"):
            self.stats.served_models.add(entry["served_model"])
        reply = entry.get("reply")
        score = parse_score(reply, kind)
        if score is None:
            problem = "empty reply" if not (reply or "").strip() else f"no valid 'Score:' line in {reply[-120:]!r}"
            return Verdict(sample.task, sample.id, kind, 0.0, False, cached, problem, reply)
        return Verdict(sample.task, sample.id, kind, score, True, cached, None, reply)

    def judge_all(self, samples: Iterable[JudgeSample]) -> list[Verdict]:
        """Recognition then reasoning for each sample, in order."""
        return [self.judge(sample, kind) for sample in samples for kind in KINDS]


def failed(task: str, sample_id: str, reason: str) -> list[Verdict]:
    """Both judgments of a sample that could not be put to the judge (e.g. its record is missing)."""
    return [Verdict(task, sample_id, kind, 0.0, False, False, reason) for kind in KINDS]


def summarize(verdicts: Sequence[Verdict]) -> dict[str, dict]:
    """Per task: ``n`` answers, mean ``recognition``, ``reasoning`` and ``combined`` (failures are 0), failures.

    ``combined`` is the mean over answers of (recognition + reasoning) / 2. ``failures`` counts
    failed judgments per kind; ``failed`` lists them (task, id, kind, error).
    """
    per_task: dict[str, dict[str, dict[str, Verdict]]] = {}
    for verdict in verdicts:
        per_task.setdefault(verdict.task, {}).setdefault(verdict.id, {})[verdict.kind] = verdict
    out: dict[str, dict] = {}
    for task, samples in per_task.items():
        missing = [(sid, kind) for sid, kinds in samples.items() for kind in KINDS if kind not in kinds]
        if missing:
            raise ValueError(f"{task}: judgments missing for {missing[:3]}; judge both kinds for every answer")
        n = len(samples)
        means = {kind: sum(s[kind].score for s in samples.values()) / n for kind in KINDS}
        out[task] = {
            "n": n,
            **means,
            "combined": sum((s["recognition"].score + s["reasoning"].score) / 2 for s in samples.values()) / n,
            "failures": {kind: sum(not s[kind].ok for s in samples.values()) for kind in KINDS},
            "failed": [
                {"id": sid, "kind": kind, "error": s[kind].error}
                for sid, s in samples.items()
                for kind in KINDS
                if not s[kind].ok
            ],
        }
    return out
