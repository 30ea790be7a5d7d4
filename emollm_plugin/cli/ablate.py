"""``emollm ablate``: sweep pipeline options (tau, k, order, projector) and tabulate each sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from emollm_plugin.apps.ablate import accuracies, arm_configs, load_config, write_sweep
from emollm_plugin.apps.pipeline import run_pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML/JSON with 'base' options and 'sweeps' (see module doc)")
    parser.add_argument("--out", default="runs/ablate", help="output folder (default runs/ablate); rerun to resume")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[tuple[object, dict | None]]] = {}
    options: dict[str, str] = {}
    failures = 0
    for sweep, option, value, arm in arm_configs(config, out):
        options[sweep] = option
        print(f"[ablate] {sweep}: {option}={value}")
        try:
            run_dir = run_pipeline(arm, work=out / "stages")
            scores = accuracies(run_dir)
        except Exception as exc:  # noqa: BLE001  (one failed arm must not lose the others)
            failures += 1
            print(f"[ablate] {sweep}: {option}={value} failed: {exc}")
            scores = None
        results.setdefault(sweep, []).append((value, scores))
    for sweep, rows in results.items():
        written = write_sweep(out, sweep, options[sweep], rows)
        print((out / f"{sweep}.md").read_text(encoding="utf-8"))
        print(f"[ablate] {sweep}: {written['markdown']}, {written['csv']}, {written['plot']}")
    if failures:
        print(f"[ablate] {failures} arm(s) failed; rerun the same command to retry them")
    return 1 if failures else 0
