"""The EmoBench lmms-eval tasks, loaded by lmms-eval's own TaskManager from the installed task folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from emollm_plugin.emobench.media import UNREADABLE_MEDIA_ANSWER
from emollm_plugin.emobench.records import Record, write_records
from emollm_plugin.emobench.scoring import score, score_task
from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.evaluate import tasks_dir
from tests.emobench_fixtures import ANSWERS, build_emobench

LMMS_TASKS = [f"emobench_{task}" for task in TASKS]


@pytest.fixture(scope="module")
def manager():
    """lmms-eval's TaskManager with its ~2000 built-in tasks and ours, as the CLI builds it."""
    from lmms_eval.tasks import TaskManager

    return TaskManager(include_path=str(tasks_dir()))


@pytest.fixture(scope="module")
def emobench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_emobench(tmp_path_factory.mktemp("emobench"))


def load(manager, names: list[str]) -> dict:
    """``{task name: Task}`` for task or group names, through lmms-eval's get_task_dict."""
    from lmms_eval.tasks import get_task_dict

    loaded = get_task_dict(names, manager)
    flat = {}
    for key, value in loaded.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


@pytest.fixture
def tasks(manager, emobench: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("EMOBENCH_DIR", str(emobench))
    monkeypatch.delenv("EMOBENCH_K", raising=False)
    monkeypatch.delenv("EMOBENCH_EXEMPLARS", raising=False)
    return load(manager, ["emobench"])


def test_task_files_are_indexed_and_not_shadowed_by_builtins(manager) -> None:
    folder = tasks_dir()
    for name in LMMS_TASKS:
        entry = manager.task_index[name]
        assert entry["type"] == "python_task"  # built through utils.EmoBenchTask
        assert Path(entry["yaml_path"]).parent == folder
    assert manager.task_index["emobench"]["type"] == "group"
    assert Path(manager.task_index["emobench"]["yaml_path"]) == folder / "emobench.yaml"


def test_group_is_the_unweighted_mean_of_six_accuracies(
    manager, emobench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmms_eval.tasks import get_task_dict

    monkeypatch.setenv("EMOBENCH_DIR", str(emobench))
    loaded = get_task_dict(["emobench"], manager)
    (group,) = loaded
    assert group.group_name == "emobench"
    assert sorted(loaded[group]) == sorted(LMMS_TASKS)
    aggregates = {item["metric"]: item for item in group.config["aggregate_metric_list"]}
    assert aggregates["accuracy"]["aggregation"] == "mean"
    assert aggregates["accuracy"]["weight_by_size"] is False
    # lmms-eval matches group metrics by substring: no other task metric may contain "accuracy"
    for task in loaded[group].values():
        for metric in task.aggregation():
            assert metric == "accuracy" or "accuracy" not in metric


def test_each_task_reads_its_records_from_emobench_dir(tasks: dict, emobench: Path) -> None:
    assert sorted(tasks) == sorted(LMMS_TASKS)
    for name, task in tasks.items():
        short = name.removeprefix("emobench_")
        docs = task.test_docs()
        assert [doc["answer"] for doc in docs] == ANSWERS[short]
        assert all(doc["task"] == short for doc in docs)
        assert task.config.generation_kwargs["until"] == ["\n\n"]  # never a single newline
        assert task.config.generation_kwargs["max_new_tokens"] == 64
        assert task.config.generation_kwargs["temperature"] == 0


def test_visuals_are_images_for_images_and_paths_for_videos(tasks: dict) -> None:
    for task in tasks.values():
        for doc in task.test_docs():
            (visual,) = task.doc_to_visual(doc)
            if doc["modality"] == "image":
                assert isinstance(visual, Image.Image) and visual.mode == "RGB"
            else:
                assert isinstance(visual, str) and visual.endswith(".mp4") and Path(visual).is_file()


def test_prompt_is_the_records_question_by_default(tasks: dict) -> None:
    for task in tasks.values():
        for doc in task.test_docs():
            assert task.doc_to_text(doc) == doc["question"]
    sarcasm = tasks["emobench_sarcasm"].test_docs()[0]
    assert "Nice weather, as always." in tasks["emobench_sarcasm"].doc_to_text(sarcasm)


def test_process_results_parses_and_scores(tasks: dict) -> None:
    emo_c = tasks["emobench_emo_c"]
    doc = emo_c.test_docs()[0]  # answer: joy
    out = emo_c.process_results(doc, ["The smile says it all.\nAnswer: joy"])
    assert out["accuracy"] == 1.0 and out["unparsed_rate"] == 0.0
    assert out["macro_f1"] == {
        "id": "emo_c-0",
        "modality": "image",
        "source": "synthetic",
        "target": "joy",
        "parsed": "joy",
    }
    assert emo_c.process_results(doc, ["sadness"])["accuracy"] == 0.0
    unreadable = emo_c.process_results(doc, [""])
    assert unreadable["accuracy"] == 0.0 and unreadable["unparsed_rate"] == 1.0
    assert unreadable["macro_f1"]["parsed"] is None

    hate = tasks["emobench_hate"]
    hate_doc = hate.test_docs()[1]  # answer: no
    assert hate.process_results(hate_doc, ["No, it is not hateful."])["accuracy"] == 1.0


def test_open_set_reports_strict_next_to_lexicon_mapped(tasks: dict) -> None:
    emo_o = tasks["emobench_emo_o"]
    assert "strict_acc" in emo_o.aggregation()
    doc = emo_o.test_docs()[0]  # answer: joy
    synonym = emo_o.process_results(doc, ["happy"])
    assert synonym["accuracy"] == 1.0 and synonym["strict_acc"] == 0.0
    word = emo_o.process_results(doc, ["joy"])
    assert word["accuracy"] == 1.0 and word["strict_acc"] == 1.0
    assert "strict_acc" not in tasks["emobench_emo_c"].process_results(
        tasks["emobench_emo_c"].test_docs()[0], ["joy"]
    )


def test_aggregations_agree_with_scoring(tasks: dict) -> None:
    task = tasks["emobench_emo_c"]
    docs = task.test_docs()  # joy, sadness, joy, anger
    outputs = ["joy", "joy", "fear", "nothing to see"]
    items = [task.process_results(doc, [text])["macro_f1"] for doc, text in zip(docs, outputs, strict=True)]
    expected = score(
        ["joy", "joy", "fear", None], ["joy", "sadness", "joy", "anger"], ["anger", "fear", "joy", "sadness"]
    )
    aggregation = task.aggregation()
    assert aggregation["macro_f1"](items) == pytest.approx(expected["macro_f1"])
    assert aggregation["uar"](items) == pytest.approx(expected["uar"])
    assert expected["uar"] == pytest.approx((0.5 + 0 + 0) / 3)  # classes absent from the truth do not count
    # one scoring path: lmms-eval's numbers are score_task's over the task's full label set
    whole = score_task("emo_c", outputs, [doc["answer"] for doc in docs], [doc["options"] for doc in docs])
    assert aggregation["macro_f1"](items) == pytest.approx(whole["macro_f1"])
    assert aggregation["uar"](items) == pytest.approx(whole["uar"])


def test_emoprompt_exemplars_go_before_the_question(
    manager, emobench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exemplars = tmp_path / "exemplars.json"
    exemplars.write_text(
        json.dumps(
            {
                "emo_c": [
                    {
                        "id": "train-1",
                        "task": "emo_c",
                        "question": "Which emotion?",
                        "reasoning": "Tears and a frown.",
                        "answer": "sadness",
                    },
                ]
            }
        )
    )
    monkeypatch.setenv("EMOBENCH_DIR", str(emobench))
    monkeypatch.setenv("EMOBENCH_EXEMPLARS", str(exemplars))
    monkeypatch.setenv("EMOBENCH_K", "1")
    task = load(manager, ["emobench_emo_c"])["emobench_emo_c"]
    doc = task.test_docs()[0]
    prompt = task.doc_to_text(doc)
    assert prompt.endswith(doc["question"]) and prompt != doc["question"]
    assert "Tears and a frown.\nAnswer: sadness" in prompt

    # Fewer accepted exemplars than k: the same first ones as training uses, not an error.
    monkeypatch.setenv("EMOBENCH_K", "2")
    assert task.doc_to_text(doc) == prompt
    monkeypatch.delenv("EMOBENCH_EXEMPLARS")
    with pytest.raises(ValueError, match="needs EMOBENCH_EXEMPLARS"):
        task.doc_to_text(doc)


def test_missing_emobench_dir_says_how_to_build_it(
    manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmms_eval.tasks import get_task_dict

    monkeypatch.delenv("EMOBENCH_DIR", raising=False)
    with pytest.raises(
        FileNotFoundError,
        match=r"EMOBENCH_DIR is not set.*emollm data synth --out DIR.*export EMOBENCH_DIR=DIR",
    ):
        get_task_dict(["emobench_hate"], manager)
    monkeypatch.setenv("EMOBENCH_DIR", str(tmp_path))  # exists, but holds no records
    with pytest.raises(
        FileNotFoundError, match=r"task 'hate' not found: .*test/hate\.jsonl.*emollm data build"
    ):
        get_task_dict(["emobench_hate"], manager)


def test_bad_lines_are_skipped_missing_media_counted_and_media_found_beside_the_records(
    manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "bench"
    (root / "test" / "media").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "test" / "media" / "beside.png")  # relative to the records file
    Image.new("RGB", (8, 8)).save(root / "root.png")  # relative to EMOBENCH_DIR
    (root / "cut.png").write_bytes((root / "root.png").read_bytes()[:30])  # exists, cannot be decoded
    question = "Is the given image humorous? Answer yes or no."
    records = [
        Record("ok-root", "humor", "image", "root.png", question, "yes", "s", "test"),
        Record("ok-beside", "humor", "image", "media/beside.png", question, "no", "s", "test"),
        Record("no-media", "humor", "image", "missing.png", question, "no", "s", "test"),
        Record("cut-media", "humor", "image", "cut.png", question, "no", "s", "test"),
        Record(
            "wrong-task",
            "hate",
            "image",
            "root.png",
            "Is the given image hateful? Answer yes or no.",
            "no",
            "s",
            "test",
        ),
    ]
    path = root / "test" / "humor.jsonl"
    write_records(path, records)
    with path.open("a") as handle:
        handle.write("{not json\n")
    monkeypatch.setenv("EMOBENCH_DIR", str(root))
    task = load(manager, ["emobench_humor"])["emobench_humor"]
    docs = task.test_docs()
    assert [doc["id"] for doc in docs] == ["ok-root", "ok-beside", "no-media", "cut-media"]
    assert docs[1]["media_path"] == str((root / "test" / "media" / "beside.png").resolve())
    assert [bool(doc["media_error"]) for doc in docs] == [False, False, True, False]
    assert "media 'missing.png' not found" in docs[2]["media_error"]

    # Missing and unreadable media: asked without any visual, counted as missing, never scored.
    for doc in docs:
        visuals = task.doc_to_visual(doc)
        assert (visuals == []) == (doc["id"] in ("no-media", "cut-media"))
        out = task.process_results(doc, ["yes"])
        if doc["id"] in ("no-media", "cut-media"):
            assert set(out) == {"missing", "scored"} and out["scored"] == 0.0
            assert out["missing"]["id"] == doc["id"] and out["missing"]["problem"]
        else:
            assert out["scored"] == 1.0 and out["missing"]["problem"] is None and "accuracy" in out
    assert "cannot decode image" in task.process_results(docs[3], ["yes"])["missing"]["problem"]
    # Media the model itself failed to decode (a video handed over as a path): its answer says so.
    late = task.process_results(docs[0], [UNREADABLE_MEDIA_ANSWER + "clip.mp4: cannot decode video"])
    assert late == {"missing": {**late["missing"], "problem": "clip.mp4: cannot decode video"}, "scored": 0.0}
    assert late["missing"]["id"] == "ok-root"

    write_records(path, records[2:3])  # nothing usable left
    with pytest.raises(FileNotFoundError, match="no usable EmoBench record"):
        load(manager, ["emobench_humor"])


def test_tasks_read_the_synthetic_emobench(manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder `emollm data synth` writes is what the tasks expect (layout, media paths, fields)."""
    from emollm_plugin.emobench.synth import synthesize

    root = synthesize(tmp_path / "synth", per_task=4, test_per_task=4, frames=2)
    monkeypatch.setenv("EMOBENCH_DIR", str(root))
    for name, task in load(manager, ["emobench"]).items():
        docs = task.test_docs()
        assert len(docs) == 4, name
        assert {doc["modality"] for doc in docs} == {"image", "video"}
        assert all(Path(doc["media_path"]).is_file() for doc in docs)
