"""HateMM (Das et al., ICWSM 2023): 1,083 BitChute videos labelled hateful or not.

Release layout (the Zenodo archive linked from https://github.com/hate-alert/HateMM, Dataset
folder; unpacked into its own folder, e.g. ``HateMM/``)::

    HateMM/HateMM_annotation.csv   video_file_name,label,hate_snippet,target
                                   hate_video_1.mp4,Hate,"[['00:00:34', '00:01:24']]",Blacks
                                   non_hate_video_1.mp4,Non Hate,,...
    HateMM/hate_videos/<video_file_name>        the 'Hate' videos
    HateMM/non_hate_videos/<video_file_name>    the 'Non Hate' videos

The two video folders are found beside the CSV or anywhere under the root.

``label`` "Hate" is "yes", "Non Hate" is "no"; the video is looked up in the folder of its label.
The release has no text per video (no transcript), so records carry none. There is no official
split in the release, so the split is a deterministic hash of the file name (80/10/10).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import clean_id, hash_split, iter_table, media_file, yes_no_record
from emollm_plugin.emobench.sources.locate import Layout

#: normalised label -> (answer, folder)
LABELS = {"hate": (True, "hate_videos"), "non hate": (False, "non_hate_videos")}


def normalise_label(label: str) -> str:
    """``"Non-Hate"``, ``"non_hate"`` -> ``"non hate"``."""
    return " ".join(label.replace("-", " ").replace("_", " ").lower().split())


def video_name(file_name: str) -> str:
    """The file name as in the video folder (the CSV sometimes leaves out ``.mp4``)."""
    file_name = file_name.strip()
    return file_name if PurePosixPath(file_name).suffix else f"{file_name}.mp4"


@register_source
class HateMM(SourceAdapter):
    name = "hatemm"
    tasks = ("hate",)
    modalities = ("video",)
    description = "HateMM: 1,083 BitChute videos (431 hateful, 652 not) with video-level labels."
    homepage = "https://github.com/hate-alert/HateMM (dataset on Zenodo, linked from its Dataset folder)"
    licence = "Research use under the Zenodo record's access terms; videos come from BitChute uploaders."
    expected_layout = (
        "  HateMM/HateMM_annotation.csv  (video_file_name, label, hate_snippet, target)\n"
        "  HateMM/hate_videos/<video_file_name>\n"
        "  HateMM/non_hate_videos/<video_file_name>"
    )
    required_files = (("HateMM_annotation.csv",),)

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        path = layout.reading(layout.path(("HateMM_annotation.csv",)))
        rows = list(iter_table(path, ("video_file_name", "label")))
        folders = {}
        for label, (_, folder) in LABELS.items():
            probe = (
                video_name(row["video_file_name"])
                for _, row in rows
                if isinstance(row, dict) and normalise_label(row["label"]) == label
            )
            folders[folder] = layout.media_dir((folder,), probe)
        for lineno, row in rows:
            if isinstance(row, Skip):
                yield row
                continue
            file_name = row["video_file_name"].strip()
            if not file_name:
                yield Skip(f"HateMM_annotation.csv:{lineno}", "empty video_file_name")
                continue
            file_name = video_name(file_name)
            label = normalise_label(row["label"])
            if label not in LABELS:
                yield Skip(file_name, f"label {row['label']!r} is neither 'Hate' nor 'Non Hate'")
                continue
            flag, folder = LABELS[label]
            native_id = clean_id(PurePosixPath(file_name).stem)
            relative = media_file(layout, folders[folder], file_name, file_name, strip=(folder,))
            if isinstance(relative, Skip):
                yield relative
                continue
            yield yes_no_record("hate", self.name, hash_split(native_id), native_id, relative, "video", flag)
