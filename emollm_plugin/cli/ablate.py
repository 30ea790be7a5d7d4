"""``emollm ablate``: sweep pipeline options (tau, k, order, projector, ...) over seeds and tabulate each sweep."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emollm_plugin.apps.ablate import ArmResult, accuracies, arm_configs, load_config, write_sweep
from emollm_plugin.apps.pipeline import run_pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help="YAML/JSON with 'base' options, 'sweeps' and optional 'seeds' (see scripts/ablate/)")
    parser.add_argument("--out", default="runs/ablate", help="output folder (default runs/ablate); rerun to resume")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[str, list]] = {}
    values: dict[str, dict[str, object]] = {}
    options: dict[str, str] = {}
    failures = 0
    started = time.time()
    arms = arm_configs(config, out)
    for n, (sweep, option, value, seed, arm) in enumerate(arms, start=1):
        options[sweep] = option
        print(f"[ablate] run {n}/{len(arms)}: {sweep}: {option}={value} seed={seed}")
        began = time.time()
        try:
            scores = accuracies(run_pipeline(arm, work=out / "stages"))
        except Exception as exc:  # noqa: BLE001  (one failed arm must not lose the others)
            failures += 1
            print(f"[ablate] {sweep}: {option}={value} seed={seed} failed: {exc}")
            scores = None
        print(f"[ablate] {sweep}: {option}={value} seed={seed}: {time.time() - began:.0f} s")
        runs.setdefault(sweep, {}).setdefault(repr(value), []).append((seed, scores))
        values.setdefault(sweep, {})[repr(value)] = value
    for sweep, by_value in runs.items():
        results = [ArmResult(values[sweep][key], tuple(seeds)) for key, seeds in by_value.items()]
        written = write_sweep(out, sweep, options[sweep], results)
        print(written["markdown"].read_text(encoding="utf-8"))
        print(f"[ablate] {sweep}: {written['markdown']}, {written['csv']}, {written['plot']}")
    print(f"[ablate] {len(arms)} runs in {time.time() - started:.0f} s wall time (finished stages reused)")
    if failures:
        print(f"[ablate] {failures} run(s) failed; rerun the same command to retry them")
    return 1 if failures else 0
