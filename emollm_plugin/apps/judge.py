"""``emollm judge RUN_DIR``: recognition and reasoning scores of a run's answers from an OpenAI-compatible judge.

The judge itself (prompt files, temperature 0, the reply cache, failure counting) is
:mod:`emollm_plugin.emoprompt.judge`. This module puts a run in front of it: the answers come from
the run's lmms-eval samples files (``lmms_glue.results``), the question and media from the EmoBench
records they were asked from (``emobench_dir`` in the run's ``emollm_eval.json``, or
``--emobench-dir``), matched by record id. An answer whose record cannot be found is judged a
failure, not skipped. The result goes to ``RUN_DIR/judge.json``, which ``emollm report`` and
``emollm compare`` read.
"""

from __future__ import annotations

import json
from pathlib import Path

from emollm_plugin.emobench.jsonl import write_json
from emollm_plugin.emobench.records import Record, RecordError, iter_jsonl
from emollm_plugin.emobench.scoring import percent
from emollm_plugin.emobench.tasks import TASK_SPECS, TASKS
from emollm_plugin.emoprompt.judge import (
    KINDS,
    TEMPERATURE,
    Judge,
    JudgeCache,
    JudgeSample,
    Verdict,
    failed,
    load_prompts,
    summarize,
)
from emollm_plugin.lmms_glue.results import Run, load_run

JUDGE_FILE = "judge.json"
CACHE_FILE = "judge_cache.jsonl"


def read_records(emobench_dir: Path | None, task: str) -> dict[str, tuple[Record, Path]]:
    """``{record id: (record, absolute media path)}`` from ``DIR/test/<task>.jsonl`` (empty when absent)."""
    if emobench_dir is None:
        return {}
    path = emobench_dir / "test" / f"{task}.jsonl"
    if not path.is_file():
        return {}
    out = {}
    for _, item in iter_jsonl(path):
        if isinstance(item, RecordError):
            continue
        media = Path(item.media)
        if not media.is_absolute():
            media = emobench_dir / media if (emobench_dir / media).exists() else path.parent / media
        out[item.id] = (item, media)
    return out


def run_emobench_dir(run: Run, override: str | Path | None) -> Path | None:
    """``--emobench-dir``, else the folder the run was evaluated on (``emollm_eval.json``)."""
    value = override or run.settings.get("emobench_dir")
    return Path(value).expanduser().resolve() if value else None


def collect(run: Run, emobench_dir: Path | None, tasks: list[str], limit: int | None) -> tuple[list, list[Verdict]]:
    """The samples to judge, and the failures of answers whose record (question, media) is missing."""
    samples: list[JudgeSample] = []
    missing: list[Verdict] = []
    for task in tasks:
        result = run.tasks.get(task)
        if result is None:
            continue
        records = read_records(emobench_dir, task)
        for sample in result.samples[:limit]:
            sid = sample.id or f"doc{sample.doc_id}"
            found = records.get(sid)
            if found is None:
                where = f"{emobench_dir}/test/{task}.jsonl" if emobench_dir else "no EmoBench folder (--emobench-dir)"
                missing += failed(task, sid, f"record {sid!r} not found in {where}")
                continue
            record, media = found
            samples.append(
                JudgeSample(
                    task=task,
                    id=sid,
                    question=record.question,
                    label=sample.target,
                    answer=sample.output,
                    task_title=TASK_SPECS[task].title,
                    media_path=str(media),
                    video=record.modality == "video",
                )
            )
    return samples, missing


def judge_run(
    run_dir: str | Path,
    base_url: str,
    model: str,
    api_key_env: str | None = None,
    cache_file: str | Path | None = None,
    emobench_dir: str | Path | None = None,
    tasks: list[str] | None = None,
    with_media: bool = True,
    num_frames: int = 4,
    limit: int | None = None,
    out: str | Path | None = None,
) -> dict:
    """Judge every answer of the run's generative tasks; write and return the report (see :func:`format_report`)."""
    run = load_run(run_dir)
    tasks = [task for task in (tasks or TASKS) if task in run.tasks]
    if not tasks:
        raise ValueError(f"{run.results_file}: no generative EmoBench task to judge (log-likelihood tasks have no text)")
    folder = run_emobench_dir(run, emobench_dir)
    cache = JudgeCache(Path(cache_file) if cache_file else run.folder / CACHE_FILE)
    prompts = load_prompts()
    judge = Judge(base_url, model, cache, api_key_env=api_key_env, with_media=with_media, num_frames=num_frames,
                  prompts=prompts)
    samples, verdicts = collect(run, folder, tasks, limit)
    try:
        verdicts = judge.judge_all(samples) + verdicts
    finally:
        cache.close()
    report = {
        "run": {"label": run.label, "results_file": str(run.results_file)},
        "judge": {
            "model": model,
            "served_models": sorted(judge.stats.served_models),
            "base_url": judge.base_url,
            "temperature": TEMPERATURE,
            "media": "none" if not with_media else f"image, or {num_frames} frames of a video",
            "prompts": {kind: {"file": prompts[kind].path.name, "sha256": prompts[kind].sha256} for kind in KINDS},
        },
        "cache": {
            "file": str(cache.path),
            "calls": judge.stats.calls,
            "hits": judge.stats.hits,
            "hit_rate": judge.stats.hit_rate,
        },
        "failed": {
            "no reply": sum(not v.ok and v.reply is None for v in verdicts),
            "unreadable reply": sum(not v.ok and v.reply is not None for v in verdicts),
        },
        "tasks": {task: scores for task, scores in sorted(summarize(verdicts).items(), key=lambda kv: TASKS.index(kv[0]))},
    }
    write_json(Path(out) if out else run.folder / JUDGE_FILE, report)
    return report


def load_judgment(folder: str | Path) -> dict | None:
    """``judge.json`` of a run folder (or of the folder holding a results file), or None."""
    path = Path(folder)
    for candidate in (path, path.parent):
        file = candidate / JUDGE_FILE
        if file.is_file():
            return json.loads(file.read_text(encoding="utf-8"))
    return None


def format_report(report: dict) -> str:
    """The judge's identity and cache use, then recognition / reasoning / combined per task, then failures."""
    judge, cache = report["judge"], report["cache"]
    served = ", ".join(judge["served_models"]) or "not reported"
    lines = [
        f"judge: {judge['model']} at {judge['base_url']} (server reports: {served}); temperature {judge['temperature']:g}",
        "prompts: " + "; ".join(f"{p['file']} sha256 {p['sha256'][:12]}" for p in judge["prompts"].values()),
        f"cache: {cache['file']}: {cache['hits']}/{cache['calls']} judgments from the cache "
        f"(hit rate {100 * cache['hit_rate']:.1f}%)",
        "",
        f"{'task':<8} {'n':>5} {'recognition':>12} {'reasoning':>10} {'combined':>9} {'failures':>9}",
    ]
    for task, scores in report["tasks"].items():
        failures = sum(scores["failures"].values())
        lines.append(
            f"{task:<8} {scores['n']:>5} {percent(scores['recognition']):>12} {percent(scores['reasoning']):>10} "
            f"{percent(scores['combined']):>9} {failures:>9}"
        )
    lines.append("(scores in %; a failed judgment scores 0 and stays in the mean)")
    problems = [f"{task} {item['id']} {item['kind']}: {item['error']}" for task, s in report["tasks"].items()
                for item in s["failed"]]
    if problems:
        kinds = ", ".join(f"{count} {kind}" for kind, count in report.get("failed", {}).items() if count)
        lines += ["", f"{len(problems)} failed judgment(s) ({kinds}):"] + [f"  {p}" for p in problems[:20]]
        if len(problems) > 20:
            lines.append(f"  ... and {len(problems) - 20} more (all in judge.json)")
    return "\n".join(lines)
