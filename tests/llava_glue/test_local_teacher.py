"""LocalTeacher: batching, sampling groups and failures over a recording runner."""

from __future__ import annotations

import pytest
from PIL import Image

from emollm_plugin.emoprompt.teachers import VIDEO_NOTE, TeacherError, TeacherRequest
from emollm_plugin.llava_glue.local_teacher import LocalTeacher


def red() -> Image.Image:
    return Image.new("RGB", (8, 8), (255, 0, 0))


class StandInRunner:
    """Our own runner interface (llava_glue.inference.EmoLLMRunner.generate), recorded."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], list, int, float]] = []
        self.fail = fail

    def generate(self, prompts, media, max_new_tokens=128, temperature=0.0):
        self.calls.append((prompts, media, max_new_tokens, temperature))
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        return [f"answer to {p.splitlines()[-1]}" for p in prompts]


def test_local_teacher_batches_and_groups_by_sampling_settings():
    runner = StandInRunner()
    teacher = LocalTeacher(runner=runner, batch_size=3)
    requests = [
        TeacherRequest("p0", [red()]),
        TeacherRequest("p1", [red(), red()], video=True, temperature=0.8),
        TeacherRequest("p2"),
        TeacherRequest("p3", [red()]),
    ]
    replies = teacher.complete_batch(requests)
    assert [r.text for r in replies] == ["answer to p0", "answer to p1", "answer to p2", "answer to p3"]
    # batch of 3 split into the two temperatures, then the 4th alone
    assert [(len(c[0]), c[3]) for c in runner.calls] == [(2, 0.2), (1, 0.8), (1, 0.2)]
    first_prompts, first_media = runner.calls[0][0], runner.calls[0][1]
    assert first_prompts == ["p0", "p2"] and len(first_media[0]) == 1 and first_media[1] is None
    assert runner.calls[1][0][0] == VIDEO_NOTE.format(n=2) + "\np1"
    assert replies[0].prompt_tokens == 1 and replies[0].completion_tokens == 3  # words (no tokenizer)


def test_local_teacher_turns_generate_failure_into_errors():
    teacher = LocalTeacher(runner=StandInRunner(fail=True))
    replies = teacher.complete_batch([TeacherRequest("a"), TeacherRequest("b")])
    assert all(isinstance(r, TeacherError) and "out of memory" in str(r) for r in replies)
    with pytest.raises(TeacherError):
        teacher.complete(TeacherRequest("a"))


def test_local_teacher_needs_a_model_path():
    with pytest.raises(ValueError, match="--model-path"):
        LocalTeacher()
