"""EmoBench through the plain lmms-eval command (no plugin CLI): --include_path + EMOBENCH_DIR."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from emollm_plugin.lmms_glue.evaluate import tasks_dir
from emollm_plugin.lmms_glue.results import load_run
from tests.emobench_fixtures import DUMMY_RESPONSE, build_emobench


@pytest.mark.slow
def test_python_m_lmms_eval_prints_the_emobench_group(tmp_path):
    emobench = build_emobench(tmp_path / "emobench")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "lmms_eval", "--model", "dummy", "--model_args",
         f"response={DUMMY_RESPONSE}", "--tasks", "emobench", "--include_path", str(tasks_dir()),
         "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "EMOBENCH_DIR": str(emobench), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-3000:]
    for task in ("emo_c", "emo_o", "intent", "hate", "humor", "sarcasm"):
        assert re.search(rf"emobench_{task}\s*\|", printed), f"emobench_{task} missing from lmms-eval's table"
    group = re.search(r"\|emobench\s*\|[^\n]*\|accuracy\s*\|[^|]*\|\s*([0-9.]+)\|", printed)
    assert group, "the emobench group row is missing"
    run = load_run(out)
    assert float(group.group(1)) == pytest.approx(run.mean_accuracy, abs=1e-3)
