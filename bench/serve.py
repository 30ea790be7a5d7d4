"""Requests/s of ``emollm serve`` at concurrency 8 over concurrency 1, with answers checked against unbatched runs.

A tiny MVP checkpoint is made on the spot (``bench/eval.py``'s ``tiny_checkpoint``; or ``--model
CKPT``), loaded once, and served in-process by the real server (Starlette on uvicorn, the batching
worker) on a free loopback port. The same ``--requests`` chat completions (one image each, a
different colour per request, greedy, ``--max-tokens`` tokens) are sent first by one client, one
after the other, then by 8 clients at once. Every answer of both runs must equal what
``EmoLLMRunner.generate`` gives for that request alone (batch of one); the bench fails otherwise.
Target: >= 3x on the tiny model.

Run: ``.venv/bin/python bench/serve.py [--requests 64] [--max-tokens 16] [--device cpu]``; the last
line prints the ratio.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

QUESTION = "Identify the only emotion depicted in the given image from the following options: [anger, joy, fear]."


def _images(count: int):
    from PIL import Image

    rng = random.Random(0)
    return [Image.new("RGB", (32, 32), tuple(rng.randrange(256) for _ in range(3))) for _ in range(count)]


def _data_url(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _run(url: str, bodies: list[dict], concurrency: int) -> tuple[float, list[str]]:
    import httpx

    answers: list[str] = [""] * len(bodies)

    def worker(indices: list[int]) -> None:
        with httpx.Client(timeout=300) as client:
            for i in indices:
                reply = client.post(url + "/chat/completions", json=bodies[i])
                reply.raise_for_status()
                answers[i] = reply.json()["choices"][0]["message"]["content"]

    shards = [list(range(start, len(bodies), concurrency)) for start in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, shards))
    return len(bodies) / (time.perf_counter() - started), answers


def bench(model: str | None, requests: int, max_tokens: int, device: str, max_batch: int, window_ms: float) -> dict:
    from emollm_plugin.apps.serve import ChatService, Limits, running_in_thread
    from emollm_plugin.llava_glue.inference import load_runner

    with tempfile.TemporaryDirectory() as scratch:
        if model is None:
            import emollm_plugin

            emollm_plugin.register()  # LLaVA's classes with the plugin's, before the checkpoint is built
            from eval import tiny_checkpoint

            model = str(tiny_checkpoint(Path(scratch)))
        runner = load_runner(model, device=device)
        images = _images(requests)
        alone = [runner.generate([QUESTION], [[image]], max_new_tokens=max_tokens)[0] for image in images]
        bodies = [{"model": "bench", "max_tokens": max_tokens, "temperature": 0,
                   "messages": [{"role": "user", "content": [
                       {"type": "image_url", "image_url": {"url": _data_url(image)}},
                       {"type": "text", "text": QUESTION}]}]} for image in images]
        service = ChatService(runner, "bench", limits=Limits(max_batch=max_batch, batch_window_s=window_ms / 1000))
        with running_in_thread(service) as base:
            url = base + "/v1"
            _run(url, bodies[:4], 1)  # warm-up
            service.batcher.batches.clear()
            one, answers_one = _run(url, bodies, 1)
            batches_one = list(service.batcher.batches)
            service.batcher.batches.clear()
            eight, answers_eight = _run(url, bodies, 8)
            batches_eight = list(service.batcher.batches)
    mismatches = sum(a != b for a, b in zip(alone, answers_one, strict=True)) + sum(
        a != b for a, b in zip(alone, answers_eight, strict=True))
    return {"one": one, "eight": eight, "ratio": eight / one, "mismatches": mismatches,
            "mean_batch_one": sum(batches_one) / len(batches_one),
            "mean_batch_eight": sum(batches_eight) / len(batches_eight),
            "empty_answers": sum(not a for a in alone)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint to serve (default: a tiny MVP checkpoint made on the spot)")
    parser.add_argument("--requests", type=int, default=64, help="requests per arm (default 64)")
    parser.add_argument("--max-tokens", type=int, default=16, help="answer length (default 16)")
    parser.add_argument("--max-batch", type=int, default=8, help="the server's batch cap (default 8)")
    parser.add_argument("--window-ms", type=float, default=100.0, help="the server's batch window (default 100)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = parser.parse_args(argv)
    result = bench(args.model, args.requests, args.max_tokens, args.device, args.max_batch, args.window_ms)
    print(f"concurrency 1: {result['one']:.2f} requests/s (mean batch {result['mean_batch_one']:.2f}); "
          f"concurrency 8: {result['eight']:.2f} requests/s (mean batch {result['mean_batch_eight']:.2f})")
    print(f"answers equal to unbatched generation: {2 * args.requests - result['mismatches']} of "
          f"{2 * args.requests} ({result['empty_answers']} of the reference answers are empty)")
    if result["mismatches"]:
        print("FAILED: batched answers differ from unbatched ones", file=sys.stderr)
        return 1
    print(f"requests/s at concurrency 8 over concurrency 1: {result['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
