"""Video records in DataLoader worker processes, and the frame cache across epochs of a real run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_ok, train_command


@pytest.fixture(scope="module")
def video_bench(tmp_path_factory) -> Path:
    from emollm_plugin.emobench.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("video_bench") / "emobench", per_task=2, test_per_task=1, frames=6)


def train_videos(emobench: Path) -> set[str]:
    samples = json.loads((emobench / "llava" / "train.json").read_text())
    return {str((emobench / s["video"]).resolve()) for s in samples if "video" in s}


def test_forked_dataloader_workers_decode_after_the_parent_did(tiny_model, video_bench, monkeypatch, tmp_path):
    """decord in forked workers, the parent having decoded first, cache off: every clip decodes, no hang."""
    import torch
    from llava import conversation
    from llava.train import train as llava_train
    from transformers import AutoTokenizer, CLIPImageProcessor

    import emollm_plugin
    from emollm_plugin.llava_glue.args import EmoDataArguments
    from emollm_plugin.llava_glue.dataset import EmoLLMSupervisedDataset

    monkeypatch.setenv("EMOLLM_FRAME_CACHE", "off")
    emollm_plugin.register()
    conversation.default_conversation = conversation.conv_templates["emollm_v1"]
    samples = [s for s in json.loads((video_bench / "llava" / "train.json").read_text()) if "video" in s]
    data = tmp_path / "videos.json"
    data.write_text(json.dumps(samples * 3))
    args = EmoDataArguments(data_path=str(data), image_folder=str(video_bench), is_multimodal=True, num_frames=3)
    args.image_processor = CLIPImageProcessor.from_pretrained(tiny_model / "vision")
    args.mm_use_im_start_end = False
    tokenizer = AutoTokenizer.from_pretrained(tiny_model / "llm", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    dataset = EmoLLMSupervisedDataset(str(data), tokenizer, args, skip_log=tmp_path / "skipped.jsonl")
    assert dataset[0]["image"].shape[0] == 3  # the parent decodes (and holds decord) before forking
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=2, num_workers=2, collate_fn=llava_train.DataCollatorForSupervisedDataset(tokenizer),
        multiprocessing_context="fork", timeout=120,
    )
    for _ in range(2):
        batches = list(loader)
        assert sum(b["input_ids"].shape[0] for b in batches) == len(dataset)
        assert all(b["images"].shape[1:] == (3, 3, 32, 32) for b in batches)
    assert not (tmp_path / "skipped.jsonl").exists(), "no clip may fail to decode in a worker"


def test_two_epochs_with_two_workers_decode_each_clip_once(tiny_model, video_bench, tmp_path):
    cache, log = tmp_path / "cache", tmp_path / "decodes.jsonl"
    out = tmp_path / "run"
    command = train_command(
        tiny_model, video_bench / "llava" / "train.json", out, "--num_frames", "3", "--num_train_epochs", "2",
        steps=-1,
    )
    command[command.index("--image_folder") + 1] = str(video_bench)
    command[command.index("--dataloader_num_workers") + 1] = "2"
    output = run_ok(command, env={"EMOLLM_FRAME_CACHE": str(cache), "EMOLLM_FRAME_CACHE_LOG": str(log)})
    assert "'train_loss'" in output and "'epoch': 2.0" in output
    decoded = [json.loads(line) for line in log.read_text().splitlines()]
    counts = Counter(entry["path"] for entry in decoded)
    assert set(counts) == train_videos(video_bench)
    assert set(counts.values()) == {1}, f"clips decoded more than once over 2 epochs: {counts}"
    assert len(list(cache.rglob("*.npy"))) == len(counts)
    assert "skipping sample" not in output
