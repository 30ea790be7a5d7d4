"""Pipeline stage keys: changing an option re-runs exactly the stages that read it, and what follows them.

The plan (``plan_stages``) names every stage folder a run would use without building anything, so
each option is checked against the dependency graph below in milliseconds. The graph is written
from what each stage does, independently of ``pipeline.STAGE_FIELDS``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from emollm_plugin.apps.pipeline import Pipeline, PipelineConfig, _all_records, plan_stages

#: Base run: every stage present (sequential order, the stage-1 model as local teacher, k > 0).
BASE = {"teacher": "local", "k": 2}

#: Stage -> the stages that read its output.
FEEDS = {
    "emobench": {"rationales", "emotional-data", "train-emotional", "eval"},
    "tiny-model": {"train-objective", "train-emotional"},
    "objective-data": {"train-objective"},
    "train-objective": {"rationales", "train-emotional"},
    "rationales": {"exemplars", "emotional-data"},
    "exemplars": {"train-emotional", "eval"},
    "emotional-data": {"train-emotional"},
    "train-emotional": {"eval"},
    "eval": set(),
}

TRAINING = {"train-objective", "train-emotional"}

#: Option -> (another valid value, the stages that read the option directly).
CHANGES: dict[str, tuple[object, set[str]]] = {
    "out": ("elsewhere", set()),  # the stage folders live in the shared work folder
    "emobench_dir": ("/data/emobench", {"emobench"}),  # the synthetic stage is replaced by the folder
    "synth_per_task": (8, {"emobench"}),
    "synth_test_per_task": (3, {"emobench"}),
    "synth_frames": (2, {"emobench"}),
    "synth_difficulty": ("hard", {"emobench"}),
    "vision_tower": ("/models/clip", set()),  # only read with model_name_or_path
    "tiny_llm_type": ("mistral", {"tiny-model"} | TRAINING),  # and its template
    "version": ("emollm_mpt", TRAINING),
    "objective_data": ("/data/objective.json", {"objective-data", "train-objective"}),
    "objective_image_folder": ("/data/images", set()),  # only read with objective_data
    "objective_count": (30, {"objective-data"}),
    "projector": ("mlp2x_gelu", TRAINING),
    "mvp_perspectives": ("local,global", TRAINING),
    "mvp_tau": (0.2, TRAINING),
    "mvp_fusion": ("sum", TRAINING),
    "mvp_global_pool": ("attention", TRAINING),
    "mvp_global_tokens": (1, TRAINING),
    "mvp_hidden_size": (48, TRAINING),
    "teacher": ("synthetic", {"rationales"}),
    "teacher_model": ("/models/teacher", {"rationales"}),
    "teacher_base_url": ("http://localhost:1/v1", set()),  # only read by the api teacher
    "teacher_api_key_env": ("OTHER_KEY", set()),  # where the key is, not what is asked
    "teacher_limit": (12, {"rationales"}),
    "k": (3, {"exemplars", "train-emotional", "eval"}),
    "exemplar_seed": (1, {"exemplars", "train-emotional", "eval"}),
    "objective_steps": (5, {"train-objective"}),
    "emotional_steps": (5, {"train-emotional"}),
    "batch_size": (4, TRAINING),
    "learning_rate": (1e-3, TRAINING),
    "num_frames": (4, TRAINING | {"rationales", "eval"}),
    "seed": (1, {"emobench", "tiny-model", "objective-data"} | TRAINING),
    "train_args": (["--weight_decay", "0.1"], TRAINING),
    "eval_limit": (5, {"eval"}),
    "eval_batch_size": (2, {"eval"}),
    "max_new_tokens": (32, {"eval"}),
    "device": ("cuda", TRAINING | {"rationales", "eval"}),
}
#: Options that change which stages exist rather than what one stage computes (tested below).
STRUCTURAL = {"order", "model_name_or_path"}


def downstream(stages: set[str]) -> set[str]:
    """``stages`` and every stage that reads their output, transitively."""
    out, todo = set(), list(stages)
    while todo:
        stage = todo.pop()
        if stage not in out:
            out.add(stage)
            todo.extend(FEEDS[stage])
    return out


def changed(before: dict[str, Path], after: dict[str, Path]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def test_every_option_is_covered_by_this_test() -> None:
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    assert fields == set(CHANGES) | STRUCTURAL, "classify the new option in CHANGES or STRUCTURAL"


def test_the_base_run_has_every_stage(tmp_path: Path) -> None:
    assert set(plan_stages(PipelineConfig(**BASE), tmp_path)) == set(FEEDS)


@pytest.mark.parametrize("option", sorted(CHANGES))
def test_changing_an_option_reruns_exactly_its_stages(option: str, tmp_path: Path) -> None:
    value, readers = CHANGES[option]
    assert getattr(PipelineConfig(**BASE), option) != value
    before = plan_stages(PipelineConfig(**BASE), tmp_path)
    after = plan_stages(PipelineConfig(**{**BASE, option: value}), tmp_path)
    assert changed(before, after) == downstream(readers)


@pytest.mark.parametrize(("option", "value", "readers"), [
    ("objective_image_folder", "/data/other-images", {"train-objective"}),
    ("vision_tower", "/models/other-clip", TRAINING),
])
def test_options_read_only_with_another_option(option: str, value: str, readers: set[str], tmp_path: Path) -> None:
    base = {**BASE, "objective_data": "/data/objective.json", "objective_image_folder": "/data/images",
            "model_name_or_path": "/models/llm", "vision_tower": "/models/clip"}
    before = plan_stages(PipelineConfig(**base), tmp_path)
    after = plan_stages(PipelineConfig(**{**base, option: value}), tmp_path)
    assert changed(before, after) == downstream(readers)


def test_structural_options_swap_stages(tmp_path: Path) -> None:
    base = plan_stages(PipelineConfig(**BASE), tmp_path)
    external = plan_stages(PipelineConfig(**BASE, model_name_or_path="/models/llm", vision_tower="/models/clip"),
                           tmp_path)
    assert "tiny-model" not in external and changed(base, external) == downstream({"tiny-model"})
    joint = plan_stages(PipelineConfig(**{**BASE, "teacher": "synthetic", "order": "joint"}), tmp_path)
    assert {"train-joint", "joint-data"} <= set(joint) and not {"train-objective", "train-emotional"} & set(joint)
    assert joint["emobench"] == base["emobench"] and joint["tiny-model"] == base["tiny-model"]


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    plan_stages(PipelineConfig(**BASE, out=str(tmp_path / "out")), tmp_path / "work")
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()


def test_merged_records_are_written_to_the_stage_never_into_the_emobench_folder(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    (bench / "records").mkdir(parents=True)
    (bench / "records" / "a.jsonl").write_text('{"id": "a"}\n')
    (bench / "records" / "b.jsonl").write_text('{"id": "b"}')  # no final newline
    before = sorted(p.name for p in bench.rglob("*"))
    (tmp_path / "stage").mkdir()
    merged = _all_records(bench, tmp_path / "stage")
    assert merged.parent == tmp_path / "stage"
    assert [json.loads(line)["id"] for line in merged.read_text().splitlines()] == ["a", "b"]
    assert sorted(p.name for p in bench.rglob("*")) == before


def test_a_rationales_stage_whose_requests_all_failed_is_not_marked_done(tmp_path: Path) -> None:
    from emollm_plugin.emobench.synth import synthesize

    bench = synthesize(tmp_path / "bench", per_task=2, test_per_task=1, frames=2)
    config = PipelineConfig(emobench_dir=str(bench), teacher="api", teacher_model="m",
                            teacher_base_url="http://127.0.0.1:9/v1", teacher_api_key_env="", teacher_limit=3)
    pipeline = Pipeline(config, log=lambda _: None, work=tmp_path / "work")
    with pytest.raises(RuntimeError, match="rationales: all 3 teacher requests failed"):
        pipeline.rationales(None)
    folder = pipeline.planned["rationales"]
    assert folder.is_dir() and not (folder / ".done").exists()
    assert not (bench / "records.all.jsonl").exists()
