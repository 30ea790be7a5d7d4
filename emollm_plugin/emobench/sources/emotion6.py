"""Emotion6 (Peng et al., CVPR 2015): 1,980 Flickr images, 330 in each of six emotion folders.

Release layout (``Emotion6.zip`` from the Cornell lab page, unpacked into ``Emotion6/``)::

    Emotion6/images/<category>/<n>.jpg   categories: anger, disgust, fear, joy, sadness, surprise
    Emotion6/ground_truth.txt            header line, then per image (tab separated):
                                image_filename valence arousal  prob. anger  prob. disgust  prob. fear
                                prob. joy  prob. sadness  prob. surprise  prob. neutral
                                e.g. "disgust/1.jpg  2.5  3.8  0.133333  0.7  0  0.0666667  0.1  0  0"

Two adapters read it:

* ``emotion6``: the folder is the label (the keyword the image was found with), Ekman's six.
  This is how Emotion6 is usually used for classification. The images are the release, so
  ``--media-root`` does not apply; files that are not images become Skips.
* ``emotion6_votes``: the label is the majority of the 7-way vote distribution in
  ground_truth.txt, neutral included (label set ``ekman7``); images whose top vote is tied are
  skipped. Its ``images/`` folder is found beside ``ground_truth.txt``, anywhere under the
  root, or under ``--media-root``.

There is no official split; both use the same deterministic hash of the image id (80/10/10), so
an image lands in the same split either way. Each image gives one emo_c and one emo_o question.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import (
    clean_id,
    emotion_records,
    hash_split,
    iter_folder_images,
    media_file,
    media_skip,
)
from emollm_plugin.emobench.sources.fi import holds_images
from emollm_plugin.emobench.sources.locate import Layout
from emollm_plugin.emobench.tasks import LABEL_SETS

#: Column order of the vote distribution in ground_truth.txt.
VOTE_COLUMNS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

_HOMEPAGE = "http://chenlab.ece.cornell.edu/downloads.html (Emotion6.zip, Cornell)"
_LICENCE = "Academic research only (Emotion6 README); image copyright remains with the original owners."


def native_id(category: str, filename: str) -> str:
    """``anger_1`` for ``images/anger/1.jpg``: unique across folders, stable across both adapters."""
    return clean_id(f"{category}_{PurePosixPath(filename).stem}")


def parse_votes(line: str) -> tuple[str, dict[str, float]] | str:
    """``(image_filename, {emotion: probability})`` from one ground_truth.txt line, or a reason."""
    fields = line.split()
    if len(fields) != 3 + len(VOTE_COLUMNS):
        return f"expected {3 + len(VOTE_COLUMNS)} fields (file, valence, arousal, 7 probabilities), got {len(fields)}"
    try:
        probabilities = [float(value) for value in fields[3:]]
    except ValueError:
        return "vote probabilities are not numbers"
    return fields[0].replace("\\", "/"), dict(zip(VOTE_COLUMNS, probabilities, strict=True))


def majority(votes: dict[str, float]) -> str | None:
    """The emotion with the highest vote share, ``None`` when the top share is tied."""
    best = max(votes.values())
    winners = [emotion for emotion, share in votes.items() if share == best]
    return winners[0] if len(winners) == 1 else None


@register_source
class Emotion6(SourceAdapter):
    name = "emotion6"
    tasks = ("emo_c", "emo_o")
    modalities = ("image",)
    description = "Emotion6: 1,980 images in 6 emotion folders (330 each); the folder is the label."
    homepage = _HOMEPAGE
    licence = _LICENCE
    expected_layout = (
        "  Emotion6/images/<category>/<n>.jpg  for anger, disgust, fear, joy, sadness, surprise\n"
        "  Emotion6/ground_truth.txt  (optional here; used by emotion6_votes)"
    )
    required_files = (("images",),)
    media_is_layout = True

    def recognises(self, folder: Path) -> bool:
        """``images/`` is a common name: it must hold one of the six category folders, with images."""
        return holds_images(folder / "images", LABEL_SETS["ekman6"])

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["ekman6"]
        for item in iter_folder_images(layout, layout.data / "images"):
            if isinstance(item, Skip):
                yield item
                continue
            folder, path, relative = item
            category = folder.strip().lower()
            if category not in labels:
                yield Skip(relative, f"folder {folder!r} is not one of Emotion6's six ({', '.join(labels)})")
                continue
            missing = media_skip(layout.base, relative, relative)
            if missing:
                yield missing
                continue
            sample_id = native_id(category, path.name)
            yield from emotion_records(
                self.name, hash_split(sample_id), sample_id, relative, "image", labels, category
            )


@register_source
class Emotion6Votes(SourceAdapter):
    name = "emotion6_votes"
    tasks = ("emo_c", "emo_o")
    modalities = ("image",)
    description = "Emotion6 labelled by the majority of its 7-way vote distribution (neutral included)."
    homepage = _HOMEPAGE
    licence = _LICENCE
    expected_layout = (
        "  Emotion6/ground_truth.txt  (header, then: image_filename valence arousal + 7 vote probabilities)\n"
        "  Emotion6/images/<category>/<n>.jpg"
    )
    required_files = (("ground_truth.txt",),)

    def recognises(self, folder: Path) -> bool:
        """``ground_truth.txt`` is a common name: its first data line must be an Emotion6 vote line."""
        try:
            with (folder / "ground_truth.txt").open(encoding="utf-8-sig", errors="replace") as handle:
                lines = [line for _, line in zip(range(2), handle, strict=False)]
        except OSError:
            return False
        return len(lines) == 2 and not isinstance(parse_votes(lines[1]), str)

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        labels = LABEL_SETS["ekman7"]
        path = layout.reading(layout.path(("ground_truth.txt",)))
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            lines = handle.read().splitlines()
        parsed_lines = [
            (lineno, parse_votes(line)) for lineno, line in enumerate(lines[1:], start=2) if line.strip()
        ]
        probe = (parsed[0] for _, parsed in parsed_lines if not isinstance(parsed, str))
        image_dir = layout.media_dir(("images",), probe)
        for lineno, parsed in parsed_lines:  # line 1 is the header
            if isinstance(parsed, str):
                yield Skip(f"ground_truth.txt:{lineno}", parsed)
                continue
            filename, votes = parsed
            label = majority(votes)
            if label is None:
                yield Skip(filename, f"top vote share is tied ({votes}); no single label")
                continue
            relative = media_file(layout, image_dir, filename, filename)
            if isinstance(relative, Skip):
                yield relative
                continue
            category = PurePosixPath(filename).parent.name or "images"
            sample_id = native_id(category, filename)
            yield from emotion_records(
                self.name, hash_split(sample_id), sample_id, relative, "image", labels, label
            )
