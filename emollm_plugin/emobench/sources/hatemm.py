"""HateMM (Das et al., ICWSM 2023): 1,083 BitChute videos labelled hateful or not.

Release layout (the Zenodo archive linked from https://github.com/hate-alert/HateMM, Dataset
folder)::

    HateMM_annotation.csv   video_file_name,label,hate_snippet,target
                            hate_video_1.mp4,Hate,"[['00:00:34', '00:01:24']]",Blacks
                            non_hate_video_1.mp4,Non Hate,,...
    hate_videos/<video_file_name>        the 'Hate' videos
    non_hate_videos/<video_file_name>    the 'Non Hate' videos

``label`` "Hate" is "yes", "Non Hate" is "no"; the video is looked up in the folder of its label.
The release has no text per video (no transcript), so records carry none. There is no official
split in the release, so the split is a deterministic hash of the file name (80/10/10).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, register_source
from emollm_plugin.emobench.sources.common import clean_id, hash_split, media_skip, read_table, yes_no_record

#: normalised label -> (answer, folder)
LABELS = {"hate": (True, "hate_videos"), "non hate": (False, "non_hate_videos")}


@register_source
class HateMM(SourceAdapter):
    name = "hatemm"
    tasks = ("hate",)
    modalities = ("video",)
    description = "HateMM: 1,083 BitChute videos (431 hateful, 652 not) with video-level labels."
    homepage = "https://github.com/hate-alert/HateMM (dataset on Zenodo, linked from its Dataset folder)"
    licence = "Research use under the Zenodo record's access terms; videos come from BitChute uploaders."
    expected_layout = (
        "  HateMM_annotation.csv  (video_file_name, label, hate_snippet, target)\n"
        "  hate_videos/<video_file_name>\n"
        "  non_hate_videos/<video_file_name>"
    )
    required_files = (("HateMM_annotation.csv",),)

    def iter_samples(self, root: Path) -> Iterator[Record | Skip]:
        root = Path(root)
        for lineno, row in enumerate(
            read_table(root / "HateMM_annotation.csv", ("video_file_name", "label")), start=2
        ):
            file_name = row["video_file_name"].strip()
            if not file_name:
                yield Skip(f"HateMM_annotation.csv:{lineno}", "empty video_file_name")
                continue
            if not PurePosixPath(file_name).suffix:
                file_name += ".mp4"
            label = " ".join(row["label"].replace("-", " ").replace("_", " ").lower().split())
            if label not in LABELS:
                yield Skip(file_name, f"label {row['label']!r} is neither 'Hate' nor 'Non Hate'")
                continue
            flag, folder = LABELS[label]
            native_id = clean_id(PurePosixPath(file_name).stem)
            relative = f"{folder}/{file_name}"
            missing = media_skip(root, relative, file_name)
            if missing:
                yield missing
                continue
            yield yes_no_record("hate", self.name, hash_split(native_id), native_id, relative, "video", flag)
