"""``emollm ablate --config FILE``: the paper's ablations as sweeps over the EmoLLM pipeline.

The config (YAML or JSON) has a ``base`` (any :class:`~emollm_plugin.apps.pipeline.PipelineConfig`
field: data, base model, steps, ...) and ``sweeps``, each one option with the values to try::

    base: {objective_steps: 20, emotional_steps: 60}
    sweeps:
      tau:   {mvp_tau: [0.3, 0.5, 0.7]}
      k:     {k: [0, 1, 2]}
      order: {order: [sequential, joint, emotional_only]}
      mvp:   {projector: [mvp, mlp2x_gelu]}

Every arm runs the pipeline with one value changed, once per seed of ``seeds`` (default: the
base seed; the seed sets the synthetic data, the tiny model's initial weights and the training
order). All arms share one stage folder, so data, base model and any stage an arm has in common
with another (e.g. the objective stage of two k values) run once; a rerun skips finished arms.

Each sweep gets a Markdown table (per arm: mean ± standard deviation over seeds of the six
sub-task accuracies and their mean), a CSV with every run and the per-arm mean, std, min and max,
and a plot (bars: mean; whiskers: min to max). A cell is marked ``*`` when its arm's per-seed
range does not overlap the first arm's: the difference is larger than the seed spread.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from tabulate import tabulate

from emollm_plugin.apps.pipeline import PipelineConfig
from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASKS


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("sweeps"), dict) or not data["sweeps"]:
        raise ValueError(f"{path}: needs a 'sweeps' mapping, e.g. sweeps: {{tau: {{mvp_tau: [0.3, 0.7]}}}}")
    for name, sweep in data["sweeps"].items():
        if not isinstance(sweep, dict) or len(sweep) != 1 or not isinstance(next(iter(sweep.values())), list):
            raise ValueError(f"{path}: sweep {name!r} must name one option and a list of values, e.g. {{k: [0, 2]}}")
    seeds = data.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
                              or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)):
        raise ValueError(f"{path}: seeds must be a list of distinct integers, e.g. seeds: [0, 1, 2]")
    PipelineConfig.from_dict({k: v for k, v in (data.get("base") or {}).items() if k != "out"})  # validate early
    arm_configs(data, Path("."))  # every arm must be a valid pipeline, and a run of its own
    return data


class Arm(NamedTuple):
    """One run of a sweep: the option's value at one seed."""

    sweep: str
    option: str
    value: object
    seed: int
    config: PipelineConfig


def arm_configs(config: dict, out: Path) -> list[Arm]:
    """Every run of every sweep (each value at each seed); ValueError if two values are one run."""
    base = dict(config.get("base") or {})
    seeds = config.get("seeds") or [base.get("seed", 0)]
    arms = []
    for sweep, spec in config["sweeps"].items():
        option, values = next(iter(spec.items()))
        seen: dict[str, object] = {}
        for value in values:
            for seed in seeds:
                folder = out / "arms" / sweep / f"{option}={value}"
                if config.get("seeds"):
                    folder = folder / f"seed={seed}"
                arm = PipelineConfig.from_dict({**base, option: value, "seed": seed, "out": str(folder)})
                key = json.dumps({**asdict(arm), "out": None}, sort_keys=True, default=str)
                if key in seen and seen[key] != value:
                    raise ValueError(f"sweep {sweep!r}: {option}={seen[key]!r} and {option}={value!r} are the same "
                                     "run once defaults are applied; drop one")
                if key in seen:
                    raise ValueError(f"sweep {sweep!r} lists {option}={value!r} twice")
                seen[key] = value
                arms.append(Arm(sweep, option, value, seed, arm))
    return arms


def accuracies(run_dir: Path) -> dict[str, float | None]:
    from emollm_plugin.lmms_glue.results import load_run

    run = load_run(run_dir)
    scores = {task: (run.tasks[task].accuracy if task in run.tasks else None) for task in TASKS}
    scores["mean"] = run.mean_accuracy
    return scores


COLUMNS = (*TASKS, "mean")


@dataclass(frozen=True)
class Spread:
    """One column of one arm over its seeds."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (0 for a single run)."""
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class ArmResult:
    """An arm of a sweep: its value and the scores of each of its seeds (None: that run failed)."""

    value: object
    runs: tuple[tuple[int, dict | None], ...]

    @property
    def done(self) -> list[dict]:
        return [scores for _, scores in self.runs if scores]

    def spread(self, column: str) -> Spread | None:
        values = tuple(s[column] for s in self.done if s.get(column) is not None)
        return Spread(values) if values else None


def exceeds_spread(arm: Spread | None, first: Spread | None) -> bool:
    """Whether two arms differ by more than their seed spread: at least two runs each, ranges apart."""
    if arm is None or first is None or len(arm.values) < 2 or len(first.values) < 2:
        return False
    return arm.low > first.high or arm.high < first.low


def summary_cells(arms: list[ArmResult]) -> list[list[str]]:
    """Table rows: value, runs, ``mean ± std`` per column (``*`` = beyond the seed spread of the first arm), Δ mean."""
    first = arms[0] if arms else None
    rows = []
    for arm in arms:
        if not arm.done:
            rows.append([str(arm.value), f"0/{len(arm.runs)}", *(["failed"] * len(COLUMNS)), "-"])
            continue
        cells = []
        for column in COLUMNS:
            spread = arm.spread(column)
            mark = " *" if arm is not first and exceeds_spread(spread, first.spread(column)) else ""
            cells.append("-" if spread is None else f"{percent(spread.mean)} ± {percent(spread.std)}{mark}")
        mean, base = arm.spread("mean"), first.spread("mean")
        delta = "-" if arm is first or mean is None or base is None else f"{100 * (mean.mean - base.mean):+.1f}"
        rows.append([str(arm.value), f"{len(arm.done)}/{len(arm.runs)}", *cells, delta])
    return rows


def csv_rows(option: str, arms: list[ArmResult]) -> list[list[object]]:
    """Every run (``seed`` = its seed), then per arm its mean, std, min and max over seeds (percent)."""
    rows: list[list[object]] = [[option, "seed", *COLUMNS]]
    for arm in arms:
        for seed, scores in arm.runs:
            rows.append([arm.value, seed, *(percent(scores.get(c)) if scores else "failed" for c in COLUMNS)])
    for arm in arms:
        for stat in ("mean", "std", "low", "high"):
            spreads = [arm.spread(c) for c in COLUMNS]
            name = {"low": "min", "high": "max"}.get(stat, stat)
            rows.append([arm.value, name, *(percent(getattr(x, stat)) if x else "-" for x in spreads)])
    return rows


def write_sweep(out: Path, sweep: str, option: str, arms: list[ArmResult]) -> dict[str, Path]:
    """Markdown + CSV table and a plot of one sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = list(COLUMNS)
    with (out / f"{sweep}.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(csv_rows(option, arms))
    seeds = sorted({seed for arm in arms for seed, _ in arm.runs})
    table = tabulate(summary_cells(arms), headers=[option, "runs", *columns, "Δ mean"], tablefmt="github",
                     disable_numparse=True)
    legend = (f"Accuracy (%), mean ± standard deviation over seeds {', '.join(map(str, seeds))}. "
              f"`*`: the arm's per-seed range (min to max) does not overlap the first arm's ({arms[0].value}), "
              "a difference larger than the seed spread. Δ mean: mean accuracy minus the first arm's, in points.")
    (out / f"{sweep}.md").write_text(f"# Sweep `{sweep}`: {option}\n\n{table}\n\n{legend}\n", encoding="utf-8")

    figure, axis = plt.subplots(figsize=(7, 3.5))
    done = [(str(arm.value), arm) for arm in arms if arm.done]
    width = 0.8 / max(1, len(done))
    for i, (label, arm) in enumerate(done):
        xs = [j + i * width for j in range(len(columns))]
        spreads = [arm.spread(c) for c in columns]
        heights = [100 * x.mean if x else 0 for x in spreads]
        whiskers = [[100 * (x.mean - x.low) if x else 0 for x in spreads],
                    [100 * (x.high - x.mean) if x else 0 for x in spreads]]
        axis.bar(xs, heights, width, yerr=whiskers, capsize=2, label=f"{option}={label}")
    axis.set_xticks([j + width * (len(done) - 1) / 2 for j in range(len(columns))], columns)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.set_title(f"EmoBench accuracy by {option} (mean over seeds; whiskers: min to max)")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out / f"{sweep}.png", dpi=120)
    plt.close(figure)
    return {"markdown": out / f"{sweep}.md", "csv": out / f"{sweep}.csv", "plot": out / f"{sweep}.png"}
