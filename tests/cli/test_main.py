"""The `emollm` command: every subcommand is listed, imports and explains itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emollm_plugin.cli import COMMANDS, PASSTHROUGH, main


def test_top_level_help_lists_every_command(capsys):
    assert main([]) == 0  # no command: the help, listing every command
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in PASSTHROUGH])
def test_each_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: emollm {name}" in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["trian"])
    assert exit_info.value.code == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_console_script_and_train_help(tmp_path):
    venv_bin = Path(sys.executable).parent
    version = subprocess.run([str(venv_bin / "emollm"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip()
    train = subprocess.run([str(venv_bin / "emollm"), "train", "--help"], capture_output=True, text=True, timeout=120)
    assert train.returncode == 0
    for flag in ("--mvp_tau", "--emoprompt_k", "--video_folder", "--num_frames", "--mm_projector_type", "--lora_enable"):
        assert flag in train.stdout
