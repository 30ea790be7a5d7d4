"""`emollm data sources --root` and `emollm data build --media-root` through the real command."""

from __future__ import annotations

import shutil

from emollm_plugin.cli import main as emollm
from tests.emobench.sources.test_meld import write_meld
from tests.emobench.sources.test_mustard import write_mustard


def test_sources_root_names_each_release_and_its_build_command(tmp_path, capsys):
    downloads = tmp_path / "downloads"
    write_meld(downloads / "meld")
    write_mustard(downloads / "mustard")
    assert emollm(["data", "sources", "--root", str(downloads)]) == 0
    out = capsys.readouterr().out
    assert f"meld: {downloads / 'meld' / 'MELD.Raw'}" in out
    assert f"emollm data build --source meld --root {downloads} --out OUT" in out
    assert f"emollm data build --source mustard --root {downloads} --out OUT" in out


def test_sources_root_with_nothing_known_says_where_to_look(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert emollm(["data", "sources", "--root", str(tmp_path / "empty")]) == 1
    assert "no known release" in capsys.readouterr().out
    assert emollm(["data", "sources", "--root", str(tmp_path / "absent")]) == 2


def test_build_media_root_from_the_command_line(tmp_path, capsys):
    root = write_mustard(tmp_path / "repo")
    clips = tmp_path / "big_disk"
    shutil.move(root / "MUStARD" / "data" / "videos", clips)
    out = tmp_path / "bench"
    assert emollm(["data", "build", "--source", "mustard", "--root", str(root), "--out", str(out),
                   "--no-progress"]) == 1
    assert "utterances_final" in capsys.readouterr().err
    assert emollm(["data", "build", "--source", "mustard", "--root", str(root), "--media-root", str(clips),
                   "--out", str(out), "--no-progress"]) == 0
    assert (out / "media" / "mustard").resolve() == clips.resolve()
    assert len((out / "records" / "mustard.jsonl").read_text().splitlines()) == 2
