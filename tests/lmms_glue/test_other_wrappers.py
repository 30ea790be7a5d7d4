"""EmoBench through lmms-eval's OWN wrappers for other model families (issue "Any foundation model").

The six EmoBench tasks are run unchanged, through the real ``emollm eval`` CLI, with lmms-eval
0.7.3's transformers-native wrappers on tiny random checkpoints built offline
(:mod:`emollm_plugin.tiny.hf`), on CPU:

- ``llava_hf`` (``LlavaForConditionalGeneration``) with ``device=cpu,device_map=cpu``; ``emollm
  eval`` passes lmms-eval's ``--force_simple`` (the name would otherwise resolve to the chat
  class, which stops with "'function' object has no attribute 'items'" on the simple requests
  the EmoBench tasks build). The wrapper answers video records without the video:
  ``LlavaProcessor`` drops ``videos=``, so the model sees only the text and a literal "<video>".
- ``qwen2_vl`` (``Qwen2VLForConditionalGeneration``) with ``device=cpu,device_map=cpu`` and a
  56x56 pixel budget: images and videos (decoded by ``qwen_vl_utils`` with decord) both reach it.

A random model answers gibberish, so ``emollm eval`` exits 3 (``UNREADABLE_ANSWERS``) when all of a
task's answers fail to parse; the tests check that this verdict matches the samples, and that the real path ran:
results for all six tasks, one non-empty model output per sample, image and video samples.
The two runs start together and take about a minute of wall time on two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from emollm_plugin.emobench.records import read_records
from emollm_plugin.emobench.synth import synthesize
from emollm_plugin.emobench.tasks import TASK_SPECS, TASKS
from emollm_plugin.lmms_glue.evaluate import UNREADABLE_ANSWERS
from emollm_plugin.lmms_glue.results import Run, load_run
from emollm_plugin.tiny.hf import (
    QWEN2_VL_PIXELS,
    QWEN2_VL_SPECIAL_TOKENS,
    build_tiny_llava_hf,
    build_tiny_qwen2_vl,
)
from tests.emobench_fixtures import eval_command

slow = pytest.mark.slow

LIMIT = 4
#: Enough gibberish to tell outputs apart; the tasks' 64 would quadruple the generation time.
MAX_NEW_TOKENS = 16


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava_hf(tmp_path_factory.mktemp("tiny_llava_hf"))


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny_qwen2_vl"))


# --- the checkpoints themselves (fast) ---------------------------------------------------------


def test_tiny_llava_hf_processor_expands_image_to_the_models_feature_count(llava_dir: Path) -> None:
    import torch
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(llava_dir)
    model = LlavaForConditionalGeneration.from_pretrained(llava_dir)
    # lmms-eval's simple wrapper passes a string with <image>; its chat wrapper typed parts.
    as_text = processor.tokenizer.apply_chat_template(
        [{"role": "user", "content": "<image>\nWhich emotion?"}], tokenize=False, add_generation_prompt=True
    )
    as_parts = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which emotion?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert as_text == as_parts == "USER: <image>\nWhich emotion? ASSISTANT:"
    inputs = processor(images=[Image.new("RGB", (50, 30), (200, 40, 40))], text=as_text, return_tensors="pt")
    assert (
        int((inputs["input_ids"] == model.config.image_token_index).sum())
        == model.config.image_seq_length
        == 16
    )
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], model.config.text_config.vocab_size)
    # labels and prompt punctuation are real tokens, not <unk> (the sentencepiece model has byte fallback)
    ids = processor.tokenizer("Answer: surprise, [anger]", add_special_tokens=False)["input_ids"]
    assert processor.tokenizer.unk_token_id not in ids


def test_tiny_qwen2_vl_takes_images_and_videos_with_qwen2_vl_special_tokens(qwen_dir: Path) -> None:
    import torch
    from PIL import Image
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(qwen_dir)
    model = Qwen2VLForConditionalGeneration.from_pretrained(qwen_dir)
    tokenizer = processor.tokenizer
    for token in QWEN2_VL_SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    assert tokenizer.eos_token == "<|im_end|>" and model.config.eos_token_id == tokenizer.eos_token_id
    text = "Answer: ask for help. Ça va? 😀"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: nothing is lost

    def prompt(kind: str) -> str:
        return processor.apply_chat_template(
            [
                {
                    "role": "user",
                    "content": [{"type": kind, kind: "x"}, {"type": "text", "text": "Which emotion?"}],
                }
            ],
            tokenize=False,
            add_generation_prompt=True,
        )

    assert prompt("image") == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Which emotion?<|im_end|>\n<|im_start|>assistant\n"
    )
    image = processor(text=[prompt("image")], images=[Image.new("RGB", (32, 32))], return_tensors="pt")
    assert image["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56x56 px budget: 16 patches, 4 tokens
    assert int((image["input_ids"] == model.config.image_token_id).sum()) == 4
    video = processor(text=[prompt("video")], videos=[torch.rand(4, 3, 56, 56)], return_tensors="pt")
    assert video["video_grid_thw"].tolist() == [[2, 4, 4]]
    with torch.no_grad():
        for inputs in (image, video):
            assert model(**inputs).logits.shape[1] == inputs["input_ids"].shape[1]
    assert processor.image_processor.min_pixels == processor.image_processor.max_pixels == QWEN2_VL_PIXELS


def test_builders_reuse_a_folder_built_with_the_same_settings(llava_dir: Path, qwen_dir: Path) -> None:
    for build, folder in ((build_tiny_llava_hf, llava_dir), (build_tiny_qwen2_vl, qwen_dir)):
        weights = folder / "model.safetensors"
        before = weights.stat().st_mtime_ns
        assert build(folder) == folder
        assert weights.stat().st_mtime_ns == before


# --- real emollm eval runs ---------------------------------------------------------------------


@dataclass
class WrapperRun:
    out: Path
    returncode: int
    output: str


def _model_args(pretrained: Path, *extra: str) -> str:
    return ",".join([f"pretrained={pretrained}", "device=cpu", "device_map=cpu", *extra])


@pytest.fixture(scope="module")
def emobench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 4 test records per task: with --limit 4, two images and two videos each (synth alternates)
    return synthesize(tmp_path_factory.mktemp("emobench"), per_task=4, test_per_task=LIMIT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, llava_dir: Path, qwen_dir: Path, emobench: Path) -> dict[str, WrapperRun]:
    """Two ``emollm eval`` runs started together: llava_hf and qwen2_vl."""
    base = tmp_path_factory.mktemp("wrapper_runs")
    pixels = f"min_pixels={QWEN2_VL_PIXELS}", f"max_pixels={QWEN2_VL_PIXELS}"
    specs = {
        "llava_hf": ("llava_hf", _model_args(llava_dir), ()),
        "qwen2_vl": ("qwen2_vl", _model_args(qwen_dir, *pixels), ()),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("EMOBENCH_")}
    procs = {}
    for name, (model, model_args, extra) in specs.items():
        log = (base / f"{name}.log").open("w")
        command = eval_command(
            base / name,
            emobench,
            model,
            "--model_args",
            model_args,
            "--limit",
            str(LIMIT),
            "--max-new-tokens",
            str(MAX_NEW_TOKENS),
            *extra,
        )
        procs[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log)
    done = {}
    for name, (proc, log) in procs.items():
        proc.wait(timeout=600)
        log.close()
        done[name] = WrapperRun(base / name, proc.returncode, (base / f"{name}.log").read_text())
    return done


def _check_real_run(run: WrapperRun, backend: str) -> Run:
    """The assertions shared by every wrapper: the real path ran and ``emollm eval``'s verdict is right."""
    result = load_run(run.out)
    config = json.loads(result.results_file.read_text())["config"]
    assert config["model_backend"] == backend
    all_unparsed = []
    for task in TASKS:
        task_run = result.tasks[task]
        assert isinstance(task_run.accuracy, float), (task, task_run.metrics)
        assert task_run.n == LIMIT and task_run.samples_file is not None and task_run.samples_file.is_file()
        counts = task_run.counts
        # one model output per sample, none empty: lmms-eval's wrappers answer '' when generate() fails
        assert counts["samples"] == LIMIT and counts["empty"] == 0, (task, counts, run.output[-3000:])
        assert all(isinstance(s.output, str) for s in task_run.samples)
        assert {s.modality for s in task_run.samples} == {"image", "video"}
        assert task_run.accuracy == counts["correct"] / LIMIT
        message = f"emollm eval: error: {task}: none of the {LIMIT} answers names a label"
        if counts["unparsed"] == LIMIT:
            all_unparsed.append(task)
            assert message in run.output
        else:
            assert message not in run.output
        row = f"{task:<8} {TASK_SPECS[task].title}"
        assert row in run.output, row
    assert "mean     mean of the six accuracies" in run.output
    assert result.mean_accuracy is not None
    assert "answers are empty" not in run.output and "no result in" not in run.output
    # a random model names no label: exit UNREADABLE_ANSWERS exactly when some task's answers all fail to parse
    assert run.returncode == (UNREADABLE_ANSWERS if all_unparsed else 0), run.output[-3000:]
    return result


def _outputs_by_question(result: Run, emobench: Path, task: str, modality: str) -> dict[str, list[str]]:
    """The model's outputs for one task's samples of one modality, grouped by question text."""
    records = {r.id: r for r in read_records(emobench / "test" / f"{task}.jsonl")}
    grouped: dict[str, list[str]] = {}
    for sample in result.tasks[task].samples:
        record = records[sample.id]
        if record.modality == modality:
            grouped.setdefault(record.question, []).append(sample.output)
    return grouped


#: Tasks whose question text is the same for every record of a modality (no per-record text):
#: two different clips with the same question get the same answer only if the clip is ignored.
SAME_QUESTION_TASKS = ("emo_c", "emo_o", "intent")


@slow
def test_llava_hf_runs_the_six_tasks_on_cpu(runs: dict, emobench: Path) -> None:
    result = _check_real_run(runs["llava_hf"], "lmms_eval.models.simple.llava_hf.LlavaHf (simple)")
    for task in SAME_QUESTION_TASKS:
        images = _outputs_by_question(result, emobench, task, "image")
        assert any(len(set(outputs)) > 1 for outputs in images.values()), images  # the pixels matter
        # Known limitation of lmms-eval's llava_hf with a llava-1.5 (LlavaForConditionalGeneration)
        # checkpoint: LlavaProcessor ignores `videos=`, so a video question is answered from the text
        # alone, and two different clips with the same question get the same answer.
        videos = _outputs_by_question(result, emobench, task, "video")
        assert all(len(set(outputs)) == 1 for outputs in videos.values()), videos


@slow
def test_qwen2_vl_runs_the_six_tasks_on_cpu_with_images_and_videos(runs: dict, emobench: Path) -> None:
    run = runs["qwen2_vl"]
    result = _check_real_run(run, "lmms_eval.models.simple.qwen2_vl.Qwen2_VL (simple)")
    assert "qwen-vl-utils using decord to read video" in run.output
    assert "Failed to process video" not in run.output and "Failed to process PIL image" not in run.output
    for task in SAME_QUESTION_TASKS:
        for modality in ("image", "video"):
            grouped = _outputs_by_question(result, emobench, task, modality)
            assert any(len(set(outputs)) > 1 for outputs in grouped.values()), (task, modality, grouped)
