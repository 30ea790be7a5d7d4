"""MUStARD (Castro et al., ACL 2019): 690 TV-show utterance clips labelled sarcastic or not.

Release layout: the official repository https://github.com/soujanyaporia/MUStARD, with the raw
clips (``mmsd_raw_data.zip``, Google Drive link in its README) unzipped into ``data/videos/``::

    data/sarcasm_data.json   {"1_60": {"utterance": "It's just a privilege to watch your mind at work.",
                                       "speaker": "SHELDON", "context": [...], "context_speakers": [...],
                                       "show": "BBT", "sarcasm": true}, ...}
    data/videos/utterances_final/<id>.mp4
    data/videos/context_final/<id>_c.mp4   (context clips; unused)

``utterances_final/`` is also found beside the JSON, inside ``mmsd_raw_data/`` as the zip
unpacks, or anywhere under the root.

Split: MUStARD's speaker-independent setting (utterances from *Friends* are the test set, the
other shows the train set; the repository's ``sarcasm_speaker_independent_*.jsonnet``). The
speaker-dependent setting is 5-fold cross-validation, which has no single test set. The
utterance goes into ``text``.
"""

from __future__ import annotations

from collections.abc import Iterator

from emollm_plugin.emobench.records import Record
from emollm_plugin.emobench.sources.base import Skip, SourceAdapter, SourceError, register_source
from emollm_plugin.emobench.sources.common import (
    clean_id,
    clean_text,
    clip_path,
    parse_binary,
    read_json,
    yes_no_record,
)
from emollm_plugin.emobench.sources.locate import Layout

CLIP_DIRS = ("videos/utterances_final", "utterances_final", "mmsd_raw_data/utterances_final")
TEST_SHOW = "FRIENDS"


@register_source
class MUStARD(SourceAdapter):
    name = "mustard"
    tasks = ("sarcasm",)
    modalities = ("video",)
    description = (
        "MUStARD: 690 sitcom utterance clips (Friends, BBT, Golden Girls, ...) labelled sarcastic or not."
    )
    homepage = "https://github.com/soujanyaporia/MUStARD (clips: Google Drive link in the README)"
    licence = "MIT (soujanyaporia/MUStARD); clips are TV-show excerpts, research use."
    expected_layout = (
        "  data/sarcasm_data.json  ({id: {utterance, speaker, context, context_speakers, show, sarcasm}})\n"
        "  data/videos/utterances_final/<id>.mp4  (or utterances_final/ anywhere under the root)"
    )
    required_files = (("sarcasm_data.json",),)

    def samples(self, layout: Layout) -> Iterator[Record | Skip]:
        path = layout.reading(layout.path(("sarcasm_data.json",)))
        data = read_json(path)
        if not isinstance(data, dict):
            raise SourceError(f"{path}: expected a JSON object keyed by utterance id")
        clip_dir = layout.media_dir(CLIP_DIRS, (f"{key}.mp4" for key in sorted(data)))
        for key in sorted(data):
            entry = data[key]
            native_id = clean_id(key)
            if not isinstance(entry, dict):
                yield Skip(key, "entry is not a JSON object")
                continue
            flag = parse_binary(entry.get("sarcasm"))
            if flag is None:
                yield Skip(key, "'sarcasm' is missing or not true/false")
                continue
            text = clean_text(entry.get("utterance"))
            show = entry.get("show")
            if text is None or not isinstance(show, str) or not show.strip():
                yield Skip(key, "missing 'utterance' or 'show'")
                continue
            relative = clip_path(layout, clip_dir, key)
            if isinstance(relative, Skip):
                yield relative
                continue
            split = "test" if show.strip().upper() == TEST_SHOW else "train"
            yield yes_no_record("sarcasm", self.name, split, native_id, relative, "video", flag, text)
