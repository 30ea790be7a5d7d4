"""lmms-eval glue for the six EmoBench sub-tasks; the YAML files beside this one reference it.

lmms-eval loads this file by path (``!function utils.<name>``), once per reference, so nothing
here keeps state that must be shared between functions.

Where the data comes from (the one setting): ``EMOBENCH_DIR``. Each task YAML names its file as
``dataset_kwargs.data_files.test: $EMOBENCH_DIR/test/<task>.jsonl``; lmms-eval 0.7.3 does not
expand environment variables in task YAML, so :class:`EmoBenchTask` (the tasks' ``class:``, the
same pattern as lmms-eval's own ``vstat`` task) expands it and reads the records itself instead of
going through ``datasets.load_dataset``. That also keeps a missing-data error immediate and
readable: ``download()`` is wrapped in a 5-try retry upstream, an override is not.

A record's ``media`` is relative to ``EMOBENCH_DIR`` (the folder ``emollm data synth/build``
writes); a path that only exists relative to the records file's own folder is accepted too.

EmoPrompt at evaluation: ``EMOBENCH_EXEMPLARS`` (an ``exemplars.json`` from
``emollm emoprompt exemplars``) and ``EMOBENCH_K`` (default 0 = off) put the first ``k``
exemplars of the task in front of the question through ``format_with_exemplars``, the function
training uses, so both sides see the same prompt shape. This is the only mechanism; models are
not told ``k`` separately.

Visuals: an image record gives ``[PIL.Image]``; a video record gives ``[path to the video]``, the
convention of lmms-eval's video-capable wrappers (``llava_hf``, ``qwen2_vl``: a ``str`` visual is a
video file they decode themselves) and of the plugin's ``emollm`` model, which samples the frames
with ``emobench.media.load_frames`` like training does.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, Sequence, Value
from lmms_eval.api.task import ConfigurableTask
from loguru import logger

from emollm_plugin.emobench.media import UNREADABLE_MEDIA_ANSWER, MediaError
from emollm_plugin.emobench.open_vocab import score_answer
from emollm_plugin.emobench.records import Record, RecordError, iter_jsonl
from emollm_plugin.emobench.scoring import read_sample, score_samples
from emollm_plugin.emobench.tasks import TASKS

# The settings' names and the build hint are shared with `emollm eval`, which checks them first.
from emollm_plugin.lmms_glue.evaluate import BUILD_HINT, ENV_DIR, ENV_EXEMPLARS, ENV_K
from emollm_plugin.lmms_glue.results import LL_SUFFIX, TASK_PREFIX

#: Columns of a task's documents (a record plus its resolved media path).
DOC_FEATURES = Features(
    {
        "id": Value("string"),
        "task": Value("string"),
        "modality": Value("string"),
        "media": Value("string"),
        "media_path": Value("string"),
        "question": Value("string"),
        "answer": Value("string"),
        "options": Sequence(Value("string")),
        "source": Value("string"),
        "split": Value("string"),
        "text": Value("string"),
        # Why the media cannot be shown ("" when it can): such a record is counted as missing, not scored.
        "media_error": Value("string"),
    }
)


class EmoBenchDataError(FileNotFoundError):
    """EmoBench records that cannot be found or read; the message says how to build them."""


def short_task(lmms_task: str) -> str:
    """``emobench_emo_c`` (or its log-likelihood variant ``emobench_emo_c_ll``) -> ``emo_c``; raises otherwise."""
    name = lmms_task.removeprefix(TASK_PREFIX).removesuffix(LL_SUFFIX)
    if not lmms_task.startswith(TASK_PREFIX) or name not in TASKS:
        raise ValueError(
            f"{lmms_task!r} is not an EmoBench task; expected one of "
            f"{', '.join(TASK_PREFIX + t for t in TASKS)}"
        )
    return name


def emobench_dir() -> Path:
    """The folder named by ``EMOBENCH_DIR``; a clear error when it is unset or missing."""
    value = os.environ.get(ENV_DIR, "").strip()
    if not value:
        raise EmoBenchDataError(
            f"{ENV_DIR} is not set; it names the EmoBench folder holding test/<task>.jsonl. {BUILD_HINT}"
        )
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise EmoBenchDataError(f"{ENV_DIR}={value} is not a folder. {BUILD_HINT}")
    return folder.resolve()


def task_records_file(task: str, data_files: Any = None) -> Path:
    """The records file of one task: the YAML's ``data_files`` (``$EMOBENCH_DIR`` expanded) or the default."""
    pattern = data_files.get("test") if isinstance(data_files, dict) else data_files
    if not pattern:
        pattern = f"${ENV_DIR}/test/{task}.jsonl"
    if not isinstance(pattern, str):
        raise ValueError(f"EmoBench task {task}: data_files.test must be one path, got {pattern!r}")
    if f"${ENV_DIR}" in pattern or f"${{{ENV_DIR}}}" in pattern:
        root = str(emobench_dir())  # raises with the build hint when unset
        pattern = pattern.replace(f"${{{ENV_DIR}}}", root).replace(f"${ENV_DIR}", root)
    path = Path(os.path.expanduser(os.path.expandvars(pattern)))
    if not path.is_file():
        raise EmoBenchDataError(f"EmoBench test records for task {task!r} not found: {path}. {BUILD_HINT}")
    return path


def resolve_media(media: str, records_file: Path) -> Path:
    """Absolute media path: as given when absolute, else under ``EMOBENCH_DIR``, else beside the records."""
    path = Path(media)
    if path.is_absolute():
        return path
    root = Path(os.environ[ENV_DIR]).expanduser().resolve() if os.environ.get(ENV_DIR) else None
    candidates = ([root / path] if root else []) + [records_file.parent.resolve() / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def record_to_doc(record: Record, records_file: Path) -> dict:
    """One lmms-eval document: the record's fields, ``text`` as a string, and the absolute media path."""
    doc = record.to_dict()
    doc["text"] = record.text or ""
    doc["options"] = list(record.options)
    doc["media_path"] = str(resolve_media(record.media, records_file))
    doc["media_error"] = ""
    return {name: doc[name] for name in DOC_FEATURES}


def load_docs(task: str, data_files: Any = None) -> list[dict]:
    """The test documents of one task; bad lines are skipped with a warning each.

    A record whose media file is missing stays a document with ``media_error`` set: it is counted
    as ``missing`` in the results (never scored, never asked without its image), so ``emollm eval``
    can account for every line of the file. Raises :class:`EmoBenchDataError` when the file is
    missing or holds no record with media, so a run never scores an empty task.
    """
    path = task_records_file(task, data_files)
    docs: list[dict] = []
    skipped: list[str] = []
    for lineno, item in iter_jsonl(path):
        if isinstance(item, RecordError):
            skipped.append(str(item))
            continue
        if item.task != task:
            skipped.append(
                f"{path}:{lineno}: record {item.id!r} is a {item.task!r} record in the {task} file; move it to test/{item.task}.jsonl"
            )
            continue
        doc = record_to_doc(item, path)
        if not Path(doc["media_path"]).is_file():
            doc["media_error"] = (
                f"{path}:{lineno}: record {item.id!r}: media {item.media!r} not found (looked under {ENV_DIR} "
                f"and {path.parent}); fix the path or drop the record"
            )
        docs.append(doc)
    missing = [doc["media_error"] for doc in docs if doc["media_error"]]
    for problem in missing[:20]:
        logger.warning(f"EmoBench {task}: counted as missing: {problem}")
    for problem in skipped[:20]:
        logger.warning(f"EmoBench {task}: skipped {problem}")
    if len(skipped) > 20:
        logger.warning(
            f"EmoBench {task}: skipped {len(skipped) - 20} more records (run `emollm data validate` on {path})"
        )
    if len(missing) == len(docs):
        raise EmoBenchDataError(
            f"{path}: no usable EmoBench record for task {task!r} ({len(skipped)} bad lines, {len(missing)} "
            f"without media). {BUILD_HINT}"
        )
    logger.info(
        f"EmoBench {task}: {len(docs)} test records from {path}"
        + (f" ({len(missing)} without media, counted as missing)" if missing else "")
        + (f" ({len(skipped)} bad lines skipped)" if skipped else "")
    )
    return docs


def media_status(doc: dict, problem: str | None) -> dict:
    """Every sample's ``missing`` entry: which record, and why its media could not be shown (None: it was).

    lmms-eval's samples file keeps metrics, not documents, so this is how a report names the
    records that were counted as missing.
    """
    return {"id": doc["id"], "modality": doc["modality"], "source": doc["source"], "target": doc["answer"],
            "problem": problem}


class EmoBenchTask(ConfigurableTask):
    """A ConfigurableTask whose documents are read from ``$EMOBENCH_DIR/test/<task>.jsonl``.

    lmms-eval builds ``class:`` tasks as ``cls(config=config)`` without the model name, so
    ``lmms_eval_specific_kwargs`` resolve to their ``default`` entry for every model.
    """

    def __init__(self, *args: Any, config: dict | None = None, **kwargs: Any) -> None:
        if config is not None:
            config = {key: value for key, value in config.items() if key != "class"}
        #: Record id -> why its media could not be read when the model asked for it (this process's share).
        self.media_errors: dict[str, str] = {}
        super().__init__(*args, config=config, **kwargs)

    def doc_to_visual(self, doc: dict) -> Any:
        """The document's visuals; unreadable media gives ``[]`` and is remembered, so the sample is counted
        as missing instead of being scored on an answer given without its image."""
        try:
            return super().doc_to_visual(doc)
        except MediaError as exc:
            if not doc.get("media_error"):  # a missing file was reported when the records were read
                logger.error(f"EmoBench {doc['task']}: record {doc['id']!r} counted as missing: {exc}")
            self.media_errors[doc["id"]] = str(exc)
            return []

    def download(self, dataset_kwargs: dict | None = None) -> None:
        task = short_task(self.config.task)
        data_files = (dataset_kwargs or {}).get("data_files")
        docs = load_docs(task, data_files)
        split = self.config.test_split or "test"
        self.dataset = DatasetDict({split: Dataset.from_list(docs, features=DOC_FEATURES)})
        if self.config.process_docs is not None:
            self.dataset[split] = self.config.process_docs(self.dataset[split])
        self.dataset_no_image = self.dataset  # no media columns: visuals are read from paths

    def process_results(self, doc: dict, results: list, full_docs: Any = None) -> dict:
        """ConfigurableTask's generate_until branch without its 5-try retry decorator.

        The retry is there for judge-model tasks that call a network; scoring here is local,
        deterministic and never raises, and tenacity's bookkeeping costs ~50 us a call, which at
        EmoBench's 287k samples is more than the parsing itself (bench/eval.py).
        """
        if results and isinstance(results[0], list) and self.OUTPUT_TYPE != "multiple_choice":
            results = results[0]
        problem = doc.get("media_error") or self.media_errors.get(doc["id"]) or unreadable_reason(results)
        if problem:  # counted, never scored
            return {"missing": media_status(doc, problem), "scored": 0.0}
        counted = {"missing": media_status(doc, None), "scored": 1.0}
        if self.OUTPUT_TYPE == "multiple_choice":  # (log-likelihood, is_greedy) per option: ll_utils.py
            return {**self.config.process_results(doc, results), **counted}
        texts = [text.strip() if isinstance(text, str) else "" for text in results]
        return {**self.config.process_results(doc, texts), **counted}


def unreadable_reason(results: list) -> str | None:
    """Why the model could not read the sample's media when it was asked (``None``: it could).

    The plugin's model hands videos over as paths and decodes them itself; one that fails there is
    answered with ``UNREADABLE_MEDIA_ANSWER`` and the reason, or a ``nan`` log-likelihood (a pair, or
    the pair's ``str()`` as lmms-eval 0.7.3 hands it on).
    """
    for result in results:
        if isinstance(result, str) and result.startswith(UNREADABLE_MEDIA_ANSWER):
            return result[len(UNREADABLE_MEDIA_ANSWER):]
        pair_nan = isinstance(result, tuple | list) and result and isinstance(result[0], float) and math.isnan(result[0])
        if pair_nan or (isinstance(result, str) and result.replace(" ", "").startswith("(nan,")):
            return "the model could not read the media (log-likelihood nan; its log names the file)"
    return None


def emobench_doc_to_visual(doc: dict) -> list:
    """``[PIL.Image]`` for an image record, ``[video path]`` for a video record.

    Raises :class:`MediaError` for missing or unreadable media; :meth:`EmoBenchTask.doc_to_visual`
    turns that into a sample counted as missing, never one asked without its image.
    """
    if doc.get("media_error"):
        raise MediaError(doc["media_error"])
    if doc["modality"] == "video":  # the model decodes it; a file emptied since loading is caught here
        from emollm_plugin.emobench.media import require_file

        return [str(require_file(doc["media_path"]))]
    from emollm_plugin.emobench.media import load_image

    return [load_image(doc["media_path"])]


def exemplar_k() -> int:
    """``EMOBENCH_K`` as a non-negative int (0 when unset)."""
    raw = os.environ.get(ENV_K, "").strip()
    if not raw:
        return 0
    try:
        k = int(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_K}={raw!r} is not an integer; set it to the number of EmoPrompt exemplars (0 = off)"
        ) from None
    if k < 0:
        raise ValueError(f"{ENV_K}={k} must be >= 0")
    return k


@lru_cache(maxsize=8)
def _exemplars_file(path: str, mtime: float) -> dict:
    from emollm_plugin.emoprompt.exemplars import load_exemplars

    return load_exemplars(path)


def task_exemplars(task: str, k: int) -> list:
    """The first ``k`` exemplars of ``task`` from ``EMOBENCH_EXEMPLARS`` (fewer if fewer were accepted).

    Training (``--emoprompt_k``) uses the same first ``k`` and tolerates a short list the same
    way, so train and test prompts stay identical; the shortfall is logged once per task.
    """
    if k == 0:
        return []
    path = os.environ.get(ENV_EXEMPLARS, "").strip()
    if not path:
        raise ValueError(
            f"{ENV_K}={k} needs {ENV_EXEMPLARS}=<exemplars.json>; create one with `emollm emoprompt exemplars`"
        )
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(
            f"{ENV_EXEMPLARS}={path}: file not found; create it with `emollm emoprompt exemplars`"
        )
    available = _exemplars_file(str(file), file.stat().st_mtime).get(task, [])
    if len(available) < k:
        _warn_short(str(file), task, len(available), k)
    return available[:k]


@lru_cache(maxsize=64)
def _warn_short(file: str, task: str, found: int, k: int) -> None:
    logger.warning(
        f"{file}: task {task!r} has {found} exemplar(s) but {ENV_K}={k}; its questions get {found} "
        "(as in training). Generate more rationales to use all k."
    )


def emobench_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """``pre_prompt`` + (EmoPrompt exemplars +) the record's question + ``post_prompt``.

    The record's question already holds the sample's text (meme text, utterance, tweet) and the
    options; the ``<image>`` token is the model's business.
    """
    kwargs = lmms_eval_specific_kwargs or {}
    question = doc["question"]
    exemplars = task_exemplars(doc["task"], exemplar_k())
    if exemplars:
        from emollm_plugin.emoprompt.exemplars import format_with_exemplars

        question = format_with_exemplars(question, exemplars, exclude_id=doc["id"])
    return f"{kwargs.get('pre_prompt', '')}{question}{kwargs.get('post_prompt', '')}"


def emobench_process_results(doc: dict, results: list) -> dict:
    """Per-sample metrics: ``accuracy`` 0/1, ``unparsed_rate`` 0/1, and one info dict for F1/UAR.

    The info dict is :func:`scoring.read_sample`'s reading (``target``, ``parsed``; ``emo_o`` adds
    ``parsed_strict``: the answer must name the label word itself) plus ``id``, ``modality`` and
    ``source``: what lmms-eval's samples file keeps of the sample (it drops the document), so
    reports read targets and parsed answers from it. ``emo_o`` also reports ``strict_acc`` and the
    open-vocabulary ``set_precision``, ``set_recall`` and ``set_f1`` (``open_vocab.score_answer``).
    """
    text = results[0] if results and isinstance(results[0], str) else ""
    target = doc["answer"]
    strict = doc["task"] == "emo_o"
    try:
        reading = read_sample(doc["task"], text, target, doc["options"], strict=strict)
    except Exception as exc:  # a parser bug or a broken record: loud, never a silent "unparsed"
        raise ValueError(
            f"EmoBench {doc['task']}: record {doc['id']!r}: cannot read the answer {text[:80]!r}: {exc}"
        ) from exc
    info = {"id": doc["id"], "modality": doc["modality"], "source": doc["source"], **reading}
    out = {
        "accuracy": float(info["parsed"] == target),
        "macro_f1": info,
        "uar": info,
        "unparsed_rate": float(info["parsed"] is None),
    }
    if strict:
        out["strict_acc"] = float(info["parsed_strict"] == target)
        # Open-vocabulary: every emotion named counts (set precision/recall/F1, emobench/open_vocab.py).
        out.update({key: value for key, value in score_answer(text, target, doc["options"]).items() if key != "named"})
    return out


def aggregate_count(items: list[float]) -> int:
    """``scored``: how many records of the task were scored (a sum, not a mean)."""
    return int(sum(items))


def aggregate_missing(items: list[dict]) -> int:
    """``missing``: how many records were not scored because their media is missing or unreadable."""
    return sum(1 for item in items if item.get("problem"))


def aggregate_macro_f1(items: list[dict]) -> float:
    """Macro-F1 over the task's samples, by :func:`scoring.score_samples` (the path ``score_task`` takes)."""
    return score_samples(items)["macro_f1"]


def aggregate_uar(items: list[dict]) -> float:
    """UAR over the task's samples, by :func:`scoring.score_samples` (the path ``score_task`` takes)."""
    return score_samples(items)["uar"]
