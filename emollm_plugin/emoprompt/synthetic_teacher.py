"""A ground-truth-guided teacher for the synthetic EmoBench: the offline stand-in for GPT-4o.

On real data a strong multimodal model (GPT-4o) looks at the image or frames, reads the question
and the correct answer, and writes a few sentences from the evidence to that answer. On synthetic
data the evidence is known exactly: the generator wrote every sample's cues (background colour,
shape or motion, size, the figure's colour, the words of the text) to ``synth/cues.jsonl``. This
teacher recognises the sample by its pixels, names the cues the generator's rules read for the
task, and ends in ``Answer: <label>``, through the same :class:`~emollm_plugin.emoprompt.teachers.Teacher`
interface as the API and local teachers, so acceptance, resume and exemplar selection
(:mod:`~emollm_plugin.emoprompt.rationales`) run unchanged.

It is told the correct answer in the prompt like every teacher, and reasons from the cues: its
answer line is the label the cues give under the generator's rules, which is the ground truth
whenever the cues are the sample's. When they are not (cues of another sample, a stale cues
file) the judge rejects the rationale, as it rejects a real teacher that reasons its way to a
wrong answer. It never reads a record's answer field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.synth import (
    FIGURE_FAMILY,
    Cues,
    colour_family,
    cues_for,
    label_for,
    load_cues,
    word_kind,
)
from emollm_plugin.emobench.tasks import ANSWER_PREFIX, YES_NO
from emollm_plugin.emoprompt.teachers import TeacherError, TeacherReply, TeacherRequest

if TYPE_CHECKING:
    from PIL import Image

#: What a yes/no task's property is called in a sentence ("it is hateful").
_PROPERTY = {"hate": "hateful", "humor": "humorous", "sarcasm": "sarcastic"}
_FAMILY_WORD = {"warm": "a warm colour", "cool": "a cool colour"}


def fingerprint(images: Sequence[Image.Image]) -> str:
    """A hash of the decoded pixels of a sample's image or frames: how the teacher knows the sample."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.mode}{image.size}".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _figure(cues: Cues) -> str:
    if cues.modality == "video":
        return f"the {cues.figure_colour} square moves {cues.figure}"
    return f"the {cues.figure_colour} shape is a {cues.figure}"


def _verdict(task: str, label: str) -> str:
    return f"it is {_PROPERTY[task]}" if label == YES_NO[0] else f"it is not {_PROPERTY[task]}"


def _conclusion(task: str, label: str) -> str:
    return _verdict(task, label) if task in _PROPERTY else label


def reasoning(cues: Cues) -> str:
    """One or two sentences naming the cues that decide the label under the generator's rules.

    Text cues are named by kind ("a hostile word", "a word for anger") rather than quoted, so a
    small student learns to judge the word, not to copy it.
    """
    label = label_for(cues)
    if cues.difficulty == "easy":
        return (f"The background is {cues.colour} and {_figure(cues)}. "
                f"In this set {cues.colour} with that {'motion' if cues.modality == 'video' else 'shape'} "
                f"means {_conclusion(cues.task, label)}.")
    family = colour_family(cues.colour)
    background = f"the background is {cues.colour}, {_FAMILY_WORD[family]}"
    if cues.task == "emo_c":
        figure_family = FIGURE_FAMILY[cues.figure]
        kind = "motion" if cues.modality == "video" else "shape"
        return (f"{background.capitalize()}, and {_figure(cues)}, {_a(figure_family)} {kind}. "
                f"{family.capitalize()} and {figure_family} show {label}.")
    if cues.task == "emo_o":
        return f"The text uses a word for {label}, so the feeling shown is {label}."
    if cues.task == "intent":
        return (f"{background.capitalize()}, and the figure is {cues.figure_colour}. "
                f"{family.capitalize()} and {cues.figure_colour} mean {label}.")
    if cues.task == "humor":
        figure_family = colour_family(cues.figure_colour)
        clash = "clash" if figure_family != family else "match"
        return (f"{background.capitalize()}, and the figure is {cues.figure_colour}, {_FAMILY_WORD[figure_family]}. "
                f"The colours {clash}: {_verdict('humor', label)}.")
    kind = word_kind(cues.word)
    if cues.task == "hate":
        return (f"The text has {_a(kind)} word and {background}. "
                f"{kind.capitalize()} and {family}: {_verdict('hate', label)}.")
    if cues.task == "sarcasm":
        agree = "disagree" if label == YES_NO[0] else "agree"
        return (f"The text has {_a(kind)} word and {background}. "
                f"{kind.capitalize()} and {family} {agree}: {_verdict('sarcasm', label)}.")
    raise ValueError(f"unknown EmoBench task {cues.task!r}")


def rationale(cues: Cues) -> str:
    """The whole reply: the reasoning, then ``Answer: <the label the cues give>``."""
    return f"{reasoning(cues)}\n{ANSWER_PREFIX} {label_for(cues)}"


class SyntheticTeacher:
    """A :class:`~emollm_plugin.emoprompt.teachers.Teacher` that writes rationales from the generator's cues.

    ``index`` maps the :func:`fingerprint` of a sample's decoded media to its cues; build it
    with :meth:`for_bench`, which loads the media exactly as rationale generation does.
    """

    batch_size = 64

    def __init__(self, index: Mapping[str, Cues]) -> None:
        self.index = dict(index)

    @classmethod
    def for_bench(cls, bench_dir: str | Path, records: Iterable[Record], num_frames: int) -> SyntheticTeacher:
        """A teacher for ``records`` of the synthetic EmoBench at ``bench_dir`` (``num_frames`` as generation uses)."""
        from emollm_plugin.emoprompt.rationales import load_media

        cues = load_cues(bench_dir)
        index: dict[str, Cues] = {}
        for record in records:
            key = fingerprint(load_media(record, bench_dir, num_frames))
            if index.get(key, cues_for(record, cues)) != cues_for(record, cues):
                raise ValueError(f"record {record.id!r} has the same pixels as another record with other cues")
            index[key] = cues_for(record, cues)
        return cls(index)

    def complete(self, request: TeacherRequest) -> TeacherReply:
        cues = self.index.get(fingerprint(request.images)) if request.images else None
        if cues is None:
            raise TeacherError(
                "the synthetic teacher has no generator cues for this "
                f"{'video' if request.video else 'image'}; it knows only the records of the synthetic "
                "EmoBench it was built for, loaded with the same num_frames (SyntheticTeacher.for_bench)"
            )
        return TeacherReply(text=rationale(cues))

    def complete_batch(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply | TeacherError]:
        replies: list[TeacherReply | TeacherError] = []
        for request in requests:
            try:
                replies.append(self.complete(request))
            except TeacherError as exc:
                replies.append(exc)
        return replies

