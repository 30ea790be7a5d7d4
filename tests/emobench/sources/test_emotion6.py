from __future__ import annotations

from pathlib import Path

import pytest

from emollm_plugin.emobench.sources import get_source
from emollm_plugin.emobench.sources.common import hash_split
from emollm_plugin.emobench.tasks import LABEL_SETS

from .helpers import collect, skip_reasons, summary, write_image

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


def write_emotion6(parent: Path) -> Path:
    """``parent/Emotion6/`` as Emotion6.zip unpacks."""
    top = parent / "Emotion6"
    for name in (
        "anger/7.jpg",
        "disgust/1.jpg",
        "joy/2.jpg",
        "fear/3.jpg",
        "sadness/4.jpg",
        "surprise/5.jpg",
    ):
        write_image(top / "images" / name)
    write_image(top / "images" / "calm" / "6.jpg")  # not one of the six folders
    (top / "ground_truth.txt").write_text("\n".join([HEADER, *GROUND_TRUTH]) + "\n", encoding="utf-8")
    return parent


@pytest.fixture
def emotion6_root(tmp_path):
    return write_emotion6(tmp_path / "downloads")


def test_emotion6_uses_the_folder_as_label(emotion6_root):
    records, skips = collect(get_source("emotion6"), emotion6_root)
    assert summary(records) == {
        f"emotion6-{hash_split(f'{c}_{n}')}-{c}_{n}": (
            hash_split(f"{c}_{n}"),
            c,
            f"Emotion6/images/{c}/{n}.jpg",
        )
        for c, n in [("anger", 7), ("disgust", 1), ("joy", 2), ("fear", 3), ("sadness", 4), ("surprise", 5)]
    }
    record = next(r for r in records if r.id.endswith("-disgust_1"))
    assert record.options == list(LABEL_SETS["ekman6"])
    assert "[anger, disgust, fear, joy, sadness, surprise]" in record.question
    reasons = skip_reasons(skips)
    assert set(reasons) == {"Emotion6/images/calm/6.jpg"}
    assert "not one of Emotion6's six" in reasons["Emotion6/images/calm/6.jpg"]


def test_emotion6_votes_uses_the_majority_of_ground_truth(emotion6_root):
    source = get_source("emotion6_votes")
    records, skips = collect(source, emotion6_root)
    assert summary(records) == {
        f"emotion6_votes-{hash_split('disgust_1')}-disgust_1": (
            hash_split("disgust_1"),
            "disgust",
            "Emotion6/images/disgust/1.jpg",
        ),
        f"emotion6_votes-{hash_split('joy_2')}-joy_2": (
            hash_split("joy_2"),
            "neutral",
            "Emotion6/images/joy/2.jpg",
        ),
    }
    assert next(r for r in records if r.id.endswith("joy_2")).options == list(LABEL_SETS["ekman7"])
    reasons = skip_reasons(skips)
    assert "tied" in reasons["fear/3.jpg"]
    assert reasons["anger/9.jpg"] == "media file not found: Emotion6/images/anger/9.jpg"
    assert "expected 10 fields" in reasons["ground_truth.txt:6"]
    assert source.file_counts == {"Emotion6/ground_truth.txt": {"records": 4, "skipped": 3}}


def test_emotion6_layout_errors_name_the_missing_file(emotion6_root, tmp_path_factory):
    (emotion6_root / "Emotion6" / "ground_truth.txt").unlink()
    get_source("emotion6").check_layout(emotion6_root)  # the folder adapter does not need it
    with pytest.raises(FileNotFoundError, match=r"emotion6_votes: no release .* holding ground_truth\.txt"):
        get_source("emotion6_votes").check_layout(emotion6_root)
    with pytest.raises(FileNotFoundError, match=r"emotion6: no release .* holding images in it"):
        get_source("emotion6").check_layout(tmp_path_factory.mktemp("empty"))


def test_an_images_folder_of_another_dataset_is_not_emotion6(tmp_path):
    write_image(tmp_path / "images" / "low" / "a1.jpg")  # Intentonomy's images/ is not Emotion6's
    with pytest.raises(FileNotFoundError, match="emotion6: no release"):
        get_source("emotion6").check_layout(tmp_path)


def test_a_ground_truth_txt_of_another_dataset_is_not_emotion6(tmp_path):
    (tmp_path / "ground_truth.txt").write_text("id,label\n1,cat\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="emotion6_votes: no release"):
        get_source("emotion6_votes").check_layout(tmp_path)
