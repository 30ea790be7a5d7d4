"""The autoload hook: installed by `pip install -e .`, free at start-up, active on `import llava`, off with EMOLLM_AUTOLOAD=0."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from emollm_plugin import autoload
from emollm_plugin.lmms_glue.activate import checkpoint_template, with_task_folder


def _python(code: str, env: dict | None = None, *args: str) -> subprocess.CompletedProcess:
    """A fresh interpreter (so site-packages' .pth files run) whose own code never imports emollm_plugin."""
    return subprocess.run([sys.executable, *args, "-c", code] if code else [sys.executable, *args],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_the_install_ships_the_pth_into_site_packages():
    site_packages = sysconfig.get_paths()["purelib"]  # not the repository's own egg-info, which comes first on sys.path
    (dist,) = metadata.distributions(name="emollm-plugin", path=[site_packages])
    files = [f for f in dist.files or [] if f.name == "emollm_plugin-autoload.pth"]
    assert files, "pip install -e . did not install emollm_plugin-autoload.pth (see setup.py)"
    installed = Path(files[0].locate()).resolve()
    assert installed.parent == Path(site_packages).resolve()
    line = installed.read_text().strip()
    assert line.startswith("import ") and "emollm_plugin.autoload" in line and "install()" in line


def test_start_up_imports_no_framework_and_installs_the_finder():
    done = _python("import sys, emollm_plugin.autoload as a; heavy = [m for m in sys.modules if m.split('.')[0] in "
                   "('torch', 'llava', 'lmms_eval', 'transformers', 'numpy')]; print(a.installed(), heavy)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True []"


@pytest.mark.slow
def test_importing_llava_activates_the_plugin_and_the_opt_out_leaves_it_stock():
    code = ("import llava.train.train as t, llava.model.builder as b, llava.conversation as c; "
            "print('mvp_tau' in t.ModelArguments.__dataclass_fields__, 'emollm_v1' in c.conv_templates, "
            "t.make_supervised_data_module.__module__, hasattr(b.load_pretrained_model, '__wrapped__'))")
    on, off = _python(code), _python(code, {autoload.ENV: "0"})
    assert on.returncode == 0 and off.returncode == 0, on.stderr[-2000:] + off.stderr[-2000:]
    assert on.stdout.split() == ["True", "True", "emollm_plugin.llava_glue.dataset", "True"]
    assert off.stdout.split() == ["False", "False", "llava.train.train", "False"]


@pytest.mark.slow
def test_python_m_llava_train_runs_the_activated_module():
    """`python -m llava.train.train` runs LLaVA's train() as the plugin wrapped it: --help lists the MVP flags."""
    done = _python("", None, "-m", "llava.train.train", "--help")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--mvp_tau" in done.stdout and "--num_frames" in done.stdout and "--evaluation_strategy" in done.stdout
    assert "RuntimeWarning" not in done.stderr  # runpy's "found in sys.modules ... unpredictable behaviour"


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["python", "-m", "llava.train.train", "--x"], "llava.train.train"),
        (["python", "-mllava.train.train"], "llava.train.train"),
        (["python", "-u", "-W", "ignore", "-m", "lmms_eval"], "lmms_eval"),
        (["python", "-Bum", "llava.train.train"], "llava.train.train"),
        (["python", "-X", "dev", "-m", "pkg"], "pkg"),
        (["python", "--check-hash-based-pycs", "always", "-m", "pkg"], "pkg"),
        (["python", "-c", "import x", "-m", "pkg"], None),
        (["python", "script.py", "-m", "pkg"], None),
        (["python"], None),
    ],
)
def test_the_module_run_with_dash_m_is_read_from_the_command_line(argv, module):
    assert autoload.module_run_with_dash_m(argv) == module


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False), ("False", False)])
def test_emollm_autoload_switch(value, on):
    assert autoload.enabled({} if value is None else {autoload.ENV: value}) is on


def test_untested_versions_leave_llava_untouched_with_one_line(monkeypatch, capsys):
    from emollm_plugin.patches import llava_builder_name_from_config as patch

    import emollm_plugin

    monkeypatch.setattr(emollm_plugin, "_registered", False)
    monkeypatch.setattr(patch, "TESTED", {"llava-torch": "==0.0.1"})
    assert emollm_plugin.activate_llava() is False
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not activated" in err and "llava-torch==0.0.1" in err
    assert emollm_plugin._registered is False


def test_task_folder_is_added_once(tmp_path):
    folder = tmp_path / "eval_tasks" / "emobench"
    folder.mkdir(parents=True)
    assert with_task_folder(None, folder) == [str(folder)]
    assert with_task_folder("/elsewhere", folder) == ["/elsewhere", str(folder)]
    assert with_task_folder([str(folder.parent)], folder) == [str(folder.parent)]  # already there via its parent


def test_checkpoint_template_reads_the_trained_template(tmp_path):
    (tmp_path / "config.json").write_text('{"emollm_version": "emollm_mpt"}')
    assert checkpoint_template(str(tmp_path)) == "emollm_mpt"
    assert checkpoint_template(str(tmp_path / "missing")) is None
