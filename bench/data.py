"""Records per second through the EmoBench build path (adapter -> records file -> views).

A synthetic in-memory source yields 287k records (EmoBench's size) without media files, and the
real ``build_source`` writes ``records/bench.jsonl``, the per-task views, the LLaVA JSON and the
summary, as a build of a real source would (``--check-media none``: no stat, no decoding).

Run: ``.venv/bin/python bench/data.py [--records N]``; the last line prints the figure.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from emollm_plugin.emobench.build import build_source
from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.tasks import LABEL_SETS, TASKS, YES_NO, build_question, get_task

LABELS = {"emo_c": LABEL_SETS["ekman7"], "emo_o": LABEL_SETS["mikels8"], "intent": LABEL_SETS["mintrec20"]}


def make_records(count: int) -> list[Record]:
    """``count`` valid records over all six tasks, both modalities, train/test by id hash."""
    records = []
    questions: dict[tuple[str, str, bool], str] = {}
    for i in range(count):
        task = TASKS[i % len(TASKS)]
        modality = "image" if i % 3 else "video"
        yesno = get_task(task).answer_kind == "yesno"
        options = [] if yesno else list(LABELS[task])
        labels = YES_NO if yesno else options
        text = f"utterance number {i}" if yesno else None
        key = (task, modality, yesno)
        if key not in questions:
            questions[key] = build_question(task, modality, options if task != "emo_o" else [])
        question = questions[key] + (f' The accompanying text is: "{text}".' if text else "")
        native = f"clip_{i:06d}"
        split = "test" if hashlib.blake2b(native.encode(), digest_size=1).digest()[0] < 52 else "train"
        records.append(
            Record(
                id=f"bench-{split}-{native}",
                task=task,
                modality=modality,
                media=f"{task}/{native}.{'png' if modality == 'image' else 'mp4'}",
                question=question,
                answer=labels[i % len(labels)],
                source="bench",
                split=split,
                options=options,
                text=text,
            )
        )
    return records


class InMemorySource:
    """A source adapter (the sources contract) over a list of records already in memory."""

    name = "bench"
    tasks = TASKS
    modalities = ("image", "video")

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def check_layout(self, root: Path) -> None:
        return None

    def iter_samples(self, root: Path) -> Iterator[Record]:
        yield from self.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=287_000, help="records to build (287000)")
    args = parser.parse_args()
    records = make_records(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "README").write_text("in-memory source\n")
        out = Path(tmp) / "out"
        start, start_cpu = time.perf_counter(), time.process_time()
        result = build_source(InMemorySource(records), root, out, check_media="none", progress=False)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        assert result.total == args.records, result
        sizes = {p.name: p.stat().st_size for p in (out / "llava").glob("*.json")}
        print(
            f"built {result.total} records in {elapsed:.2f} s wall, {cpu:.2f} s CPU; views: {len(list(out.glob('*/*.jsonl')))} files, "
            f"llava json {sum(sizes.values()) / 1e6:.0f} MB"
        )
    print(
        f"CPU-time throughput: {args.records / cpu:,.0f} records/s (wall is higher when other jobs share the cores)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory {peak:.0f} MB (the {args.records} input records are held in memory by the bench itself)"
    )
    print(f"build throughput: {args.records / elapsed:,.0f} records/s wall-clock, one process")


if __name__ == "__main__":
    main()
