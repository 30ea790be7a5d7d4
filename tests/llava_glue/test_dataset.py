"""The plugin's LLaVA dataset: video records, EmoPrompt exemplars, and skipping unreadable media."""

from __future__ import annotations

import json

import pytest

import emollm_plugin


@pytest.fixture(scope="module")
def data_args(tiny_model):
    emollm_plugin.register()
    from llava import conversation
    from transformers import CLIPImageProcessor

    from emollm_plugin.llava_glue.args import EmoDataArguments

    conversation.default_conversation = conversation.conv_templates["emollm_v1"]
    args = EmoDataArguments(data_path="unused", image_folder="", is_multimodal=True, num_frames=3)
    args.image_processor = CLIPImageProcessor.from_pretrained(tiny_model / "vision")
    args.mm_use_im_start_end = False
    return args


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model / "llm", use_fast=False)
    tok.pad_token = tok.unk_token
    return tok


def write_samples(folder, samples):
    path = folder / "train.json"
    path.write_text(json.dumps(samples))
    return path


def sample(sid, key, path, answer="joy", task="emo_c"):
    return {"id": sid, key: str(path), "task": task,
            "conversations": [{"from": "human", "value": "<image>\nWhich emotion?"}, {"from": "gpt", "value": answer}]}


def test_video_record_becomes_a_frame_block_behind_one_image_token(trained, data_args, tokenizer, tmp_path):
    from emollm_plugin.llava_glue.dataset import EmoLLMSupervisedDataset

    _, emobench = trained
    video = next((emobench / "media").rglob("*.mp4"))
    image = next((emobench / "media").rglob("*.png"))
    data = write_samples(tmp_path, [sample("v", "video", video), sample("i", "image", image)])
    data_args.data_path = str(data)
    dataset = EmoLLMSupervisedDataset(str(data), tokenizer, data_args)
    item_video, item_image = dataset[0], dataset[1]
    assert item_video["image"].shape == (3, 3, 32, 32)  # T frames, one <image> token
    assert item_image["image"].shape == (3, 32, 32)
    assert (item_video["input_ids"] == -200).sum() == 1
    assert (item_video["labels"] != -100).any(), "the answer must be learned, not masked"
    assert dataset.modality_lengths[0] > 0 and dataset.modality_lengths[1] > 0


def test_unreadable_media_is_skipped_logged_and_reported(trained, data_args, tokenizer, tmp_path):
    from emollm_plugin.llava_glue.dataset import EmoLLMSupervisedDataset, TooManyBadSamples, skipped_samples

    _, emobench = trained
    good = next((emobench / "media").rglob("*.png"))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:40])
    not_video = tmp_path / "clip.mp4"
    not_video.write_text("not a video")
    data = write_samples(tmp_path, [
        sample("bad-image", "image", truncated), sample("missing", "image", tmp_path / "nope.png"),
        sample("bad-video", "video", not_video), sample("good", "image", good),
    ])
    dataset = EmoLLMSupervisedDataset(str(data), tokenizer, data_args, skip_log=tmp_path / "skipped_samples.jsonl")
    item = dataset[0]  # falls through three bad samples to the good one
    assert item["image"].shape == (3, 32, 32)
    skipped = skipped_samples(tmp_path)
    assert [s["id"] for s in skipped] == ["bad-image", "missing", "bad-video"]
    assert all(s["error"] for s in skipped)

    data_args.max_media_retries = 1
    try:
        with pytest.raises(TooManyBadSamples, match="emollm data validate"):
            dataset[0]
    finally:
        data_args.max_media_retries = 16


def test_exemplars_go_into_the_first_human_turn_but_never_the_sample_itself(tmp_path):
    from emollm_plugin.emoprompt.exemplars import EXEMPLAR_HEADER, Exemplar
    from emollm_plugin.llava_glue.dataset import add_exemplars

    exemplars = {"emo_c": [Exemplar("s1", "emo_c", "Q1?", "Red means anger.", "anger"),
                           Exemplar("s2", "emo_c", "Q2?", "Yellow means joy.", "joy")]}
    other = add_exemplars(sample("s9", "image", "x.png"), exemplars, k=2)
    turn = other["conversations"][0]["value"]
    assert turn.startswith("<image>\n" + EXEMPLAR_HEADER) and turn.endswith("Which emotion?")
    assert "Red means anger." in turn and "Yellow means joy." in turn
    itself = add_exemplars(sample("s1", "image", "x.png"), exemplars, k=2)["conversations"][0]["value"]
    assert "Red means anger." not in itself and "Yellow means joy." in itself
    assert add_exemplars(sample("s9", "image", "x.png"), exemplars, k=0)["conversations"][0]["value"] == \
        "<image>\nWhich emotion?"
    # A task without exemplars is left as it is.
    hate = add_exemplars(sample("s9", "image", "x.png", task="hate"), exemplars, k=2)
    assert hate["conversations"][0]["value"] == "<image>\nWhich emotion?"


def test_malformed_samples_are_skipped_and_logged_at_run_time(trained, data_args, tokenizer, tmp_path):
    from emollm_plugin.llava_glue.dataset import EmoLLMSupervisedDataset, skipped_samples

    _, emobench = trained
    good = next((emobench / "media").rglob("*.png"))
    no_turns = {**sample("no-turns", "image", good), "conversations": []}
    singular = {k: v for k, v in sample("singular", "image", good).items() if k != "conversations"}
    singular["conversation"] = sample("x", "image", good)["conversations"]
    no_value = sample("no-value", "image", good)
    del no_value["conversations"][1]["value"]
    data = write_samples(tmp_path, [no_turns, singular, no_value, sample("good", "image", good)])
    dataset = EmoLLMSupervisedDataset(str(data), tokenizer, data_args, skip_log=tmp_path / "skipped_samples.jsonl")
    assert len(dataset.lengths) == 4  # LLaVA's length-grouped sampler reads these before any item
    item = dataset[0]  # falls through the three malformed samples to the good one
    assert item["image"].shape == (3, 32, 32)
    skipped = skipped_samples(tmp_path)
    assert [(s["id"], s["index"]) for s in skipped] == [("no-turns", 0), ("singular", 1), ("no-value", 2)]
    assert "'conversations' must be a non-empty list" in skipped[0]["error"]
    assert "has 'conversation'; LLaVA reads 'conversations'" in skipped[1]["error"]
    assert "turn 1 has no text 'value'" in skipped[2]["error"]
