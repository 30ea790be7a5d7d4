"""Bad train input fails first and in one line, through the real ``emollm train`` / ``python -m emollm_plugin.train``.

Each case feeds one wrong flag or file to the train entry and expects exit code 2 and one
``emollm train: error:`` line naming the flag or file, before any model is loaded. The offline
case runs as its own process, because what it checks is the order of imports at start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from emollm_plugin.cli import main as emollm
from tests.conftest import REPO, train_command


def train(capsys, argv: list[str]) -> tuple[int, str]:
    """``emollm train ARGV`` in this process (the flags of ``train_command`` without the interpreter)."""
    code = emollm(["train", *argv[3:]])
    return code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("emollm train: error:")]
    assert len(lines) == 1, err[-3000:]
    assert "Traceback" not in err
    return lines[0]


def with_flag(command: list[str], flag: str, value: str | None) -> list[str]:
    """``command`` with ``flag`` set to ``value`` (replaced when present, dropped when value is None)."""
    out = list(command)
    if flag in out:
        at = out.index(flag)
        del out[at:at + 2]
    return out if value is None else [*out, flag, value]


def test_a_hub_name_fails_offline_within_seconds_with_the_readme_hint(tiny_model, colour_data, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    command = with_flag(train_command(tiny_model, colour_data, tmp_path / "run"),
                        "--model_name_or_path", "no-such-org/no-such-model-xyz")
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    # The hint is the offline one: huggingface_hub read HF_HUB_OFFLINE=1 when it was imported.
    assert "--model_name_or_path no-such-org/no-such-model-xyz: no such folder, and not in the Hugging Face cache" in line
    assert "`.venv/bin/hf download no-such-org/no-such-model-xyz`" in line
    assert "export HF_HUB_OFFLINE=0 TRANSFORMERS_OFFLINE=0" in line
    assert elapsed < 120, f"took {elapsed:.0f} s: start-up plus an offline look-up, never network retries"


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--num_frames", "0", "--num_frames must be >= 1 (frames sampled per video), got 0"),
        ("--max_media_retries", "-1", "--max_media_retries must be >= 0, got -1"),
        ("--mm_projector_type", "mlp2x_relu", "--mm_projector_type 'mlp2x_relu' is unknown; use linear, mlp2x_gelu"),
        ("--model_name_or_path", None, "--model_name_or_path is required"),
    ],
)
def test_bad_flags_are_refused_in_one_line(flag, value, expected, tiny_model, colour_data, tmp_path, capsys):
    command = with_flag(train_command(tiny_model, colour_data, tmp_path / "run"), flag, value)
    code, err = train(capsys, command)
    assert code == 2
    assert expected in one_error_line(err)
    assert not (tmp_path / "run").exists(), "nothing may start before the flags are checked"


def test_a_truncated_data_json_is_named(tiny_model, colour_data, tmp_path, capsys):
    data = tmp_path / "train.json"
    text = colour_data.read_text()
    data.write_text(text[: len(text) // 2])
    command = with_flag(train_command(tiny_model, colour_data, tmp_path / "run"), "--data_path", str(data))
    code, err = train(capsys, command)
    assert code == 2
    assert f"{data}: not valid JSON (" in one_error_line(err)
    assert "truncated" in err


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"conversations": []}, "sample 1 (id 'colour-1') 'conversations' must be a non-empty list"),
        ({"conversation": "x", "conversations": None}, "sample 1 (id 'colour-1') has 'conversation'; LLaVA reads 'conversations'"),
        ({"conversations": [{"from": "human", "value": "<image>\nQ?"}, {"from": "gpt"}]},
         "sample 1 (id 'colour-1') turn 1 has no text 'value'"),
    ],
)
def test_malformed_samples_are_refused_before_the_model_loads(broken, problem, tiny_model, colour_data, tmp_path,
                                                             capsys):
    samples = json.loads(colour_data.read_text())
    samples[1].update(broken)
    if samples[1]["conversations"] is None:
        del samples[1]["conversations"]
    data = tmp_path / "train.json"
    data.write_text(json.dumps(samples))
    command = with_flag(train_command(tiny_model, colour_data, tmp_path / "run"), "--data_path", str(data))
    code, err = train(capsys, command)
    assert code == 2
    line = one_error_line(err)
    assert f"{data}: 1 malformed sample(s) of {len(samples)}: {problem}" in line


def test_a_truncated_safetensors_base_is_named(tiny_model, colour_data, tmp_path, capsys):
    llm = tmp_path / "llm"
    shutil.copytree(tiny_model / "llm", llm)
    weights = next(llm.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    command = with_flag(train_command(tiny_model, colour_data, tmp_path / "run"), "--model_name_or_path", str(llm))
    code, err = train(capsys, command)
    assert code == 2
    assert f"{weights} is truncated or corrupt" in one_error_line(err)


def test_a_truncated_checkpoint_is_named_by_the_runner(trained, tmp_path):
    from emollm_plugin.llava_glue.inference import CheckpointError, load_runner

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(trained[0], checkpoint, ignore=shutil.ignore_patterns("checkpoint-*"))
    weights = next(checkpoint.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=f"{weights} is truncated or corrupt"):
        load_runner(str(checkpoint))
