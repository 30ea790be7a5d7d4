"""``emollm demo``: all of EmoLLM end to end, offline, on CPU, in minutes.

Synthesizes an EmoBench (easy by default, ``--difficulty hard`` for the ablation set), builds the
tiny model, trains with MVP using the sequential recipe (synthetic objective stage, then the
emotional stage), has a ground-truth-guided teacher write EmoPrompt rationales (on synthetic data
the synthetic teacher, the offline stand-in for GPT-4o: see ``emoprompt.synthetic_teacher``),
trains stage 2 on them, evaluates with lmms-eval through the ``emollm`` model (the model writes a
rationale, the scorer reads its answer line) and prints the paper's table: six sub-task
accuracies and their mean, then how many rationales the teacher got accepted and how many
evaluation outputs ended in a readable answer line. A rerun reuses finished stages. The same
pipeline takes real data and models: ``emollm ablate`` with a config naming ``emobench_dir``,
``model_name_or_path`` and ``vision_tower``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from emollm_plugin.apps.pipeline import Pipeline, PipelineConfig
from emollm_plugin.apps.report import write_report
from emollm_plugin.emobench.scoring import parse_answer
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, TASKS
from emollm_plugin.lmms_glue.evaluate import format_table
from emollm_plugin.lmms_glue.results import Run, load_run


def answer_lines(run: Run) -> tuple[int, int]:
    """``(outputs whose last answer marker names the label the scorer read, all outputs)`` of a run.

    The marker (``Answer:``) need not start a line: a tokenizer without a newline token (the tiny
    model's) turns the rationale's last line break into a space.
    """
    marker = re.compile(re.escape(ANSWER_PREFIX), re.IGNORECASE)
    samples = [(task, s) for task in run.tasks.values() for s in task.samples]
    parsed = 0
    for task, sample in samples:
        found = list(marker.finditer(sample.output))
        if found and sample.parsed is not None:
            tail = sample.output[found[-1].end():]
            parsed += parse_answer(task.name, tail, [sample.parsed]) == sample.parsed
    return parsed, len(samples)


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({100 * part / whole:.1f}%)" if whole else f"{part} of 0"


def emoprompt_lines(pipeline: Pipeline, run: Run) -> list[str]:
    """What EmoPrompt did: the teacher's acceptance rate, the rationale targets, the parsed answer lines."""
    c = pipeline.config
    lines = []
    if c.teacher == "none" or pipeline.rationale_summary is None:
        lines.append("EmoPrompt: off (teacher none); stage 2 trained on bare answers")
    else:
        total = pipeline.rationale_summary["total"]
        asked = total["accepted"] + total["rejected"] + total["failed"]
        lines.append(f"EmoPrompt teacher ({c.teacher}): {_share(total['accepted'], asked)} rationales accepted "
                     f"({total['rejected']} rejected, {total['failed']} failed, {total['attempts']} replies)")
        if pipeline.rationale_targets:
            used, samples = pipeline.rationale_targets
            lines.append(f"stage 2 targets: {_share(used, samples)} are an accepted rationale, the rest bare answers")
    parsed, outputs = answer_lines(run)
    lines.append(f"answer lines: {_share(parsed, outputs)} evaluation outputs give their answer after "
                 f"'{ANSWER_PREFIX}', read as a label")
    return lines


def run_demo(config: PipelineConfig) -> Path:
    """Run the pipeline, write the report, print the table; returns the lmms-eval run folder."""
    started = time.time()
    pipeline = Pipeline(config)
    run_dir = pipeline.run()
    written = write_report(run_dir, Path(config.out) / "report")
    run = load_run(run_dir)
    print()
    print(format_table(run, list(TASKS)))
    print()
    for line in emoprompt_lines(pipeline, run):
        print(line)
    print(f"report: {written.get('report')}")
    print(f"page:   {written.get('html')}")
    print(f"plots:  {', '.join(str(p) for name, p in written.items() if name not in ('report', 'html'))}")
    print(f"lmms-eval run: {run_dir}  (emollm demo took {time.time() - started:.0f} s)")
    return run_dir
