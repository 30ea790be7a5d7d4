"""The one training argv (pipeline, bench, tests) parses with the train entry's own parser; MVP flags from MVPConfig."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from emollm_plugin.llava_glue.launch import train_argv
from emollm_plugin.llava_glue.train import parse_flags
from emollm_plugin.mvp import MVPConfig
from emollm_plugin.mvp.config import from_values, options


def test_train_argv_is_what_the_train_entry_reads(tmp_path: Path) -> None:
    mvp = MVPConfig(tau=0.3, global_pool="attention", hidden_size=48)
    command = train_argv(
        model=tmp_path / "llm", vision_tower=tmp_path / "vision", data_path=tmp_path / "d.json",
        image_folder=tmp_path, output_dir=tmp_path / "out", mvp=mvp, max_steps=7, batch_size=2,
        learning_rate=1e-3, save_steps=5, seed=3, num_frames=4, extra=["--max_steps", "9"],
    )
    assert command[:3] == [sys.executable, "-m", "emollm_plugin.train"]
    model_args, data_args, training_args = parse_flags(command[3:])
    assert model_args.mm_projector_type == "mvp" and model_args.mm_vision_select_layer == -2
    assert from_values(model_args) == mvp  # every MVP option arrives as given
    assert (model_args.version, data_args.num_frames, data_args.lazy_preprocess) == ("emollm_v1", 4, True)
    assert training_args.max_steps == 9  # extra flags come last and win
    assert (training_args.save_steps, training_args.save_total_limit, training_args.seed) == (5, 1, 3)
    assert training_args.use_cpu and training_args.report_to == []


def test_without_a_projector_llava_keeps_its_default(tmp_path: Path) -> None:
    command = train_argv(model="m", vision_tower="v", data_path="d.json", image_folder=".", output_dir=tmp_path,
                         projector=None, max_steps=1, batch_size=1, learning_rate=1.0, use_cpu=False)
    assert "--mm_projector_type" not in command and "--use_cpu" not in command and "--mvp_tau" not in command
    assert command[command.index("--save_strategy") + 1] == "no"


def test_every_mvp_option_is_a_train_flag_with_its_help() -> None:
    from emollm_plugin.llava_glue.args import EmoModelArguments

    fields = {field.name: field for field in dataclasses.fields(EmoModelArguments)}
    for option in options():
        assert fields[option.flag].default == option.default
        assert fields[option.flag].metadata["help"] == option.help
