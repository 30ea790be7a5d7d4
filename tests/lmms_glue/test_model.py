"""The `emollm` lmms-eval model: registration, batched generation equal to batch 1, log-likelihoods."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emollm_plugin.lmms_glue.results import load_run


def test_entry_point_registers_emollm_with_lmms_eval():
    from lmms_eval.models import get_model

    cls = get_model("emollm")
    assert cls.__module__ == "emollm_plugin.lmms_glue.model" and cls.is_simple


def _answers(run_dir) -> dict[str, str]:
    run = load_run(run_dir)
    answers = {}
    for task in run.tasks.values():
        for sample in task.samples:
            answers[sample.id] = sample.output
    return answers


@pytest.mark.slow
def test_batch_of_eight_answers_exactly_like_batch_of_one(trained, tmp_path):
    out, emobench = trained
    runs = {}
    for batch in (1, 8):
        folder = tmp_path / f"batch{batch}"
        subprocess.run(
            [sys.executable, "-m", "emollm_plugin.cli", "eval", "--model", "emollm", "--model_args",
             f"pretrained={out},num_frames=2", "--tasks", "emobench", "--emobench-dir", str(emobench),
             "--output", str(folder), "--batch-size", str(batch), "--max-new-tokens", "8"],
            capture_output=True, text=True, timeout=900,
        )
        runs[batch] = _answers(folder)
    assert len(runs[1]) == 24, "4 test samples x 6 tasks, images and videos"
    assert runs[1] == runs[8]
    assert any(answer for answer in runs[1].values()), "the model must have produced text"


def test_loglikelihood_agrees_with_greedy_generation(trained):
    from PIL import Image

    from emollm_plugin.llava_glue.inference import load_runner

    out, emobench = trained
    runner = load_runner(str(out), num_frames=2)
    image = Image.open(next((emobench / "media").rglob("*.png")))
    question = "Identify the only emotion depicted in the given image from the following options: [anger, joy]."
    answer = runner.generate([question], [[image]], max_new_tokens=3)[0]
    assert answer, "the trained model answers something"
    # lmms-eval's convention: the word boundary belongs to the continuation.
    score, greedy = runner.loglikelihood(question, [image], " " + answer)
    assert greedy, f"{answer!r} was generated greedily, so its continuation must be greedy"
    other = "zzz qqq" if answer != "zzz qqq" else "yyy"
    other_score, other_greedy = runner.loglikelihood(question, [image], " " + other)
    assert not other_greedy and other_score < score
