"""A tiny EmoBench folder and real lmms-eval runs over it, shared by the eval, report and compare tests.

The runs use lmms-eval's built-in ``dummy`` model (a fixed response for every request; with
``read_bytes`` it also opens every video path the task hands it), so they exercise lmms-eval's
real task loading, request building, process_results, aggregation and output files in seconds.
Each run happens once per test session (module-level cache), whichever test module asks first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from emollm_plugin.emobench.records import Record, write_records
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, build_question

#: A response the dummy model gives to every question: it parses as joy (emo_c, emo_o), greet
#: (intent) and yes (hate, humor, sarcasm).
DUMMY_RESPONSE = "joy yes greet"

#: Ground truth per task, image records first then video records.
ANSWERS: dict[str, list[str]] = {
    "emo_c": ["joy", "sadness", "joy", "anger"],
    "emo_o": ["joy", "fear", "surprise", "joy"],
    "intent": ["greet", "thank", "greet", "complain"],
    "hate": ["yes", "no", "no", "no"],
    "humor": ["yes", "yes", "no", "no"],
    "sarcasm": ["yes", "yes", "yes", "no"],
}
#: Accuracy of DUMMY_RESPONSE on ANSWERS; their mean is 0.5.
EXPECTED_ACCURACY = {"emo_c": 0.5, "emo_o": 0.5, "intent": 0.5, "hate": 0.25, "humor": 0.5, "sarcasm": 0.75}

OPTIONS = {"emo_c": LABEL_SETS["ekman7"], "emo_o": LABEL_SETS["ekman7"], "intent": LABEL_SETS["mintrec20"]}


def write_image(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), colour).save(path)


def write_video(path: Path, frames: int = 6, size: int = 32) -> None:
    """A tiny H.264 clip written with PyAV (what the real sources ship)."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            array = np.full((size, size, 3), 40 * i % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def build_emobench(root: Path, answers: dict[str, list[str]] | None = None) -> Path:
    """``root/test/<task>.jsonl`` for the six tasks (2 images + 2 videos each); media relative to ``root``."""
    answers = answers or ANSWERS
    for task in TASKS:
        records = []
        for i, answer in enumerate(answers[task]):
            modality = "image" if i < len(answers[task]) // 2 else "video"
            media = f"media/{task}/{i}.{'png' if modality == 'image' else 'mp4'}"
            if modality == "image":
                write_image(root / media, (40 * i, 100, 200))
            else:
                write_video(root / media)
            options = list(OPTIONS.get(task, ()))
            text = "Nice weather, as always." if task in ("humor", "sarcasm", "hate") else None
            records.append(
                Record(
                    id=f"{task}-{i}",
                    task=task,
                    modality=modality,
                    media=media,
                    question=build_question(task, modality, options if task != "emo_o" else (), text),
                    answer=answer,
                    source="synthetic",
                    split="test",
                    options=options,
                    text=text,
                )
            )
        write_records(root / "test" / f"{task}.jsonl", records)
    return root


@dataclass
class EvalRun:
    """One finished ``emollm eval`` run: its folder, exit status and printed output."""

    out: Path
    returncode: int
    output: str


#: name -> (dummy response or model, extra emollm eval arguments). ``good`` parses in every task,
#: ``unparsed`` in none, ``broken`` names a model lmms-eval does not know (it then logs an error,
#: writes nothing and exits 0).
RUNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "good": ("dummy", ("--model_args", f"response={DUMMY_RESPONSE},read_bytes=16", "--label", "dummy-good")),
    "unparsed": (
        "dummy",
        ("--model_args", "response=banana bread,read_bytes=16", "--label", "dummy-unparsed"),
    ),
    "broken": ("no_such_model_xyz", ()),
}

_RUNS: dict[str, EvalRun] = {}


def eval_command(out: Path, emobench: Path, model: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "emollm_plugin.cli",
        "eval",
        "--model",
        model,
        "--tasks",
        "emobench",
        "--emobench-dir",
        str(emobench),
        "--output",
        str(out),
        *extra,
    ]


def session_runs(base: Path, timeout: int = 600) -> dict[str, EvalRun]:
    """The three :data:`RUNS`, started together (they are mostly lmms-eval start-up) the first time."""
    if not _RUNS:
        emobench = build_emobench(base / "emobench")
        env = {key: value for key, value in os.environ.items() if not key.startswith("EMOBENCH_")}
        procs = {}
        for name, (model, extra) in RUNS.items():
            log = (base / f"{name}.log").open("w")
            command = eval_command(base / name, emobench, model, *extra)
            procs[name] = (
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env),
                log,
            )
        for name, (proc, log) in procs.items():
            proc.wait(timeout=timeout)
            log.close()
            _RUNS[name] = EvalRun(base / name, proc.returncode, (base / f"{name}.log").read_text())
    return _RUNS
