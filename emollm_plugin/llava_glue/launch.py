"""The command line of one training run: ``python -m emollm_plugin.train`` with LLaVA's flags.

The pipeline, ``bench/train.py`` and the tests all start training in a fresh process with this
argv, so a flag LLaVA needs (its vision-layer choice, the image-token settings, lazy preprocessing)
is written once. The shell scripts (``scripts/lib.sh``) build the same command for launchers.
This module imports nothing of LLaVA: building an argv must not load a model library.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from emollm_plugin.mvp.config import MVPConfig, argv

#: The train entry, as a module run by the current interpreter.
ENTRY = [sys.executable, "-m", "emollm_plugin.train"]


def train_argv(
    *,
    model: str | Path,
    vision_tower: str | Path,
    data_path: str | Path,
    image_folder: str | Path,
    output_dir: str | Path,
    max_steps: int,
    batch_size: int,
    learning_rate: float,
    version: str = "emollm_v1",
    projector: str | None = "mvp",
    mvp: MVPConfig | None = None,
    model_max_length: int = 1024,
    logging_steps: int = 1,
    save_steps: int | None = None,
    seed: int | None = None,
    use_cpu: bool = True,
    num_frames: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``[python, -m, emollm_plugin.train, flags...]`` for one run; ``extra`` flags come last and win.

    ``projector`` None leaves LLaVA's default (``linear``); ``mvp`` adds its ``--mvp_*`` flags (only
    meaningful with ``projector="mvp"``); ``save_steps``
    None saves nothing but the final model; ``use_cpu`` runs on the CPU (no GPU needed).
    """
    command = [
        *ENTRY,
        "--model_name_or_path", str(model), "--vision_tower", str(vision_tower), "--version", version,
        "--data_path", str(data_path), "--image_folder", str(image_folder),
        "--mm_vision_select_layer", "-2",
        "--mm_use_im_start_end", "False", "--mm_use_im_patch_token", "False",
        "--output_dir", str(output_dir), "--max_steps", str(max_steps),
        "--per_device_train_batch_size", str(batch_size), "--learning_rate", str(learning_rate),
        "--model_max_length", str(model_max_length), "--logging_steps", str(logging_steps),
        "--report_to", "none", "--dataloader_num_workers", "0", "--lazy_preprocess", "True",
    ]
    if projector is not None:
        command += ["--mm_projector_type", projector]
    if mvp is not None:
        command += argv(mvp)
    if num_frames is not None:
        command += ["--num_frames", str(num_frames)]
    if save_steps is None:
        command += ["--save_strategy", "no"]
    else:
        command += ["--save_strategy", "steps", "--save_steps", str(save_steps), "--save_total_limit", "1"]
    if seed is not None:
        command += ["--seed", str(seed)]
    if use_cpu:
        command += ["--use_cpu", "True"]
    return command + list(extra)
