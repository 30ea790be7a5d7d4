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

from emollm_plugin.mvp.config import MVPConfig, add_fields, from_values, options

ORDERS = ("sequential", "joint", "emotional_only")
PROJECTORS = ("mvp", "mlp2x_gelu")
#: Who writes EmoPrompt rationales: "auto" is "synthetic" on synthetic data and "local" otherwise.
TEACHERS = ("auto", "synthetic", "local", "api", "none")
#: Generation room at evaluation: a bare answer, or a rationale and its answer line.
ANSWER_TOKENS, RATIONALE_TOKENS = 64, 160


@dataclass
@add_fields
class PipelineConfig:
    """Everything one EmoLLM run depends on (every field is also an ablation axis)."""

    out: str = "emollm_demo"
    # Data: an EmoBench folder, or None to synthesize one.
    emobench_dir: str | None = None
    synth_per_task: int = 64
    synth_test_per_task: int = 20
    synth_frames: int = 4
    synth_difficulty: str = "easy"
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
    # MVP: the projector, and every MVP option as a field mvp_X (added by @add_fields from MVPConfig).
    projector: str = "mvp"
    # EmoPrompt: rationale targets from a teacher (TEACHERS; "none" = bare answers), then k
    # exemplars per question at training and evaluation. teacher_model: local = a checkpoint
    # (None = the objective-stage model), api = the model name at teacher_base_url.
    teacher: str = "auto"
    teacher_model: str | None = None
    teacher_base_url: str = "https://api.openai.com/v1"
    teacher_api_key_env: str = "OPENAI_API_KEY"
    teacher_limit: int | None = None  # training records sent to the teacher (None = all)
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
    max_new_tokens: int | None = None  # None: ANSWER_TOKENS, or RATIONALE_TOKENS with rationales
    device: str = "cpu"

    def __post_init__(self) -> None:
        from emollm_plugin.emoprompt.template import FAMILIES

        if self.tiny_llm_type not in FAMILIES:
            raise ValueError(f"tiny_llm_type must be one of {', '.join(FAMILIES)}, got {self.tiny_llm_type!r}")
        if self.version is None:
            family = "llama" if self.model_name_or_path else self.tiny_llm_type
            self.version = FAMILIES[family]
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.projector not in PROJECTORS:
            raise ValueError(f"projector must be one of {', '.join(PROJECTORS)}, got {self.projector!r}")
        self.mvp()  # the MVP options are valid (errors name the --mvp_* flag)
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        from emollm_plugin.emobench.synth import DIFFICULTIES

        if self.synth_difficulty not in DIFFICULTIES:
            raise ValueError(f"synth_difficulty must be one of {', '.join(DIFFICULTIES)}, got {self.synth_difficulty!r}")
        if self.teacher not in TEACHERS:
            raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {self.teacher!r} "
                             "(a checkpoint is teacher: local with teacher_model: PATH)")
        if self.teacher == "auto":
            self.teacher = "local" if self.emobench_dir else "synthetic"
        if self.k > 0 and self.teacher == "none":
            raise ValueError("k > 0 needs rationales: set teacher to synthetic, local or api")
        if self.teacher == "local" and not self.teacher_model and self.order != "sequential":
            raise ValueError(f"teacher 'local' without teacher_model is the objective-stage model, which order "
                             f"{self.order!r} does not train; set teacher_model to a checkpoint or use order "
                             "'sequential'")
        if self.teacher == "api" and not self.teacher_model:
            raise ValueError("teacher 'api' needs teacher_model (e.g. gpt-4o) and teacher_base_url")
        if self.max_new_tokens is None:
            self.max_new_tokens = ANSWER_TOKENS if self.teacher == "none" else RATIONALE_TOKENS

    def mvp(self) -> MVPConfig:
        """The MVP options of this run."""
        return from_values(self)

    @classmethod
    def from_dict(cls, data: dict) -> PipelineConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown pipeline option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)


#: The PipelineConfig fields each stage reads. A stage's folder is named after a hash of these
#: fields' values and of its key (the upstream folders and files it reads), so changing a field
#: re-runs the stages that read it and, through their new folder names, everything downstream.
TRAIN_FIELDS = ("version", "projector", "num_frames", "batch_size", "learning_rate", "seed", "device", "train_args")
STAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "emobench": ("synth_per_task", "synth_test_per_task", "synth_frames", "synth_difficulty", "seed"),
    "tiny-model": ("tiny_llm_type", "seed"),
    "objective-data": ("objective_count", "seed"),
    "train-objective": TRAIN_FIELDS,
    # and the teacher's identity (its checkpoint, or model@url) and the EmoBench folder, as its key
    "rationales": ("teacher", "teacher_limit", "num_frames", "device"),
    "exemplars": ("k", "exemplar_seed"),
    "emotional-data": (),
    "joint-data": ("seed",),
    "train-emotional": (*TRAIN_FIELDS, "k", "exemplar_seed"),
    "train-joint": (*TRAIN_FIELDS, "k", "exemplar_seed"),
    "eval": ("eval_limit", "eval_batch_size", "max_new_tokens", "device", "num_frames", "k", "exemplar_seed"),
}


def stage_config(name: str, config: PipelineConfig) -> dict:
    """The values of the fields stage ``name`` reads (training stages: every ``mvp_*`` option too)."""
    fields = list(STAGE_FIELDS[name])  # a KeyError here: a new stage must declare what it reads
    if name.startswith("train-"):
        fields += sorted(f.name for f in dataclasses.fields(config) if f.name.startswith("mvp_"))
    return {field_name: getattr(config, field_name) for field_name in fields}


def fingerprint(*parts: object) -> str:
    """A short stable hash of a stage's inputs."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


class Pipeline:
    """Runs the stages of one :class:`PipelineConfig`, reusing finished ones."""

    def __init__(self, config: PipelineConfig, log: Callable[[str], None] = print, work: str | Path | None = None,
                 dry_run: bool = False):
        self.config = config
        self.out = Path(config.out).resolve()
        self.work = Path(work).resolve() if work else self.out / "stages"
        self.log = log
        self.timings: dict[str, float] = {}
        self._rationales_dir: Path | None = None
        #: dry_run: name the stage folders (``planned``) without building any.
        self.dry_run = dry_run
        self.planned: dict[str, Path] = {}
        #: What the teacher did (the rationales stage's summary.json) and how many stage-2 targets are rationales.
        self.rationale_summary: dict | None = None
        self.rationale_targets: tuple[int, int] | None = None

    # -- stage bookkeeping ---------------------------------------------------------------
    def stage(self, name: str, key: tuple, build: Callable[[Path], None]) -> Path:
        folder = self.work / f"{name}-{fingerprint(name, key, stage_config(name, self.config))}"
        self.planned[name] = folder
        if self.dry_run:
            return folder
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
                    show: Callable[[str], str | None] | None = None, accept: tuple[int, ...] = (0,)) -> int:
        """Run a plugin command, teeing its output to ``log_file``; fail with the log's tail unless its
        exit code is in ``accept``, which is returned."""
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
        if code not in accept:
            tail = "".join(log_file.read_text(encoding="utf-8").splitlines(keepends=True)[-40:])
            raise RuntimeError(f"command failed with exit code {code} (full log: {log_file}):\n{tail}")
        return code

    # -- stages ----------------------------------------------------------------------------
    def data(self) -> Path:
        c = self.config
        if c.emobench_dir:
            return Path(c.emobench_dir).resolve()

        def build(folder: Path) -> None:
            from emollm_plugin.emobench.synth import synthesize

            synthesize(folder, per_task=c.synth_per_task, test_per_task=c.synth_test_per_task,
                       seed=c.seed, frames=c.synth_frames, difficulty=c.synth_difficulty)

        return self.stage("emobench", (), build)  # what it reads: STAGE_FIELDS["emobench"]

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
            from emollm_plugin.llava_glue.launch import train_argv

            extra = ["--lr_scheduler_type", "cosine", "--warmup_ratio", "0.03", "--weight_decay", "0.0"]
            if c.k > 0 and exemplars:
                extra += ["--emoprompt_k", str(c.k), "--emoprompt_exemplars", str(self.exemplars())]
            command = train_argv(
                model=init, vision_tower=vision, version=c.version, data_path=data, image_folder=image_folder,
                output_dir=folder / "model", projector=c.projector,
                mvp=c.mvp() if c.projector == "mvp" else None, num_frames=c.num_frames, max_steps=steps,
                batch_size=c.batch_size, learning_rate=c.learning_rate, model_max_length=1024, logging_steps=5,
                save_steps=max(10, steps // 2), seed=c.seed, use_cpu=c.device == "cpu",
                extra=[*extra, *c.train_args],
            )
            self.run_command(command, folder / "train.log", show=_loss_line(steps))

        return self.stage(name, (*key, vision, str(image_folder)), build) / "model"

    def make_teacher(self, records: list, local_model: str | None) -> tuple[object, str]:
        """The configured teacher for ``records`` and its name (recorded with every rationale)."""
        c = self.config
        if c.teacher == "synthetic":
            from emollm_plugin.emoprompt.synthetic_teacher import SyntheticTeacher

            return SyntheticTeacher.for_bench(self.data(), records, c.num_frames), "synthetic"
        if c.teacher == "api":
            from emollm_plugin.emoprompt.teachers import OpenAITeacher

            teacher = OpenAITeacher(c.teacher_base_url, c.teacher_model, api_key_env=c.teacher_api_key_env or None)
            return teacher, f"openai:{c.teacher_model}@{c.teacher_base_url}"
        from emollm_plugin.llava_glue.local_teacher import LocalTeacher

        return LocalTeacher(str(local_model), device=c.device, num_frames=c.num_frames), f"local:{local_model}"

    def rationales(self, local_model: str | None) -> Path:
        """Ground-truth-guided rationales for ``teacher_limit`` training records (all by default)."""
        c = self.config
        emobench = self.data()
        identity = {"synthetic": str(emobench), "api": f"{c.teacher_model}@{c.teacher_base_url}"}.get(
            c.teacher, str(local_model))

        def build(folder: Path) -> None:
            from emollm_plugin.emoprompt.rationales import (
                format_summary,
                generate_rationales,
                load_records_for_run,
            )

            records, _ = load_records_for_run(_all_records(emobench, folder))
            if c.teacher_limit is not None:
                records = _spread(records, c.teacher_limit)
            teacher, name = self.make_teacher(records, local_model)
            try:
                # Strict: a reply must end in the "Answer: X" line the prompt asks for. A bare label that
                # happens to be right is not a rationale, and training on it only adds noise.
                summary = generate_rationales(records, teacher, folder, emobench, num_frames=c.num_frames,
                                              teacher_name=name, require_answer_line=True, progress=False)
            finally:
                getattr(teacher, "close", lambda: None)()
            self.log(format_summary(summary))
            asked = summary["this_run"]
            if asked["processed"] and asked["failed"] == asked["processed"]:  # not marked done: a rerun retries
                errors = "; ".join(summary.get("example_errors", [])[:2])
                raise RuntimeError(f"rationales: all {asked['processed']} teacher requests failed ({errors}); "
                                   f"see {folder / 'summary.json'}, fix the teacher and rerun")

        folder = self.stage("rationales", (c.teacher, identity, str(emobench)), build)
        summary = folder / "summary.json"
        self.rationale_summary = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else None
        return folder

    def exemplars(self) -> Path:
        c = self.config

        def build(folder: Path) -> None:
            from emollm_plugin.emoprompt.exemplars import select_all, write_exemplars
            from emollm_plugin.emoprompt.rationales import load_accepted

            accepted = list(load_accepted(self._rationales_dir).values())
            selection = select_all(accepted, c.k, c.exemplar_seed)
            short = {t: len(v) for t, v in selection.items() if len(v) < c.k}
            if short or not selection:
                self.log(f"[emollm] note: fewer than k={c.k} accepted rationales for {short or 'every task'}")
            write_exemplars(folder / "exemplars.json", selection)

        return self.stage("exemplars", (str(self._rationales_dir),), build) / "exemplars.json"

    def emotional_data(self, rationales: Path | None) -> Path:
        emobench = self.data()

        def build(folder: Path) -> None:
            from emollm_plugin.emoprompt.rationales import (
                build_llava_items,
                load_accepted,
                load_records_for_run,
            )

            records, _ = load_records_for_run(_all_records(emobench, folder))
            accepted = load_accepted(rationales) if rationales else {}
            items, stats = build_llava_items(records, accepted, emobench, answer_only=rationales is None)
            (folder / "llava.json").write_text(json.dumps(items))
            used = sum(s.get("rationale", 0) for s in stats.values())
            (folder / "targets.json").write_text(json.dumps({"samples": len(items), "rationale": used}))
            self.log(f"[emollm] emotional data: {len(items)} samples, {used} with an accepted rationale")

        folder = self.stage("emotional-data", (str(emobench), str(rationales)), build)
        targets = json.loads((folder / "targets.json").read_text()) if (folder / "targets.json").exists() else None
        self.rationale_targets = (targets["rationale"], targets["samples"]) if targets else None
        return folder / "llava.json"

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
            from emollm_plugin.lmms_glue.evaluate import UNREADABLE_ANSWERS

            # Exit code 3: a whole, accounted run in which some task's answers were all unreadable. That is
            # a score (0% for the task); every other failure (1) stops the pipeline, old results or not.
            if self.run_command(command, folder / "eval.log", accept=(0, UNREADABLE_ANSWERS)) == UNREADABLE_ANSWERS:
                self.log(f"[emollm] eval: some task had no readable answer; scores kept (see {folder / 'eval.log'})")

        return self.stage("eval", (str(model), str(emobench)), build) / "lmms_eval"

    # -- the whole run ---------------------------------------------------------------------
    def run(self) -> Path:
        """Execute every stage; return the lmms-eval run folder."""
        c = self.config
        if not self.dry_run:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(c), indent=2))
        self.data()
        llm, _ = self.base_model()
        objective, objective_images = self.objective_data()
        # MVP options after the first three count only when changed: stages finished before they were
        # pipeline fields keep their fingerprints.
        later = tuple((o.flag, getattr(c, o.flag)) for o in options()[3:] if getattr(c, o.flag) != o.default)
        mvp_key = (c.projector, c.mvp_tau, c.mvp_perspectives, c.mvp_fusion, c.version, c.seed, c.batch_size,
                   c.learning_rate, c.num_frames, tuple(c.train_args), *later)
        emobench = self.data()
        init = llm
        if c.order == "sequential":
            init = str(self.train("train-objective", llm, objective, objective_images, c.objective_steps,
                                  (llm, str(objective), c.objective_steps, *mvp_key), exemplars=False))
        if c.teacher != "none":
            self._rationales_dir = self.rationales(c.teacher_model or init)
            if c.k > 0:
                self.exemplars()  # a stage of its own; training and evaluation read the same file
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

        key = (str(objective), str(objective_images), str(emotional))
        return self.stage("joint-data", key, build) / "llava.json"


def _all_records(emobench: Path, work: Path) -> Path:
    """One JSONL of every record of an EmoBench folder (its ``records/*.jsonl`` concatenated).

    Several files are merged into ``work`` (the stage's folder), never into the EmoBench folder:
    the pipeline reads its inputs and writes only its own stages.
    """
    files = sorted((emobench / "records").glob("*.jsonl"))
    if len(files) == 1:
        return files[0]
    merged = work / "records.all.jsonl"
    with merged.open("wb") as out:  # bytes: a line that is not UTF-8 reaches the reader, which reports it
        for file in files:
            data = file.read_bytes()
            out.write(data if data.endswith(b"\n") or not data else data + b"\n")
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


def plan_stages(config: PipelineConfig, work: str | Path | None = None) -> dict[str, Path]:
    """The stage folders a run of ``config`` uses, by stage name, without building anything."""
    pipeline = Pipeline(config, log=lambda _: None, work=work, dry_run=True)
    pipeline.run()
    return pipeline.planned
