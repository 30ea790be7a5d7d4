"""Training cost of MVP against LLaVA's mlp2x_gelu: steps/s and peak memory, side by side in one run.

Part 1, always (CPU): the real train entry, ``python -m emollm_plugin.train`` (LLaVA's ``train()``),
on a tiny offline LLaVA base and the image records of a synthetic EmoBench, one fresh subprocess per
run with ``--max_steps N``; the two arms alternate (mlp2x, mvp, mvp, mlp2x, ...) after one untimed
warm-up run, and the median over the repeats is reported.
  - time: ``train_runtime`` from the run's trainer_state.json (the Trainer's own clock around its N
    optimizer steps, first step included, model loading excluded); steps/s = N / train_runtime.
  - memory: peak resident set of the training process, ``ru_maxrss`` of that one child as returned by
    ``os.wait4`` (the kernel's high-water mark; no polling). At tiny width it is mostly the
    interpreter, torch and LLaVA, so expect the two arms to be equal there.

Part 2, on CUDA (or forced with ``--wide on``): the same comparison at a realistic width, in one
process, bf16: random 1024-dim vision features at 576 tokens per image (a frozen CLIP ViT-L/14-336's
output; no downloads) -> the projector, built by LLaVA's ``build_vision_projector`` -> a randomly
initialised Llama with hidden 4096 and a few layers, with text tokens after the image; one step =
forward, backward and an AdamW step over the LLM and the projector (a full fine-tune step). Time:
CUDA-synchronised wall time per step, arms interleaved, median. Memory: ``torch.cuda.max_memory_allocated``
during the step minus the allocation before it (activations, gradients, optimizer temporaries).
On CPU this part is skipped with a note, unless ``--wide on`` (then use small --wide-* sizes).

    .venv/bin/python bench/train.py                      # CPU: ~2 minutes on 2 cores
    .venv/bin/python bench/train.py --steps 40 --repeats 5
    .venv/bin/python bench/train.py --wide on --wide-hidden 256 --wide-layers 1 --wide-tokens 64 \\
        --wide-vision 128 --wide-repeats 3           # the realistic-width code path, shrunk, on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ARMS = ("mlp2x_gelu", "mvp")
MiB = 1024**2


# -- part 1: the train entry on CPU ------------------------------------------------------------------


def prepare_tiny(work: Path, hidden: int, layers: int, image_size: int) -> tuple[Path, Path]:
    """A tiny LLaVA base and an image-only LLaVA JSON (videos would add decoding noise)."""
    from emollm_plugin.emobench.synth import synthesize
    from emollm_plugin.tiny.llava import build_tiny_model

    tiny = build_tiny_model(work / "tiny", hidden=hidden, layers=layers, image_size=image_size)
    bench = synthesize(work / "emobench", per_task=16, test_per_task=0, size=image_size)
    samples = json.loads((bench / "llava" / "train.json").read_text())
    images = [s for s in samples if "image" in s]
    data = work / "train_images.json"
    data.write_text(json.dumps(images))
    return tiny, data


def train_command(tiny: Path, data: Path, out: Path, arm: str, steps: int, batch: int) -> list[str]:
    from emollm_plugin.llava_glue.launch import train_argv
    from emollm_plugin.mvp import MVPConfig

    return train_argv(
        model=tiny / "llm", vision_tower=tiny / "vision", data_path=data, image_folder=data.parent / "emobench",
        output_dir=out, projector=arm, mvp=MVPConfig() if arm == "mvp" else None, max_steps=steps,
        batch_size=batch, learning_rate=1e-3, model_max_length=512, logging_steps=steps, seed=0,
    )


def run_once(command: list[str], out: Path, log: Path, threads: int) -> dict:
    """One training run: its train_runtime and the child's peak RSS (from ``os.wait4``)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
           "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"training run failed ({process.returncode}); log {log}:\n{tail}")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    summary = next(entry for entry in reversed(history) if "train_runtime" in entry)
    return {
        "runtime_s": summary["train_runtime"],
        "peak_rss_mib": usage.ru_maxrss * 1024 / MiB,
        "process_cpu_s": usage.ru_utime + usage.ru_stime,  # whole process, start-up included
    }


def bench_entry(args: argparse.Namespace, work: Path) -> dict[str, list[dict]]:
    tiny, data = prepare_tiny(work, args.hidden, args.layers, args.image_size)
    warm = work / "warmup"
    run_once(train_command(tiny, data, warm, ARMS[0], 1, args.batch), warm, work / "warmup.log", args.threads)
    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    total = args.repeats * len(ARMS)
    for repeat in range(args.repeats):
        for arm in ARMS if repeat % 2 == 0 else ARMS[::-1]:
            out = work / f"{arm}-{repeat}"
            command = train_command(tiny, data, out, arm, args.steps, args.batch)
            result = run_once(command, out, work / f"{out.name}.log", args.threads)
            results[arm].append(result)
            done = sum(len(v) for v in results.values())
            print(f"  [{done}/{total}] {arm:<10} {result['runtime_s']:.2f} s, {result['peak_rss_mib']:.0f} MiB",
                  file=sys.stderr)
    return results


def report_entry(results: dict[str, list[dict]], args: argparse.Namespace) -> float:
    tokens = (args.image_size // 8) ** 2
    print(f"\ntrain entry on CPU: tiny LLaVA (Llama hidden {args.hidden} x {args.layers} layers, "
          f"{tokens} visual tokens), batch {args.batch}, {args.steps} steps, {args.threads} thread(s), "
          f"median of {args.repeats} runs each")
    print(f"{'arm':<12}{'train_runtime s':>16}{'steps/s':>10}{'peak RSS MiB':>14}  runtimes")
    medians = {}
    for arm in ARMS:
        runtimes = [r["runtime_s"] for r in results[arm]]
        medians[arm] = statistics.median(runtimes)
        rss = statistics.median(r["peak_rss_mib"] for r in results[arm])
        listed = ", ".join(f"{t:.2f}" for t in runtimes)
        print(f"{arm:<12}{medians[arm]:>16.3f}{args.steps / medians[arm]:>10.2f}{rss:>14.0f}  {listed}")
    ratio = medians["mvp"] / medians["mlp2x_gelu"]
    spread = max(max(r["runtime_s"] for r in runs) / min(r["runtime_s"] for r in runs) for runs in results.values())
    if spread > 1.3:
        print(f"note: runs of one arm differ by up to {spread:.1f}x: other load on the machine; rerun or add --repeats")
    return ratio


# -- part 2: realistic width, in process -------------------------------------------------------------


def build_wide(args: argparse.Namespace, device: str):
    """A random Llama (no downloads) and both projectors, built by LLaVA's own builder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import emollm_plugin
    from emollm_plugin.mvp import MVPConfig

    emollm_plugin.register()
    from llava.model.multimodal_projector import builder

    torch.manual_seed(0)
    heads = max(1, args.wide_hidden // 128)
    config = LlamaConfig(
        hidden_size=args.wide_hidden, intermediate_size=int(args.wide_hidden * 2.6875), num_hidden_layers=args.wide_layers,
        num_attention_heads=heads, num_key_value_heads=heads, vocab_size=32000,
        max_position_embeddings=4096, attn_implementation="sdpa",
    )
    dtype = torch.bfloat16
    with torch.device(device):  # initialise on the device: a 4096-wide Llama is slow to initialise on CPU
        llm = LlamaForCausalLM(config).to(dtype=dtype)
    projectors = {}
    for arm in ARMS:
        options = SimpleNamespace(
            mm_projector_type=arm, mm_hidden_size=args.wide_vision, hidden_size=args.wide_hidden,
            **MVPConfig().to_flags(),
        )
        projectors[arm] = builder.build_vision_projector(options).to(device=device, dtype=dtype)
    params = list(llm.parameters()) + [p for module in projectors.values() for p in module.parameters()]
    # One optimizer: a step skips parameters without gradients, so each arm updates the LLM and its own
    # projector, and the LLM's optimizer state is allocated once for both arms.
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    return llm, projectors, optimizer


def wide_inputs(args: argparse.Namespace, device: str):
    import torch

    generator = torch.Generator().manual_seed(1)
    features = torch.randn(args.wide_batch, args.wide_tokens, args.wide_vision, generator=generator)
    text = torch.randint(3, 32000, (args.wide_batch, args.wide_text), generator=generator)
    return features.to(device=device, dtype=torch.bfloat16), text.to(device)


def wide_step(llm, projector, optimizer, features, text) -> None:
    """A full fine-tune step: image tokens then text tokens; loss on the text only (as LLaVA masks)."""
    import torch

    visual = projector(features)
    embeds = torch.cat([visual, llm.get_input_embeddings()(text)], dim=1)
    ignore = torch.full(visual.shape[:2], -100, dtype=text.dtype, device=text.device)
    loss = llm(inputs_embeds=embeds, labels=torch.cat([ignore, text], dim=1)).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def bench_wide(args: argparse.Namespace, device: str) -> dict[str, dict]:
    import torch

    cuda = device.startswith("cuda")
    llm, projectors, optimizer = build_wide(args, device)
    features, text = wide_inputs(args, device)

    def timed(arm: str) -> tuple[float, float | None]:
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        start = time.perf_counter()
        wide_step(llm, projectors[arm], optimizer, features, text)
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        peak = (torch.cuda.max_memory_allocated() - before) / MiB if cuda else None
        return elapsed, peak

    for arm in ARMS:  # warm-up: kernels, allocator, optimizer state
        for _ in range(2):
            timed(arm)
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    peaks: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for repeat in range(args.wide_repeats):
        for arm in ARMS if repeat % 2 == 0 else ARMS[::-1]:
            elapsed, peak = timed(arm)
            times[arm].append(elapsed)
            if peak is not None:
                peaks[arm].append(peak)
    return {
        arm: {
            "step_ms": statistics.median(times[arm]) * 1000,
            "step_peak_mib": max(peaks[arm]) if peaks[arm] else None,
            "projector_params": sum(p.numel() for p in projectors[arm].parameters()),
        }
        for arm in ARMS
    }


def report_wide(results: dict[str, dict], args: argparse.Namespace, device_name: str) -> float:
    print(f"\nwide comparison on {device_name}, bf16: {args.wide_batch} x {args.wide_tokens} visual tokens "
          f"({args.wide_vision}-dim) -> projector -> Llama {args.wide_hidden} x {args.wide_layers} layers "
          f"+ {args.wide_text} text tokens; forward, backward, AdamW; median of {args.wide_repeats}")
    print(f"{'arm':<12}{'step ms':>10}{'step peak MiB':>15}{'projector params':>18}")
    for arm in ARMS:
        row = results[arm]
        peak = f"{row['step_peak_mib']:.0f}" if row["step_peak_mib"] is not None else "n/a"
        print(f"{arm:<12}{row['step_ms']:>10.1f}{peak:>15}{row['projector_params']:>18,}")
    return results["mvp"]["step_ms"] / results["mlp2x_gelu"]["step_ms"]


# -- command line -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cpu = parser.add_argument_group("part 1: the train entry on the tiny model (CPU)")
    cpu.add_argument("--steps", type=int, default=100, help="optimizer steps per run (100)")
    cpu.add_argument("--repeats", type=int, default=3, help="runs per arm (3)")
    cpu.add_argument("--batch", type=int, default=4, help="per-device batch (4)")
    cpu.add_argument("--hidden", type=int, default=128, help="tiny LLM hidden size (128)")
    cpu.add_argument("--layers", type=int, default=2, help="tiny LLM layers (2)")
    cpu.add_argument("--image-size", type=int, default=64, help="pixels, a multiple of 32; 8-px patches (64)")
    cpu.add_argument("--threads", type=int, default=1,
                     help="torch threads per run (1: with 2 threads, a core taken by another process "
                     "stalls every parallel region and the timings scatter by 10x or more)")
    cpu.add_argument("--skip-entry", action="store_true", help="skip part 1")
    cpu.add_argument("--work", type=Path, help="folder for the tiny model and runs (default: a temporary one)")
    wide = parser.add_argument_group("part 2: realistic width (CUDA)")
    wide.add_argument("--wide", choices=("auto", "on", "off"), default="auto",
                      help="auto: run when CUDA is available; on: run on --device anyway (default auto)")
    wide.add_argument("--device", default=None, help="device for part 2 (default: cuda if available, else cpu)")
    wide.add_argument("--wide-hidden", type=int, default=4096, help="LLM hidden size (4096, Vicuna-7B)")
    wide.add_argument("--wide-layers", type=int, default=2, help="LLM layers (2)")
    wide.add_argument("--wide-vision", type=int, default=1024, help="vision feature width (1024, CLIP ViT-L)")
    wide.add_argument("--wide-tokens", type=int, default=576, help="visual tokens per image (576)")
    wide.add_argument("--wide-text", type=int, default=64, help="text tokens per sample (64)")
    wide.add_argument("--wide-batch", type=int, default=4, help="images per step (4)")
    wide.add_argument("--wide-repeats", type=int, default=10, help="timed steps per arm (10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    figures: dict = {}
    if not args.skip_entry:
        with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
            work = args.work or Path(scratch)
            work.mkdir(parents=True, exist_ok=True)
            results = bench_entry(args, work.resolve())
        figures["entry_cpu"] = {"runs": results, "ratio": report_entry(results, args)}

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.wide == "off" or (args.wide == "auto" and not device.startswith("cuda")):
        print("\nrealistic width: skipped (no CUDA device; run on a GPU machine, or force with --wide on)")
    else:
        name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "CPU"
        results = bench_wide(args, device)
        figures["wide"] = {"device": name, "results": results, "ratio": report_wide(results, args, name)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    # The figures, last, so a script can read them from the final lines (the wide one last when it ran).
    if "entry_cpu" in figures:
        print(f"\nratio {figures['entry_cpu']['ratio']:.3f} (mvp/mlp2x_gelu train_runtime, CPU, tiny model through "
              f"the train entry, median of {args.repeats})")
    if "wide" in figures:
        print(f"ratio {figures['wide']['ratio']:.3f} (mvp/mlp2x_gelu step time, {figures['wide']['device']}, "
              f"LLM hidden {args.wide_hidden}, median of {args.wide_repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
