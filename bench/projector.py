"""Cost of MVP against LLaVA's mlp2x_gelu projector: forward+backward time and memory.

Both projectors share W1/W2 (MVP is warm-started from the mlp2x module) and are timed side by side
in one process, repetitions interleaved (the order alternates), median reported. The vision
features do not require grad (LLaVA's tower is frozen), the projector's parameters do.

Memory, on CPU: the peak resident-set growth of one forward+backward in a fresh subprocess
(after a warm-up step: VmHWM reset through /proc/self/clear_refs, peak minus the RSS just before
the step; glibc's mmap threshold pinned so that freed tensors leave the RSS). It includes the new
parameter grads; on CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the step.
Also, on any device: the bytes autograd keeps for backward (saved tensors, deduplicated by storage).

    .venv/bin/python bench/projector.py                # LLaVA-1.5 shapes: 2 x 576 tokens, 1024 -> 4096
    .venv/bin/python bench/projector.py --device cuda --dtype bfloat16 --repeats 20

The last line is the figure: ``ratio R`` (MVP / mlp2x_gelu wall time at the main shape).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from emollm_plugin.mvp import MVPConfig, MVPProjector
from emollm_plugin.mvp.config import add_arguments as add_mvp_arguments
from emollm_plugin.mvp.config import argv, from_values, options

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MiB = 1024**2


def build(variant: str, in_features: int, out_features: int, cfg: MVPConfig, device: str, dtype: torch.dtype):
    """The two projectors with the same trunk weights (seeded, so subprocesses build the same)."""
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(in_features, out_features), nn.GELU(), nn.Linear(out_features, out_features)
    )
    mlp = mlp.to(device=device, dtype=dtype)
    if variant == "mlp2x":
        return mlp
    return MVPProjector.from_mlp2x(mlp, cfg)


def inputs(
    batch: int, tokens: int, in_features: int, out_features: int, device: str, dtype: torch.dtype, extra: int
):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, tokens, in_features, generator=generator).to(device=device, dtype=dtype)
    grad = torch.randn(batch, tokens + extra, out_features, generator=generator).to(
        device=device, dtype=dtype
    )
    return x, grad


def step(module: nn.Module, x: torch.Tensor, grad_out: torch.Tensor) -> None:
    """One forward+backward, as in training (the parameter grads are freed first, outside timing)."""
    module(x).backward(grad_out)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_interleaved(
    runs: dict[str, Callable[[], None]], zero: dict[str, Callable[[], None]], repeats: int, device: str
) -> dict[str, tuple[float, float]]:
    """Median (wall, process-CPU) seconds per run; repetitions interleaved, order alternated.

    CPU time (all threads of this process) is less sensitive than wall time to other processes
    competing for the cores; on CUDA only the wall time means anything.
    """
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            zero[name]()
            sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            sync(device)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in times.items()
    }


def saved_bytes(module: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps for backward during one forward (activation memory of training)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = module(x)
    del out
    return sum(storages.values())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    """The process's peak RSS (VmHWM), which ``_reset_peak_rss`` can reset on Linux >= 4.0."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def memory_probe(args: argparse.Namespace) -> None:
    """Subprocess body: peak RSS growth of one forward+backward of ``args.memory_probe``; prints JSON.

    A first step warms up thread pools and kernel buffers; then the peak is reset and a second step
    (parameter grads freed first, as in training) is measured. Without ``/proc/self/clear_refs`` the
    warm-up is skipped and the lifetime peak is used.
    """
    cfg = mvp_config(args)
    module = build(args.memory_probe, args.in_features, args.out_features, cfg, "cpu", DTYPES[args.dtype])
    extra = cfg.global_tokens if args.memory_probe == "mvp" else 0
    x, grad = inputs(
        args.batch, args.tokens, args.in_features, args.out_features, "cpu", DTYPES[args.dtype], extra
    )
    warmed = _reset_peak_rss()
    if warmed:
        step(module, x, grad)
        module.zero_grad(set_to_none=True)
        gc.collect()
    before = _rss_bytes()
    if warmed:
        _reset_peak_rss()
    step(module, x, grad)
    print(json.dumps({"peak_delta": _peak_rss_bytes() - before, "warmed": warmed}))


def rss_peak_delta(variant: str, args: argparse.Namespace) -> int:
    command = [sys.executable, os.path.abspath(__file__), "--memory-probe", variant]
    for name in ("batch", "tokens", "in_features", "out_features", "dtype", "threads"):
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    command += argv(mvp_config(args), prefix="--")  # the same MVP options, as --mvp_* flags
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return int(json.loads(result.stdout.strip().splitlines()[-1])["peak_delta"])


def cuda_peak_delta(module: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> int:
    module.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step(module, x, grad)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def mvp_config(args: argparse.Namespace) -> MVPConfig:
    return from_values(args)


def compare(
    args: argparse.Namespace, cfg: MVPConfig, batch: int, tokens: int, repeats: int, dtype: torch.dtype
):
    """Median forward+backward seconds of both projectors at one shape, plus saved-tensor bytes."""
    modules = {
        "mlp2x": build("mlp2x", args.in_features, args.out_features, cfg, args.device, dtype),
        "mvp": build("mvp", args.in_features, args.out_features, cfg, args.device, dtype),
    }
    x, grad = inputs(batch, tokens, args.in_features, args.out_features, args.device, dtype, 0)
    _, grad_mvp = inputs(
        batch, tokens, args.in_features, args.out_features, args.device, dtype, cfg.global_tokens
    )
    grads = {"mlp2x": grad, "mvp": grad_mvp}
    runs = {name: (lambda m=module, g=grads[name]: step(m, x, g)) for name, module in modules.items()}
    zero = {name: (lambda m=module: m.zero_grad(set_to_none=True)) for name, module in modules.items()}
    for name in runs:  # warm-up: thread pools, allocator, kernel selection
        zero[name]()
        runs[name]()
    seconds = time_interleaved(runs, zero, repeats, args.device)
    saved = {name: saved_bytes(module, x) for name, module in modules.items()}
    return modules, x, grads, seconds, saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="default: cuda if available"
    )
    parser.add_argument(
        "--dtype", choices=sorted(DTYPES), default=None, help="default: bfloat16 on cuda, else float32"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed forward+backward runs per projector")
    parser.add_argument(
        "--batch", type=int, default=2, help="images per step (LLaVA-1.5 ablations: 2 fits 2 CPU cores)"
    )
    parser.add_argument("--tokens", type=int, default=576, help="vision tokens per image (LLaVA-1.5: 576)")
    parser.add_argument("--in-features", type=int, default=1024, help="vision width Dv (CLIP ViT-L: 1024)")
    parser.add_argument("--out-features", type=int, default=4096, help="LLM width D (Vicuna-7B: 4096)")
    mvp = parser.add_argument_group("MVP options (also spelled as the train flags, --mvp_tau ...)")
    add_mvp_arguments(mvp, prefix="--", aliases={option.name: [f"--{option.flag}"] for option in options()})
    parser.add_argument(
        "--scaling-tokens",
        default="144,576,1152,2304",
        help="tokens per image for the growth table ('' = skip)",
    )
    parser.add_argument("--scaling-batch", type=int, default=1, help="images per step in the growth table")
    parser.add_argument(
        "--scaling-repeats", type=int, default=3, help="timed runs per row of the growth table"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--skip-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--memory-probe", choices=("mlp2x", "mvp"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        memory_probe(args)
        return 0

    dtype = DTYPES[args.dtype]
    cfg = mvp_config(args)
    print(
        f"device {args.device}, dtype {args.dtype}, torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(f"load average before the run: {os.getloadavg()[0]:.2f} (other processes distort CPU timings)")
    print(f"shape: batch {args.batch} x {args.tokens} tokens, {args.in_features} -> {args.out_features}")
    print(f"MVP options: {cfg.to_flags()}")
    modules, x, grads, seconds, saved = compare(args, cfg, args.batch, args.tokens, args.repeats, dtype)
    for name, module in modules.items():
        count = sum(p.numel() for p in module.parameters())
        print(f"params {name}: {count:,}")
    for name in modules:
        wall, cpu = seconds[name]
        print(
            f"time {name}: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms cpu (median of {args.repeats}, fwd+bwd)"
        )
    ratio = seconds["mvp"][0] / seconds["mlp2x"][0]
    print(f"cpu-time ratio {seconds['mvp'][1] / seconds['mlp2x'][1]:.3f}")
    for name in modules:
        print(f"saved-for-backward {name}: {saved[name] / MiB:.1f} MiB")
    print(f"saved-for-backward ratio {saved['mvp'] / saved['mlp2x']:.3f}")

    if not args.skip_memory:
        if args.device.startswith("cuda"):
            peaks = {name: cuda_peak_delta(module, x, grads[name]) for name, module in modules.items()}
            how = "torch.cuda.max_memory_allocated delta"
        elif args.device == "cpu":
            peaks = {name: rss_peak_delta(name, args) for name in modules}
            how = "peak RSS growth of one warm step, fresh subprocess"
        else:
            peaks, how = {}, ""
        for name, peak in peaks.items():
            print(f"peak memory {name}: {peak / MiB:.1f} MiB ({how})")
        if peaks:
            print(f"peak memory ratio {peaks['mvp'] / peaks['mlp2x']:.3f}")
    del modules, x, grads

    sizes = [int(t) for t in args.scaling_tokens.split(",") if t.strip()]
    if sizes:
        print(
            f"\ngrowth with tokens per image (batch {args.scaling_batch}, median of {args.scaling_repeats}):"
        )
        print(
            f"{'tokens':>7} {'mlp2x ms':>10} {'MVP ms':>10} {'ratio':>7} {'cpu ratio':>10} {'MVP saved MiB':>14}"
        )
        for tokens in sizes:
            _, _, _, sec, sv = compare(args, cfg, args.scaling_batch, tokens, args.scaling_repeats, dtype)
            print(
                f"{tokens:>7} {sec['mlp2x'][0] * 1e3:>10.1f} {sec['mvp'][0] * 1e3:>10.1f} "
                f"{sec['mvp'][0] / sec['mlp2x'][0]:>7.3f} {sec['mvp'][1] / sec['mlp2x'][1]:>10.3f} "
                f"{sv['mvp'] / MiB:>14.1f}"
            )
    # The figure, last, so a script can read it from the final line.
    print(
        f"ratio {ratio:.3f}  (MVP / mlp2x_gelu forward+backward wall time, batch {args.batch} x {args.tokens} "
        "tokens; target <= 1.5)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
