"""The `emollm` lmms-eval model: registration, batched generation equal to batch 1, data-parallel processes
equal to one, log-likelihoods."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
             f"pretrained={out},num_frames=2", "--tasks", "emobench_emo_c,emobench_sarcasm", "--emobench-dir",
             str(emobench), "--output", str(folder), "--batch-size", str(batch), "--max-new-tokens", "8"],
            capture_output=True, text=True, timeout=900,
        )
        runs[batch] = _answers(folder)
    assert len(runs[1]) == 8, "4 test samples x 2 tasks, images and videos, in batches of up to 8"
    assert runs[1] == runs[8]
    assert any(answer for answer in runs[1].values()), "the model must have produced text"


def test_several_processes_launch_through_accelerate():
    from argparse import Namespace

    from emollm_plugin.lmms_glue.evaluate import EvalSetupError, build_command, launcher

    assert launcher(1) == [sys.executable, "-m"]
    command = launcher(4)
    assert command[1:4] == ["-m", "accelerate.commands.launch", "--multi_gpu"]
    assert command[command.index("--num_processes") + 1] == "4" and command[-1] == "-m"
    args = Namespace(model="emollm", batch_size=1, verbosity="INFO", model_args="", limit=None, device=None,
                     max_new_tokens=None, lmms_eval_args=None, num_processes=2)
    full = build_command(args, "emobench", Path("out"))
    assert full[full.index("-m", 3) + 1] == "lmms_eval"
    with pytest.raises(EvalSetupError, match="--num-processes"):
        launcher(0)


@pytest.mark.slow
def test_two_processes_give_the_answers_and_scores_of_one(trained, tmp_path):
    """Data-parallel under lmms-eval's launcher: each process answers its share; gathered, they equal one process."""
    out, emobench = trained
    procs = {}
    for count in (1, 2):
        folder = tmp_path / f"processes{count}"
        command = [sys.executable, "-m", "emollm_plugin.cli", "eval", "--model", "emollm", "--model_args",
                   f"pretrained={out},num_frames=2", "--tasks", "emobench_emo_c,emobench_humor", "--emobench-dir",
                   str(emobench), "--output", str(folder), "--max-new-tokens", "8", "--num-processes", str(count)]
        log = (tmp_path / f"processes{count}.log").open("w")
        procs[count] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log, folder)
    runs = {}
    for count, (proc, log, folder) in procs.items():
        proc.wait(timeout=900)
        log.close()
        printed = (tmp_path / f"processes{count}.log").read_text()
        assert ("accelerate.commands.launch" in printed) == (count > 1)
        runs[count] = load_run(folder)
    one, two = _answers(tmp_path / "processes1"), _answers(tmp_path / "processes2")
    assert len(one) == 8, "4 samples x 2 tasks, images and videos"
    assert two == one
    for task in ("emo_c", "humor"):
        assert runs[2].tasks[task].metrics == runs[1].tasks[task].metrics, task


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


def test_a_video_that_fails_to_decode_is_answered_as_unreadable_and_the_rest_are_answered(trained, tmp_path):
    """One undecodable clip among good samples: the batch goes on, that sample says why (counted missing)."""
    import math

    from lmms_eval.api.instance import Instance

    from emollm_plugin.emobench.media import UNREADABLE_MEDIA_ANSWER
    from emollm_plugin.lmms_glue.model import EmoLLM

    out, emobench = trained
    good = next((emobench / "media").rglob("*.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(good.read_bytes()[:200])  # exists and is not empty: only decoding finds it out
    model = EmoLLM(pretrained=str(out), device="cpu", batch_size=4, num_frames=2)
    docs = [{"path": str(good)}, {"path": str(broken)}, {"path": str(good)}]
    model.task_dict = {"emobench_emo_c": {"test": docs}}

    def request(kind: str, doc_id: int, second) -> Instance:
        args = ("Which emotion does the video show?", second, lambda doc: [doc["path"]], doc_id, "emobench_emo_c",
                "test")
        return Instance(request_type=kind, arguments=args, idx=0,
                        metadata={"task": "emobench_emo_c", "doc_id": doc_id, "repeats": 1})

    answers = model.generate_until([request("generate_until", i, {"max_new_tokens": 3}) for i in range(3)])
    assert answers[1].startswith(UNREADABLE_MEDIA_ANSWER) and str(broken) in answers[1]
    assert answers[0] == answers[2] and not answers[0].startswith(UNREADABLE_MEDIA_ANSWER)
    scores = model.loglikelihood([request("loglikelihood", i, " joy") for i in range(3)])
    assert math.isnan(scores[1][0]) and scores[1][1] is False
    assert scores[0] == scores[2] and math.isfinite(scores[0][0])
