from __future__ import annotations

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import by_id, collect, skip_reasons, write_image

HEADER = (
    "[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t"
    "[prob. joy]\t[prob. sadness]\t[prob. surprise]\t[prob. neutral]"
)
GROUND_TRUTH = [
    "disgust/1.jpg\t2.5\t3.8\t0.133333\t0.7\t0\t0.0666667\t0.1\t0\t0",  # README's example: disgust
    "joy/2.jpg\t6.1\t4.0\t0\t0\t0\t0.2\t0\t0\t0.8",  # folder joy, votes neutral
    "fear/3.jpg\t4.0\t5.0\t0\t0\t0.5\t0\t0\t0\t0.5",  # tied votes
    "anger/9.jpg\t3.0\t6.0\t1\t0\t0\t0\t0\t0\t0",  # listed but image missing
    "sadness/4.jpg\t3.0\t3.0\t0.1",  # truncated line
]


@pytest.fixture
def emotion6_root(tmp_path):
    for name in ("disgust/1.jpg", "joy/2.jpg", "fear/3.jpg", "sadness/4.jpg", "surprise/5.jpg"):
        write_image(tmp_path / "images" / name)
    write_image(tmp_path / "images" / "calm" / "6.jpg")  # not one of the six folders
    (tmp_path / "ground_truth.txt").write_text("\n".join([HEADER, *GROUND_TRUTH]) + "\n", encoding="utf-8")
    return tmp_path


def test_emotion6_uses_the_folder_as_label(emotion6_root):
    records, skips = collect(get_source("emotion6"), emotion6_root)
    close = {r.id: r for r in records if r.task == "emo_c"}
    assert {r.answer for r in close.values()} == {"disgust", "joy", "fear", "sadness", "surprise"}
    record = close[f"emotion6-{hash_split('disgust_1')}-disgust_1"]
    assert record.media == "images/disgust/1.jpg" and record.options == list(LABEL_SETS["ekman6"])
    assert "[anger, disgust, fear, joy, sadness, surprise]" in record.question
    reasons = skip_reasons(skips)
    assert set(reasons) == {"images/calm/6.jpg"}
    assert "not one of Emotion6's six" in reasons["images/calm/6.jpg"]


def test_emotion6_votes_uses_the_majority_of_ground_truth(emotion6_root):
    records, skips = collect(get_source("emotion6_votes"), emotion6_root)
    close = {r.id.split("-", 2)[2]: r for r in records if r.task == "emo_c"}
    assert {k: r.answer for k, r in close.items()} == {"disgust_1": "disgust", "joy_2": "neutral"}
    assert close["joy_2"].options == list(LABEL_SETS["ekman7"])
    # Same image, same split in both adapters.
    assert close["joy_2"].split == hash_split("joy_2")
    assert len(by_id(records)) == 4
    reasons = skip_reasons(skips)
    assert "tied" in reasons["fear/3.jpg"]
    assert "media file not found: images/anger/9.jpg" in reasons["anger/9.jpg"]
    assert "expected 10 fields" in reasons["ground_truth.txt:6"]


def test_emotion6_layout_errors_name_the_missing_file(emotion6_root, tmp_path_factory):
    (emotion6_root / "ground_truth.txt").unlink()
    get_source("emotion6").check_layout(emotion6_root)  # the folder adapter does not need it
    with pytest.raises(FileNotFoundError, match=r"emotion6_votes: missing .*ground_truth\.txt"):
        get_source("emotion6_votes").check_layout(emotion6_root)
    with pytest.raises(FileNotFoundError, match=r"emotion6: missing .*images"):
        get_source("emotion6").check_layout(tmp_path_factory.mktemp("empty"))
