"""The training scripts: valid bash, and every flag they pass is one the plugin's train entry accepts.

Each script runs for real with ``DRY_RUN=1`` (it prints its commands instead of launching them)
and placeholder inputs; the printed train commands are then parsed by the plugin's own
``parse_flags`` and checked by ``check_flags`` in a fresh process, so a misspelt flag, a removed
LLaVA flag or an invalid MVP option fails here instead of after a multi-GPU job has started.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO

SCRIPTS = REPO / "scripts"
TRAIN_SCRIPTS = ("pretrain_mvp.sh", "finetune.sh", "finetune_lora.sh", "sequential.sh")
ENTRY = "emollm_plugin.train"

#: Flags that TrainingArguments checks against the hardware while parsing (``--tf32 True`` needs an
#: Ampere GPU); their values are replaced here, their names are still parsed.
HARDWARE_FLAGS = {"--bf16": "False", "--tf32": "False", "--fp16": "False"}

#: Parses each argv with the plugin's parser and checks it as the train entry would, in a fresh
#: process: TrainingArguments with --deepspeed sets process-wide DeepSpeed state.
PARSE_PROGRAM = r"""
import json, sys
import emollm_plugin
from emollm_plugin.llava_glue.train import check_flags, parse_flags

emollm_plugin.register()
results = []
for argv in json.load(sys.stdin):
    try:
        model, data, training = parse_flags(argv)
        check_flags(model, data, training)
    except (Exception, SystemExit) as error:
        results.append({"error": f"{type(error).__name__}: {error}"})
        continue
    values = {**vars(model), **vars(data)}
    for name in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "deepspeed",
                 "output_dir", "lora_enable", "lora_r", "lora_alpha", "mm_projector_lr", "num_train_epochs",
                 "model_max_length", "max_steps"):
        values[name] = getattr(training, name)
    results.append({"values": {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool, type(None)))}})
json.dump(results, sys.stdout)
"""


def shell_scripts() -> list[Path]:
    return sorted(SCRIPTS.glob("*.sh"))


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: p.name)
def test_bash_syntax(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def documented_variables(header: str) -> set[str]:
    """Names the header's "Variables" section documents, e.g. ``#   NUM_GPUS [8]  GLOBAL_BATCH [128]``;
    a header that says "every variable of scripts/X.sh" documents X's too."""
    section = header.split("Variables", 1)[1]
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+) \[", section))
    for inherited in re.findall(r"every variable of\s+#?\s*scripts/(\w+\.sh)", section):
        names |= documented_variables((SCRIPTS / inherited).read_text().split("set -euo pipefail")[0])
    return names


def script_texts(name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The script's body and those of the scripts it sources or launches (lib.sh, finetune.sh, ...), transitively."""
    body = (SCRIPTS / name).read_text().split("set -euo pipefail", 1)[-1]
    texts = [body]
    for other in shell_scripts():
        if other.name not in seen | {name} and other.name in body:
            texts += script_texts(other.name, seen | {name})
    return texts


def referenced_variables(texts: list[str]) -> set[str]:
    return {match for text in texts for match in re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text)}


def defaulted_variables(body: str) -> set[str]:
    """Names the script itself reads with a default, ``${NAME:-...}``: the knobs a user may set."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", body))


@pytest.mark.parametrize("name", (*TRAIN_SCRIPTS, "train_tiny_cpu.sh"))
def test_header_documents_exactly_the_variables_the_script_reads(name):
    """The header is the script's --help: every variable it names is read, and every one read is named."""
    script = SCRIPTS / name
    text = script.read_text()
    assert os.access(script, os.X_OK), f"{name} is not executable"
    assert "set -euo pipefail" in text, f"{name} must stop at the first failing command"
    header, body = text.split("set -euo pipefail", 1)
    documented = documented_variables(header)
    unread = documented - referenced_variables(script_texts(name))
    assert not unread, f"{name}: documented but never read: {sorted(unread)}"
    undocumented = defaulted_variables(body) - documented
    assert not undocumented, f"{name}: read but not documented in its header: {sorted(undocumented)}"


@pytest.fixture
def placeholders(tiny_model, tmp_path) -> dict[str, str]:
    """Inputs the scripts check for: real files with placeholder content, and the tiny model."""
    data = tmp_path / "data.json"
    data.write_text("[]")
    images = tmp_path / "media"
    images.mkdir()
    projector = tmp_path / "mm_projector.bin"
    torch.save({"model.mm_projector.0.weight": torch.zeros(2, 2)}, projector)  # train checks that it loads
    exemplars = tmp_path / "exemplars.json"
    exemplars.write_text("{}")
    return {
        "MODEL": str(tiny_model / "llm"), "VISION": str(tiny_model / "vision"), "DATA": str(data),
        "IMAGE_FOLDER": str(images), "EMOBENCH_DIR": str(images), "PROJECTOR": str(projector),
        "EXEMPLARS": str(exemplars), "OUT": str(tmp_path / "out"), "STAGE1_DATA": str(data),
        "STAGE1_IMAGES": str(images),
    }


def dry_run(name: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPTS / name), *extra], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, **env, "DRY_RUN": "1"},
    )


def printed_commands(result: subprocess.CompletedProcess) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def train_argv(command: list[str]) -> list[str]:
    """The arguments a printed launcher command passes to the train entry, hardware flags neutralised."""
    assert ENTRY in command, command
    argv = command[command.index(ENTRY) + 1:]
    return [HARDWARE_FLAGS.get(argv[i - 1], item) if i else item for i, item in enumerate(argv)]


def parse(argvs: list[list[str]]) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", PARSE_PROGRAM], input=json.dumps(argvs), capture_output=True, text=True,
        cwd=REPO, timeout=300, env={**os.environ, "DS_ACCELERATOR": "cpu", "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def parsed_ok(argvs: list[list[str]]) -> list[dict]:
    results = parse(argvs)
    for argv, result in zip(argvs, results, strict=True):
        assert "error" not in result, f"{result['error']}\nargv: {shlex.join(argv)}"
    return [result["values"] for result in results]


def global_batch(values: dict, gpus: int) -> int:
    return values["per_device_train_batch_size"] * values["gradient_accumulation_steps"] * gpus


def test_every_flag_of_every_train_script_is_accepted(placeholders, tmp_path):
    stage1 = Path(placeholders["OUT"]) / "llava-stage1"
    stage1.mkdir(parents=True)  # stands in for stage 1's output, which stage 2 starts from
    shutil.copy(Path(placeholders["MODEL"]) / "config.json", stage1 / "config.json")
    env = {**placeholders, "EMOPROMPT_K": "2", "MAX_FPS": "2", "WARM_START": placeholders["PROJECTOR"]}
    commands = {name: printed_commands(dry_run(name, env)) for name in TRAIN_SCRIPTS}
    argvs = [train_argv(c) for name in TRAIN_SCRIPTS for c in commands[name] if ENTRY in c]
    assert len(argvs) == 5  # pretrain, finetune, finetune_lora, sequential's two stages
    pretrain, finetune, lora, stage_1, stage_2 = parsed_ok(argvs)

    assert pretrain["tune_mm_mlp_adapter"] is True and pretrain["version"] == "plain"
    assert pretrain["learning_rate"] == 1e-3 and global_batch(pretrain, 8) == 256
    assert pretrain["pretrain_mm_mlp_adapter"] == placeholders["PROJECTOR"]  # WARM_START
    assert pretrain["deepspeed"] == "scripts/zero2.json"

    assert finetune["learning_rate"] == 2e-5 and global_batch(finetune, 8) == 128
    assert finetune["version"] == "emollm_v1" and finetune["deepspeed"] == "scripts/zero3.json"
    assert finetune["emoprompt_k"] == 2 and finetune["max_fps"] == 2.0
    assert finetune["num_frames"] * 576 < finetune["model_max_length"]

    assert lora["lora_enable"] is True and (lora["lora_r"], lora["lora_alpha"]) == (128, 256)
    assert lora["learning_rate"] == 2e-4 and lora["mm_projector_lr"] == 2e-5

    assert stage_1["data_path"] == placeholders["STAGE1_DATA"] and stage_1["version"] == "v1"
    assert stage_1["pretrain_mm_mlp_adapter"] == placeholders["PROJECTOR"] and stage_1["emoprompt_k"] == 0
    assert stage_2["model_name_or_path"] == stage_1["output_dir"] == str(stage1)
    assert stage_2["pretrain_mm_mlp_adapter"] is None and stage_2["emoprompt_k"] == 2
    assert stage_2["version"] == "emollm_v1"
    for values in (pretrain, finetune, lora, stage_1, stage_2):
        assert values["mm_projector_type"] == "mvp" and values["mvp_tau"] == 0.5
    assert {k: v for k, v in stage_1.items() if k.startswith("mvp_")} == {
        k: v for k, v in stage_2.items() if k.startswith("mvp_")
    }


def test_lora_script_merges_its_own_output_with_its_base(placeholders):
    commands = printed_commands(dry_run("finetune_lora.sh", placeholders))
    assert len(commands) == 2
    merge = commands[1]
    assert Path(merge[1]).name == "merge_lora.py"
    options = dict(zip(merge[2::2], merge[3::2], strict=False))
    out = options["--lora"]
    assert train_argv(commands[0])[train_argv(commands[0]).index("--output_dir") + 1] == out
    assert options["--base"] == placeholders["MODEL"] and options["--out"] == out + "-merged"


def test_extra_arguments_win_and_typos_are_caught(placeholders):
    commands = printed_commands(dry_run("finetune.sh", placeholders, "--learning_rate", "1e-5", "--mvp_tua", "0.3"))
    argv = train_argv(commands[0])
    [result] = parse([argv])
    assert "mvp_tua" in result.get("error", ""), result
    commands = printed_commands(dry_run("finetune.sh", placeholders, "--learning_rate", "1e-5"))
    [values] = parsed_ok([train_argv(commands[0])])
    assert values["learning_rate"] == 1e-5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GLOBAL_BATCH": "100"}, "GLOBAL_BATCH=100 is not a multiple"),
        ({"NUM_FRAMES": "8"}, "NUM_FRAMES=8"),  # 8 x 576 visual tokens do not fit in 4096
        ({"NUM_FRAMES": "16", "VIDEO_POOL": "1"}, "set VIDEO_POOL=2"),
        ({"VIDEO_POOL": "0"}, "VIDEO_POOL=0 must be >= 1"),
        ({"DATA": "/nonexistent/train.json"}, "DATA=/nonexistent/train.json: no such file"),
        ({"PROJECTOR": "/nonexistent/mm_projector.bin"}, "run scripts/pretrain_mvp.sh first"),
        ({"EMOPROMPT_K": "2", "EXEMPLARS": ""}, "needs EXEMPLARS"),
        ({"LAUNCHER": "mpirun"}, "use deepspeed or torchrun"),
    ],
)
def test_finetune_refuses_bad_settings_before_launching(placeholders, env, message):
    result = dry_run("finetune.sh", {**placeholders, **env})
    assert result.returncode == 2 and not result.stdout
    assert message in result.stderr


def test_finetune_fits_sixteen_pooled_frames(placeholders):
    """VIDEO_POOL=2: 16 frames x 144 tokens fit Vicuna's 4096 context, and the pool reaches the train entry."""
    (command,) = printed_commands(dry_run("finetune.sh", {**placeholders, "NUM_FRAMES": "16", "VIDEO_POOL": "2"}))
    argv = train_argv(command)
    assert argv[argv.index("--mm_video_pool") + 1] == "2" and argv[argv.index("--num_frames") + 1] == "16"


def test_finetune_accepts_llava_and_emollm_checkpoints(placeholders, tmp_path):
    # An mlp2x_gelu projector is upgraded to MVP by the train entry (tests/llava_glue/test_mvp_llava.py).
    llava = tmp_path / "llava-v1.5"
    llava.mkdir()
    for projector in ("mlp2x_gelu", "mvp"):
        (llava / "config.json").write_text(json.dumps({"model_type": "llava_llama", "mm_projector_type": projector}))
        assert dry_run("finetune.sh", {**placeholders, "MODEL": str(llava), "PROJECTOR": ""}).returncode == 0


def test_torchrun_launcher_and_stage1_without_videos(placeholders):
    env = {**placeholders, "LAUNCHER": "torchrun", "NUM_GPUS": "2", "PER_DEVICE_BATCH": "4", "GLOBAL_BATCH": "16"}
    stage_1, _ = printed_commands(dry_run("sequential.sh", env))
    assert stage_1[:4] == [".venv/bin/torchrun", "--nproc_per_node", "2", "--master_port"]
    assert stage_1[5:7] == ["-m", ENTRY]
    argv = train_argv(stage_1)
    assert argv[argv.index("--gradient_accumulation_steps") + 1] == "2"
    assert argv[argv.index("--num_frames") + 1] == "1" and argv[argv.index("--model_max_length") + 1] == "2048"


def test_default_output_folders_follow_llavas_naming():
    """LLaVA's tools read "llava" (and "lora") in a checkpoint's folder name; the scripts' defaults say so."""
    defaults = {}
    for name in ("pretrain_mvp.sh", "finetune.sh", "finetune_lora.sh", "sequential.sh"):
        found = re.search(r"^OUT=\$\{OUT:-([^}]+)\}", (REPO / "scripts" / name).read_text(), re.MULTILINE)
        assert found, f"{name}: no OUT default"
        defaults[name] = found.group(1)
    assert all("llava" in Path(folder).name for folder in defaults.values()), defaults
    assert "lora" in Path(defaults["finetune_lora.sh"]).name
    assert re.search(r"^stage2=\$OUT/llava-", (REPO / "scripts" / "sequential.sh").read_text(), re.MULTILINE)
