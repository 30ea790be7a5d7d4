"""How long EmoBench's scoring takes at full size (287k predictions), through lmms-eval's own path.

Scoring half: the six tasks are loaded by lmms-eval's TaskManager from ``eval_tasks/emobench``
(over a one-record-per-task EmoBench folder made on the spot), then 287k synthetic documents and
model outputs go through ``task.process_results`` (the ConfigurableTask wrapper lmms-eval calls,
which runs ``scoring.parse_answer``) and ``TaskOutput.calculate_aggregate_metric`` (accuracy with
its stderr, macro-F1, UAR, unparsed share). Target: <= 10 s. Loading lmms-eval is not timed.

Half the outputs are rationales that quote their sample's id, so they are all different and miss
``parse_answer``'s cache; the other half are bare labels or short answers, as real models give.
Model half (:func:`bench_model`): samples/s of the ``emollm`` model's batched generation (the
runner the lmms-eval model calls) at batch 1 and batch 8, side by side in one run, on a tiny
MVP checkpoint made on the spot (CPU by default; ``--device cuda`` on a GPU). Target on GPU:
batch 8 >= 3x batch 1; the CPU figure is reported as measured.

Run: ``.venv/bin/python bench/eval.py [--n 287000] [--samples 64] [--device cpu]``; the last line
prints the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

#: EmoBench's size as stated by the paper.
EMOBENCH_SIZE = 287_000


def _options(task: str) -> list[str]:
    """A realistic label set per task: MIntRec's 20 intents, Ekman's 7 emotions, none for yes/no."""
    from emollm_plugin.emobench.tasks import LABEL_SETS

    if task == "intent":
        return list(LABEL_SETS["mintrec20"])
    return list(LABEL_SETS["ekman7"]) if task in ("emo_c", "emo_o") else []


def _fixture_records(root: Path) -> None:
    """One valid image record per task, enough for lmms-eval to build the tasks."""
    from PIL import Image

    from emollm_plugin.emobench.records import Record, write_records
    from emollm_plugin.emobench.tasks import TASKS, build_question

    (root / "media").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (90, 90, 90)).save(root / "media" / "x.png")
    for task in TASKS:
        options = _options(task)
        answer = options[0] if options else "yes"
        question = build_question(task, "image", options if task != "emo_o" else ())
        write_records(
            root / "test" / f"{task}.jsonl",
            [Record(f"{task}-0", task, "image", "media/x.png", question, answer, "bench", "test", options)],
        )


def _outputs(labels: list[str], answer: str, i: int, rng: random.Random) -> str:
    """A plausible model output: a unique rationale, a bare label, a sentence, or junk."""
    pick = rng.random()
    guess = answer if rng.random() < 0.6 else rng.choice(labels)
    if pick < 0.5:
        return f"Sample {i}: the face, posture and colours of the scene point one way.\nAnswer: {guess}"
    if pick < 0.8:
        return guess
    if pick < 0.95:
        return f"The {('image' if i % 2 else 'video')} shows {guess}."
    return "I am not sure."


def bench_scoring(n: int = EMOBENCH_SIZE, seed: int = 0) -> dict:
    """Seconds to score ``n`` predictions (split evenly over the six tasks) the way lmms-eval does."""
    from lmms_eval.evaluator_utils import TaskOutput
    from lmms_eval.tasks import TaskManager, get_task_dict

    from emollm_plugin.emobench.tasks import TASKS, YES_NO
    from emollm_plugin.lmms_glue.evaluate import tasks_dir

    previous = os.environ.get("EMOBENCH_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        _fixture_records(Path(tmp))
        os.environ["EMOBENCH_DIR"] = tmp
        try:
            manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False)
            loaded = get_task_dict(["emobench"], manager)
        finally:
            if previous is None:
                os.environ.pop("EMOBENCH_DIR", None)
            else:
                os.environ["EMOBENCH_DIR"] = previous
    tasks = {name: task for group in loaded.values() for name, task in group.items()}

    rng = random.Random(seed)
    work = []
    for index, short in enumerate(TASKS):
        count = n // len(TASKS) + (index < n % len(TASKS))
        options = _options(short)
        labels = options or list(YES_NO)
        docs = []
        for i in range(count):
            answer = rng.choice(labels)
            doc = {
                "id": f"{short}-{i}",
                "task": short,
                "modality": "image" if i % 2 else "video",
                "source": "bench",
                "answer": answer,
                "options": options,
                "question": "",
                "text": "",
                "media": "",
                "media_path": "",
                "split": "test",
            }
            docs.append((doc, _outputs(labels, answer, i, rng)))
        work.append((f"emobench_{short}", docs))

    started = time.perf_counter()
    accuracies = {}
    for lmms_task, docs in work:
        task = tasks[lmms_task]
        output = TaskOutput.from_taskdict(lmms_task, task)
        for doc, text in docs:
            for metric, value in task.process_results(doc, [text]).items():
                output.sample_metrics[(metric, "none")].append(value)
        output.calculate_aggregate_metric(bootstrap_iters=100000)
        accuracies[lmms_task] = output.agg_metrics["accuracy,none"]
    seconds = time.perf_counter() - started
    return {
        "n": sum(len(docs) for _, docs in work),
        "seconds": seconds,
        "per_second": sum(len(docs) for _, docs in work) / seconds,
        "accuracy": accuracies,
    }


def tiny_checkpoint(folder: Path) -> Path:
    """An untrained tiny LLaVA+MVP checkpoint, built through LLaVA's own initialize_vision_modules."""
    import torch

    import emollm_plugin
    from emollm_plugin.llava_glue.args import EmoModelArguments
    from emollm_plugin.tiny.llava import build_tiny_model

    emollm_plugin.register()
    from llava.model import LlavaLlamaForCausalLM
    from transformers import AutoTokenizer

    tiny = build_tiny_model(folder / "tiny")
    torch.manual_seed(0)
    model = LlavaLlamaForCausalLM.from_pretrained(tiny / "llm")
    args = EmoModelArguments(model_name_or_path=str(tiny / "llm"), vision_tower=str(tiny / "vision"),
                             mm_vision_select_layer=-2, mm_projector_type="mvp", version="emollm_v1")
    model.get_model().initialize_vision_modules(model_args=args)
    model.config.mm_use_im_start_end = False
    model.config.mm_use_im_patch_token = False
    out = folder / "checkpoint"
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny / "llm", use_fast=False).save_pretrained(out)
    return out


def bench_model(samples: int = 64, device: str = "cpu", max_new_tokens: int = 16, repeats: int = 3) -> dict:
    """Generation samples/s at batch 1 and batch 8, alternating the two, median of ``repeats``."""
    import statistics

    from PIL import Image

    from emollm_plugin.llava_glue.inference import load_runner

    with tempfile.TemporaryDirectory() as scratch:
        runner = load_runner(str(tiny_checkpoint(Path(scratch))), device=device)
        rng = random.Random(0)
        images = [Image.new("RGB", (32, 32), tuple(rng.randrange(256) for _ in range(3))) for _ in range(samples)]
        question = "Identify the only emotion depicted in the given image from the following options: [anger, joy]."
        times: dict[int, list[float]] = {1: [], 8: []}
        for _ in range(repeats):
            for batch in (1, 8):
                started = time.perf_counter()
                for i in range(0, samples, batch):
                    chunk = images[i:i + batch]
                    runner.generate([question] * len(chunk), [[im] for im in chunk], max_new_tokens=max_new_tokens)
                times[batch].append(time.perf_counter() - started)
    rate = {batch: samples / statistics.median(values) for batch, values in times.items()}
    return {"device": device, "samples": samples, "per_second": rate, "ratio": rate[8] / rate[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=EMOBENCH_SIZE, help="predictions to score (default 287000)")
    parser.add_argument("--samples", type=int, default=64, help="samples per model-throughput arm (default 64)")
    parser.add_argument("--device", default="cpu", help="device for the model half (default cpu)")
    parser.add_argument("--skip-model", action="store_true", help="only the scoring half")
    args = parser.parse_args(argv)
    model = None
    if not args.skip_model:
        model = bench_model(args.samples, args.device)
        for batch, rate in model["per_second"].items():
            print(f"  emollm model, batch {batch}: {rate:.1f} samples/s ({model['device']})")
    result = bench_scoring(args.n)
    for task, accuracy in result["accuracy"].items():
        print(f"  {task}: accuracy {100 * accuracy:.1f}% (synthetic outputs)")
    line = (
        f"scoring {result['n']} predictions (process_results + aggregation): {result['seconds']:.2f} s "
        f"({result['per_second']:.0f}/s; target <= 10 s)"
    )
    if model:
        line += f"; emollm batch 8 vs 1: ratio {model['ratio']:.2f} on {model['device']} (GPU target >= 3)"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
