"""``emollm ablate --config FILE``: the paper's ablations as sweeps over the EmoLLM pipeline.

The config (YAML or JSON) has a ``base`` (any :class:`~emollm_plugin.apps.pipeline.PipelineConfig`
field: data, base model, steps, ...) and ``sweeps``, each one option with the values to try::

    base: {objective_steps: 20, emotional_steps: 60}
    sweeps:
      tau:   {mvp_tau: [0.3, 0.5, 0.7]}
      k:     {k: [0, 1, 2]}
      order: {order: [sequential, joint, emotional_only]}
      mvp:   {projector: [mvp, mlp2x_gelu]}

Every arm runs the pipeline with one value changed. All arms share one stage folder, so data,
base model and any stage an arm has in common with another (e.g. the objective stage of two k
values) run once; a rerun skips finished arms. Each sweep gets a Markdown and CSV table (six
sub-task accuracies and their mean per value) and a plot.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from emollm_plugin.apps.pipeline import PipelineConfig
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
    PipelineConfig.from_dict({k: v for k, v in (data.get("base") or {}).items() if k != "out"})  # validate early
    return data


def arm_configs(config: dict, out: Path) -> list[tuple[str, str, object, PipelineConfig]]:
    """``(sweep, option, value, pipeline config)`` for every arm."""
    base = dict(config.get("base") or {})
    arms = []
    for sweep, spec in config["sweeps"].items():
        option, values = next(iter(spec.items()))
        for value in values:
            fields = {**base, option: value, "out": str(out / "arms" / sweep / f"{option}={value}")}
            arms.append((sweep, option, value, PipelineConfig.from_dict(fields)))
    return arms


def accuracies(run_dir: Path) -> dict[str, float | None]:
    from emollm_plugin.lmms_glue.results import load_run

    run = load_run(run_dir)
    scores = {task: (run.tasks[task].accuracy if task in run.tasks else None) for task in TASKS}
    scores["mean"] = run.mean_accuracy
    return scores


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def write_sweep(out: Path, sweep: str, option: str, rows: list[tuple[object, dict | None]]) -> dict[str, Path]:
    """Markdown + CSV table and a plot of one sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [*TASKS, "mean"]
    lines = [f"# Sweep `{sweep}`: {option}", "", "| " + " | ".join([option, *columns]) + " |",
             "|" + "---|" * (len(columns) + 1)]
    with (out / f"{sweep}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([option, *columns])
        for value, scores in rows:
            cells = [_pct(scores.get(c)) if scores else "failed" for c in columns]
            lines.append("| " + " | ".join([str(value), *cells]) + " |")
            writer.writerow([value, *cells])
    (out / f"{sweep}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    figure, axis = plt.subplots(figsize=(7, 3.5))
    done = [(str(v), s) for v, s in rows if s]
    width = 0.8 / max(1, len(done))
    for i, (label, scores) in enumerate(done):
        xs = [j + i * width for j in range(len(columns))]
        axis.bar(xs, [100 * (scores.get(c) or 0) for c in columns], width, label=f"{option}={label}")
    axis.set_xticks([j + width * (len(done) - 1) / 2 for j in range(len(columns))], columns)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.set_title(f"EmoBench accuracy by {option}")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out / f"{sweep}.png", dpi=120)
    plt.close(figure)
    return {"markdown": out / f"{sweep}.md", "csv": out / f"{sweep}.csv", "plot": out / f"{sweep}.png"}
