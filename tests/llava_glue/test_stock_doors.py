"""LLaVA's and lmms-eval's own entry points know EmoLLM with no code change (the autoload hook).

Each door runs in a fresh subprocess whose own code never imports emollm_plugin: the plugin arrives
only through the installed ``emollm_plugin-autoload.pth``. The 2-rank DeepSpeed door (ZeRO-3 and
resume) is in ``test_distributed_and_resume.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emollm_plugin.autoload import ENV
from emollm_plugin.lmms_glue.results import load_run
from tests.conftest import REPO, run_ok, train_command

pytestmark = pytest.mark.slow

#: What the user adds to LLaVA's own train command (LLaVA's scripts already pass --evaluation_strategy).
EMOLLM_FLAGS = ("--mm_projector_type", "mvp", "--mvp_tau", "0.3", "--num_frames", "2", "--seed", "7",
                "--evaluation_strategy", "no")


def stock_train_command(command: list[str]) -> list[str]:
    """The plugin's train command (tests.conftest) turned into LLaVA's own: ``python -m llava.train.train``."""
    assert command[1:3] == ["-m", "emollm_plugin.train"]
    return [command[0], "-m", "llava.train.train", *command[3:]]


def projector_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if ".mm_projector." in k}


@pytest.fixture(scope="module")
def stock_runs(tiny_model, tmp_path_factory):
    """The same 2-step MVP run through LLaVA's door and the plugin's, on images and videos; folders lack "llava"."""
    from emollm_plugin.emobench.synth import synthesize

    base = tmp_path_factory.mktemp("stock")
    emobench = synthesize(base / "emobench", per_task=4, test_per_task=4, frames=4)
    runs = {}
    for door in ("stock", "plugin"):
        out = base / f"emollm-mvp-{door}"
        command = train_command(tiny_model, emobench / "llava" / "train.json", out, *EMOLLM_FLAGS, steps=2)
        command[command.index("--image_folder") + 1] = str(emobench)
        runs[door] = (stock_train_command(command) if door == "stock" else command, out)
    procs = {door: subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for door, (command, _) in runs.items()}
    for door, proc in procs.items():
        output, _ = proc.communicate(timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"{door} door failed ({proc.returncode}): {' '.join(runs[door][0])}\n{output[-6000:]}")
    return runs["stock"][1], runs["plugin"][1], emobench


def test_llava_train_module_writes_the_plugin_entrys_checkpoint(stock_runs):
    stock, plugin, emobench = stock_runs
    assert '"video"' in (emobench / "llava" / "train.json").read_text(), "the run must include video records"
    config = json.loads((stock / "config.json").read_text())
    assert config["mm_projector_type"] == "mvp" and config["mvp_tau"] == 0.3
    assert config["emollm_version"] == "emollm_v1"
    assert json.loads((stock / "trainer_state.json").read_text())["global_step"] == 2
    assert not (stock / "skipped_samples.jsonl").exists(), "every image and video was read"
    ours, theirs = projector_tensors(stock), projector_tensors(plugin)
    assert ours and sorted(ours) == sorted(theirs)
    for name in ours:  # same seed, same function behind both doors: the same weights
        assert torch.allclose(ours[name], theirs[name], atol=1e-6), name


def test_load_pretrained_model_follows_the_checkpoint_not_its_folder_name(stock_runs, tmp_path):
    stock, _, _ = stock_runs
    assert "llava" not in stock.name
    dump = tmp_path / "projector.pt"
    code = (
        "import sys, torch\n"
        "from llava.mm_utils import get_model_name_from_path\n"
        "from llava.model.builder import load_pretrained_model\n"
        "tok, model, processor, _ = load_pretrained_model(sys.argv[1], None, get_model_name_from_path(sys.argv[1]), "
        "device='cpu')\n"
        "projector = model.get_model().mm_projector\n"
        "print(type(projector).__name__, processor is not None)\n"
        "torch.save({k: v.float() for k, v in projector.state_dict().items()}, sys.argv[2])\n"
    )
    printed = run_ok([sys.executable, "-c", code, str(stock), str(dump)])
    assert "MVPProjector True" in printed
    loaded = torch.load(dump)
    saved = {k.split(".mm_projector.", 1)[1]: v for k, v in projector_tensors(stock).items()}
    assert sorted(loaded) == sorted(saved)
    for name, value in saved.items():  # LLaVA's loader works in float16
        assert torch.equal(loaded[name], value.half().float()), name


def test_stock_lmms_eval_llava_scores_emobench_image_records(stock_runs, tmp_path):
    """lmms-eval's own `--model llava`: no --include_path, the checkpoint's template, a results file with accuracy."""
    stock, _, emobench = stock_runs
    images = tmp_path / "emobench-images"
    (images / "test").mkdir(parents=True)
    (images / "media").symlink_to(emobench / "media")
    rows = [line for line in (emobench / "test" / "emo_c.jsonl").read_text().splitlines()
            if json.loads(line)["modality"] == "image"]
    (images / "test" / "emo_c.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    printed = run_ok(
        [sys.executable, "-m", "lmms_eval", "--model", "llava", "--model_args", f"pretrained={stock},device_map=auto",
         "--device", "cpu", "--tasks", "emobench_emo_c", "--log_samples", "--output_path", str(out),
         "--batch_size", "1", "--gen_kwargs", "max_new_tokens=4"],
        env={"EMOBENCH_DIR": str(images)}, timeout=900,
    )
    assert "conv_template=emollm_v1" in printed
    result = load_run(out).tasks["emo_c"]  # lmms-eval exits 0 on model failures: read what it wrote
    assert result.accuracy is not None and result.counts["samples"] == len(rows) >= 1
    assert result.counts["empty"] < len(rows), "llava answered nothing; read the log"


def test_opt_out_turns_every_door_back_to_stock(stock_runs, tiny_model):
    _, _, emobench = stock_runs
    command = train_command(tiny_model, emobench / "llava" / "train.json", emobench.parent / "off",
                            "--mm_projector_type", "mvp", steps=1)
    command[command.index("--image_folder") + 1] = str(emobench)
    done = subprocess.run(stock_train_command(command), cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, ENV: "0"})
    assert done.returncode != 0 and "Unknown projector type: mvp" in done.stderr, done.stderr[-3000:]
    # lmms-eval: off, the TaskManager is stock; lmms-eval's own plugin switch still finds the model and tasks.
    code = (
        "import os\n"
        "from lmms_eval.tasks import TaskManager\n"
        "print('wrapped' if hasattr(TaskManager.initialize_tasks, '__wrapped__') else 'stock')\n"
        "os.environ['LMMS_EVAL_PLUGINS'] = 'emollm_plugin'\n"
        "import lmms_eval.models as models\n"
        "print(models.get_model('emollm').__name__, 'emobench_emo_c' in TaskManager().all_tasks)\n"
    )
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, ENV: "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-3:] == ["stock", "EmoLLM", "True"], done.stdout[-2000:]
