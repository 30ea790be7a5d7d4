"""EmoLLM end to end: data → base model → objective stage → EmoPrompt → emotional stage → EmoBench.

One :class:`PipelineConfig` describes a run; :func:`run_pipeline` executes its stages, each a
real command of the plugin (training and evaluation run in their own processes, exactly as a
user would launch them) writing into a folder a person can open. A stage's folder is named
after a hash of everything it depends on and holds a ``.done`` marker when finished, so a rerun
skips finished stages and several runs (``emollm ablate`` arms) share the stages they have in
common.

Defaults run offline on CPU in minutes: a synthetic EmoBench, the tiny model, and step counts
sized for two cores. Real runs name real data and models (see the README).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ORDERS = ("sequential", "joint", "emotional_only")
PROJECTORS = ("mvp", "mlp2x_gelu")


@dataclass
class PipelineConfig:
    """Everything one EmoLLM run depends on (every field is also an ablation axis)."""

    out: str = "emollm_demo"
    # Data: an EmoBench folder, or None to synthesize one.
    emobench_dir: str | None = None
    synth_per_task: int = 64
    synth_test_per_task: int = 20
    synth_frames: int = 4
    # Base model: a LLaVA-trainable LLM + CLIP tower, or None for the tiny offline model of
    # family tiny_llm_type (llama, mistral or mpt). version: the conversation template that fits
    # the base; None = that family's EmoPrompt template.
    model_name_or_path: str | None = None
    vision_tower: str | None = None
    tiny_llm_type: str = "llama"
    version: str | None = None
    # Stage 1 data: LLaVA-format objective instructions, or None for the synthetic set.
    objective_data: str | None = None
    objective_image_folder: str | None = None
    objective_count: int = 120
    # MVP.
    projector: str = "mvp"
    mvp_tau: float = 0.5
    mvp_perspectives: str = "local,relational,global"
    mvp_fusion: str = "gate"
    # EmoPrompt: rationales from a teacher ("stage1" = the objective-stage model, "none" = off),
    # then k exemplars per question at training and evaluation.
    teacher: str = "stage1"
    teacher_limit: int = 48
    k: int = 0
    exemplar_seed: int = 0
    # Training.
    order: str = "sequential"
    objective_steps: int = 20
    emotional_steps: int = 200
    batch_size: int = 16
    learning_rate: float = 3e-3
    num_frames: int = 2
    seed: int = 0
    train_args: list[str] = field(default_factory=list)
    # Evaluation.
    eval_limit: int | None = None
    eval_batch_size: int = 8
    max_new_tokens: int = 64
    device: str = "cpu"

    def __post_init__(self) -> None:
        from emollm_plugin.emoprompt.template import DEFAULT_TEMPLATE_FOR_MODEL_TYPE
        from emollm_plugin.tiny.llava import LLM_TYPES

        if self.tiny_llm_type not in LLM_TYPES:
            raise ValueError(f"tiny_llm_type must be one of {', '.join(LLM_TYPES)}, got {self.tiny_llm_type!r}")
        if self.version is None:
            family = "llama" if self.model_name_or_path else self.tiny_llm_type
            self.version = DEFAULT_TEMPLATE_FOR_MODEL_TYPE[family]
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.projector not in PROJECTORS:
            raise ValueError(f"projector must be one of {', '.join(PROJECTORS)}, got {self.projector!r}")
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        if self.k > 0 and self.teacher == "none":
            raise ValueError("k > 0 needs rationales: set teacher to 'stage1' (or a checkpoint path)")
        if self.k > 0 and self.teacher == "stage1" and self.order != "sequential":
            raise ValueError(f"teacher 'stage1' is the objective-stage model, which order {self.order!r} "
                             "does not train; use order 'sequential' or a teacher checkpoint path")

    @classmethod
    def from_dict(cls, data: dict) -> PipelineConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown pipeline option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)


def fingerprint(*parts: object) -> str:
    """A short stable hash of a stage's inputs."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


class Pipeline:
    """Runs the stages of one :class:`PipelineConfig`, reusing finished ones."""

    def __init__(self, config: PipelineConfig, log: Callable[[str], None] = print, work: str | Path | None = None):
        self.config = config
        self.out = Path(config.out).resolve()
        self.work = Path(work).resolve() if work else self.out / "stages"
        self.log = log
        self.timings: dict[str, float] = {}
        self._rationales_dir: Path | None = None

    # -- stage bookkeeping ---------------------------------------------------------------
    def stage(self, name: str, key: tuple, build: Callable[[Path], None]) -> Path:
        folder = self.work / f"{name}-{fingerprint(name, key)}"
        marker = folder / ".done"
        if marker.exists():
            self.log(f"[emollm] {name}: reusing {folder}")
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        self.log(f"[emollm] {name}: running -> {folder}")
        started = time.time()
        build(folder)
        self.timings[name] = time.time() - started
        marker.write_text(json.dumps({"stage": name, "seconds": round(self.timings[name], 1)}))
        self.log(f"[emollm] {name}: done in {self.timings[name]:.0f} s")
        return folder

    def run_command(self, command: list[str], log_file: Path, env: dict | None = None,
                    show: Callable[[str], str | None] | None = None) -> None:
        """Run a plugin command, teeing its output to ``log_file``; fail with the log's tail."""
        self.log("  $ " + " ".join(command))
        with log_file.open("a", encoding="utf-8") as handle:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, **(env or {})},
            )
            assert process.stdout is not None
            for line in process.stdout:
                handle.write(line)
                message = show(line) if show else None
                if message:
                    self.log(message)
            code = process.wait()
        if code != 0:
            tail = "".join(log_file.read_text(encoding="utf-8").splitlines(keepends=True)[-40:])
            raise RuntimeError(f"command failed with exit code {code} (full log: {log_file}):\n{tail}")

    # -- stages ----------------------------------------------------------------------------
    def data(self) -> Path:
        c = self.config
        if c.emobench_dir:
            return Path(c.emobench_dir).resolve()

        def build(folder: Path) -> None:
            from emollm_plugin.emobench.synth import synthesize

            synthesize(folder, per_task=c.synth_per_task, test_per_task=c.synth_test_per_task,
                       seed=c.seed, frames=c.synth_frames)

        return self.stage("emobench", (c.synth_per_task, c.synth_test_per_task, c.synth_frames, c.seed), build)

    def base_model(self) -> tuple[str, str]:
        c = self.config
        if c.model_name_or_path:
            if not c.vision_tower:
                raise ValueError("model_name_or_path needs vision_tower (e.g. openai/clip-vit-large-patch14-336)")
            return c.model_name_or_path, c.vision_tower

        def build(folder: Path) -> None:
            from emollm_plugin.tiny.llava import build_tiny_model

            build_tiny_model(folder, llm_type=c.tiny_llm_type, seed=c.seed)

        folder = self.stage("tiny-model", (c.seed, c.tiny_llm_type), build)
        return str(folder / "llm"), str(folder / "vision")

    def objective_data(self) -> tuple[Path, Path]:
        c = self.config
        if c.objective_data:
            data = Path(c.objective_data).resolve()
            return data, Path(c.objective_image_folder or data.parent).resolve()

        def build(folder: Path) -> None:
            from emollm_plugin.tiny.objective_data import write_objective_data

            write_objective_data(folder, count=c.objective_count, seed=c.seed)

        folder = self.stage("objective-data", (c.objective_count, c.seed), build)
        return folder / "llava.json", folder

    def train(self, name: str, init: str, data: Path, image_folder: Path, steps: int, key: tuple,
              exemplars: bool = True) -> Path:
        c = self.config
        _, vision = self.base_model()

        def build(folder: Path) -> None:
            command = [
                sys.executable, "-m", "emollm_plugin.train",
                "--model_name_or_path", init, "--vision_tower", vision, "--version", c.version,
                "--data_path", str(data), "--image_folder", str(image_folder),
                "--mm_projector_type", c.projector, "--mm_vision_select_layer", "-2",
                "--mm_use_im_start_end", "False", "--mm_use_im_patch_token", "False",
                "--mvp_tau", str(c.mvp_tau), "--mvp_perspectives", c.mvp_perspectives,
                "--mvp_fusion", c.mvp_fusion, "--num_frames", str(c.num_frames),
                "--output_dir", str(folder / "model"), "--max_steps", str(steps),
                "--per_device_train_batch_size", str(c.batch_size), "--learning_rate", str(c.learning_rate),
                "--lr_scheduler_type", "cosine", "--warmup_ratio", "0.03", "--weight_decay", "0.0",
                "--model_max_length", "1024", "--logging_steps", "5", "--save_strategy", "steps",
                "--save_steps", str(max(10, steps // 2)), "--save_total_limit", "1", "--seed", str(c.seed),
                "--report_to", "none", "--dataloader_num_workers", "0", "--lazy_preprocess", "True",
            ]
            if c.device == "cpu":
                command += ["--use_cpu", "True"]
            if c.k > 0 and exemplars:
                command += ["--emoprompt_k", str(c.k), "--emoprompt_exemplars", str(self.exemplars())]
            command += c.train_args
            self.run_command(command, folder / "train.log", show=_loss_line(steps))

        return self.stage(name, key, build) / "model"

    def rationales(self, teacher_model: Path) -> Path:
        """Ground-truth-guided rationales for the first ``teacher_limit`` training records."""
        c = self.config
        emobench = self.data()

        def build(folder: Path) -> None:
            from emollm_plugin.emoprompt.rationales import (
                format_summary,
                generate_rationales,
                load_records_for_run,
            )
            from emollm_plugin.llava_glue.local_teacher import LocalTeacher

            records, _ = load_records_for_run(_all_records(emobench))
            records = _spread(records, c.teacher_limit)
            teacher = LocalTeacher(str(teacher_model), device=c.device, num_frames=c.num_frames)
            # Strict: a reply must end in the "Answer: X" line the prompt asks for. A bare label that
            # happens to be right is not a rationale, and training on it only adds noise.
            summary = generate_rationales(records, teacher, folder, emobench, num_frames=c.num_frames,
                                          teacher_name=str(teacher_model), require_answer_line=True,
                                          progress=False)
            self.log(format_summary(summary))

        return self.stage("rationales", (str(teacher_model), c.teacher_limit, c.num_frames), build)

    def exemplars(self) -> Path:
        c = self.config
        folder = self.work / f"exemplars-{fingerprint(c.k, c.exemplar_seed, str(self._rationales_dir))}"
        path = folder / "exemplars.json"
        if not path.exists():
            from emollm_plugin.emoprompt.exemplars import select_all, write_exemplars
            from emollm_plugin.emoprompt.rationales import load_accepted

            accepted = list(load_accepted(self._rationales_dir).values())
            selection = select_all(accepted, c.k, c.exemplar_seed)
            short = {t: len(v) for t, v in selection.items() if len(v) < c.k}
            if short or not selection:
                self.log(f"[emollm] note: fewer than k={c.k} accepted rationales for {short or 'every task'}")
            write_exemplars(path, selection)
        return path

    def emotional_data(self, rationales: Path | None) -> Path:
        emobench = self.data()

        def build(folder: Path) -> None:
            from emollm_plugin.emoprompt.rationales import (
                build_llava_items,
                load_accepted,
                load_records_for_run,
            )

            records, _ = load_records_for_run(_all_records(emobench))
            accepted = load_accepted(rationales) if rationales else {}
            items, stats = build_llava_items(records, accepted, emobench, answer_only=rationales is None)
            (folder / "llava.json").write_text(json.dumps(items))
            used = sum(s.get("rationale", 0) for s in stats.values())
            self.log(f"[emollm] emotional data: {len(items)} samples, {used} with an accepted rationale")

        return self.stage("emotional-data", (str(emobench), str(rationales)), build) / "llava.json"

    def evaluate(self, model: Path) -> Path:
        c = self.config
        emobench = self.data()

        def build(folder: Path) -> None:
            command = [
                sys.executable, "-m", "emollm_plugin.cli", "eval", "--model", "emollm",
                "--model_args", f"pretrained={model},device={c.device},num_frames={c.num_frames}",
                "--tasks", "emobench", "--emobench-dir", str(emobench), "--output", str(folder / "lmms_eval"),
                "--batch-size", str(c.eval_batch_size), "--max-new-tokens", str(c.max_new_tokens),
                "--label", Path(self.out).name,
            ]
            if c.eval_limit:
                command += ["--limit", str(c.eval_limit)]
            if c.k > 0:
                command += ["--k", str(c.k), "--exemplars", str(self.exemplars())]
            try:
                self.run_command(command, folder / "eval.log")
            except RuntimeError:
                # emollm eval also fails a finished run whose answers for a task were all unreadable.
                # That is a score (0% for the task), not a broken stage, when all six were scored.
                from emollm_plugin.lmms_glue.results import ResultsError, load_run

                try:
                    finished = load_run(folder / "lmms_eval").complete
                except (ResultsError, OSError):
                    finished = False
                if not finished:
                    raise
                self.log(f"[emollm] eval: some task had no readable answer; scores kept (see {folder / 'eval.log'})")

        return self.stage("eval", (str(model), str(emobench), c.eval_limit, c.k, c.max_new_tokens), build) / "lmms_eval"

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> Path:
        """Execute every stage; return the lmms-eval run folder."""
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(c), indent=2))
        self.data()
        llm, _ = self.base_model()
        objective, objective_images = self.objective_data()
        mvp_key = (c.projector, c.mvp_tau, c.mvp_perspectives, c.mvp_fusion, c.version, c.seed, c.batch_size,
                   c.learning_rate, c.num_frames, tuple(c.train_args))
        emobench = self.data()
        init = llm
        if c.order == "sequential":
            init = str(self.train("train-objective", llm, objective, objective_images, c.objective_steps,
                                  (llm, str(objective), c.objective_steps, *mvp_key), exemplars=False))
        teacher = {"none": None, "stage1": init if c.order == "sequential" else None}.get(c.teacher, c.teacher)
        if teacher:
            self._rationales_dir = self.rationales(Path(teacher))
        emotional = self.emotional_data(self._rationales_dir)
        if c.order == "joint":
            joint = self.joint_data(objective, objective_images, emotional)
            steps = c.objective_steps + c.emotional_steps
            model = self.train("train-joint", llm, joint, emobench, steps, (llm, str(joint), steps, c.k, *mvp_key))
        else:
            model = self.train("train-emotional", init, emotional, emobench, c.emotional_steps,
                               (init, str(emotional), c.emotional_steps, c.k, *mvp_key))
        return self.evaluate(model)

    def joint_data(self, objective: Path, objective_images: Path, emotional: Path) -> Path:
        """Objective and emotional samples in one shuffled list, every media path absolute."""

        def build(folder: Path) -> None:
            import random

            items = []
            for sample in json.loads(objective.read_text()):
                sample = dict(sample)
                sample["image"] = str((objective_images / sample["image"]).resolve())
                items.append(sample)
            items += json.loads(emotional.read_text())
            random.Random(self.config.seed).shuffle(items)
            (folder / "llava.json").write_text(json.dumps(items))

        return self.stage("joint-data", (str(objective), str(emotional), self.config.seed), build) / "llava.json"


def _all_records(emobench: Path) -> Path:
    """One JSONL of every record of an EmoBench folder (its ``records/*.jsonl`` concatenated)."""
    files = sorted((emobench / "records").glob("*.jsonl"))
    if len(files) == 1:
        return files[0]
    merged = emobench / "records.all.jsonl"
    merged.write_text("".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
    return merged


def _spread(records: list, limit: int) -> list:
    """Up to ``limit`` records taken round-robin over tasks, so every task gets rationales."""
    by_task: dict[str, list] = {}
    for record in records:
        by_task.setdefault(record.task, []).append(record)
    chosen, queues = [], list(by_task.values())
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


def _loss_line(total: int) -> Callable[[str], str | None]:
    """Turn LLaVA/HF trainer log lines into short progress messages."""
    seen = {"step": 0}

    def show(line: str) -> str | None:
        match = re.search(r"'loss': ([0-9.]+)", line)
        if match:
            seen["step"] += 1
            return f"  loss {float(match.group(1)):.3f}  (log {seen['step']}, {total} steps in all)"
        if "'train_runtime'" in line:
            runtime = re.search(r"'train_runtime': ([0-9.]+)", line)
            return f"  trained {total} steps in {float(runtime.group(1)):.0f} s" if runtime else None
        return None

    return show


def run_pipeline(config: PipelineConfig, log: Callable[[str], None] = print, work: str | Path | None = None) -> Path:
    return Pipeline(config, log=log, work=work).run()
