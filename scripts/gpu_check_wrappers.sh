#!/usr/bin/env bash
# EmoBench through lmms-eval's OWN wrappers for other model families, on a GPU.
#
# The same check as tests/lmms_glue/test_other_wrappers.py (tiny random checkpoints built offline
# by emollm_plugin.tiny.hf, a synthetic EmoBench, the six tasks unchanged, `emollm eval --limit`),
# but with the wrappers on CUDA, the device they assume by default:
#   llava_hf  (LlavaForConditionalGeneration; run with lmms-eval's --force_simple, because the
#              name resolves to a chat class the EmoBench tasks do not feed)
#   qwen2_vl  (Qwen2VLForConditionalGeneration; images and videos through qwen_vl_utils)
# A random model names no label, so `emollm eval` exits 1 for such tasks; this script instead
# checks that the real path ran: six tasks with an accuracy, one non-empty output per sample,
# image and video samples, the expected wrapper class. Exit 0 = every wrapper passed.
#
# usage: scripts/gpu_check_wrappers.sh [WORKDIR]
#   DEVICE=cuda (default) or cuda:0 / cpu (cpu: try the script on a machine without a GPU)
#   PYTHON=.venv/bin/python (default), LIMIT=4 samples per task, MAX_NEW_TOKENS=16
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:-4}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-16}
if [ -n "${1:-}" ]; then mkdir -p "$1" && WORK=$(cd "$1" && pwd); else WORK=$(mktemp -d); fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
unset EMOBENCH_DIR EMOBENCH_K EMOBENCH_EXEMPLARS

echo "== work folder: $WORK, device: $DEVICE"
"$PY" - "$WORK" "$DEVICE" "$LIMIT" <<'EOF'
import sys
from pathlib import Path

import torch

from emollm_plugin.emobench.synth import synthesize
from emollm_plugin.tiny.hf import build_tiny_llava_hf, build_tiny_qwen2_vl

work, device, limit = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if device.startswith("cuda"):
    if not torch.cuda.is_available():
        sys.exit(f"DEVICE={device} but torch {torch.__version__} sees no CUDA device")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
build_tiny_llava_hf(work / "tiny_llava_hf")
build_tiny_qwen2_vl(work / "tiny_qwen2_vl")
synthesize(work / "emobench", per_task=limit, test_per_task=limit)
print("checkpoints and EmoBench ready")
EOF

PIXELS=$("$PY" -c "from emollm_plugin.tiny.hf import QWEN2_VL_PIXELS; print(QWEN2_VL_PIXELS)")
run() {  # run NAME MODEL MODEL_ARGS [lmms-eval args...]
  local name=$1 model=$2 args=$3
  shift 3
  echo "== $name: emollm eval --model $model --model_args $args"
  local start=$SECONDS
  set +e
  "$PY" -m emollm_plugin.cli eval --model "$model" --model_args "$args" --tasks emobench \
    --emobench-dir "$WORK/emobench" --output "$WORK/$name" --limit "$LIMIT" \
    --max-new-tokens "$MAX_NEW_TOKENS" --label "$name" "$@" >"$WORK/$name.log" 2>&1
  local rc=$?
  set -e
  echo "   exit $rc in $((SECONDS - start)) s (log: $WORK/$name.log)"
  sed -n '/^EmoBench (/,/^mean /p' "$WORK/$name.log"
}

run llava_hf llava_hf "pretrained=$WORK/tiny_llava_hf,device=$DEVICE,device_map=$DEVICE" -- --force_simple
run qwen2_vl qwen2_vl \
  "pretrained=$WORK/tiny_qwen2_vl,device=$DEVICE,device_map=$DEVICE,min_pixels=$PIXELS,max_pixels=$PIXELS"

echo "== checks"
"$PY" - "$WORK" "$LIMIT" <<'EOF'
import json
import sys
from pathlib import Path

from emollm_plugin.emobench.tasks import TASKS
from emollm_plugin.lmms_glue.results import ResultsError, load_run

work, limit = Path(sys.argv[1]), int(sys.argv[2])
backends = {
    "llava_hf": "lmms_eval.models.simple.llava_hf.LlavaHf (simple)",
    "qwen2_vl": "lmms_eval.models.simple.qwen2_vl.Qwen2_VL (simple)",
}
failed = []
for name, backend in backends.items():
    problems = []
    try:
        run = load_run(work / name)
    except ResultsError as exc:
        failed.append(f"{name}: {exc}")
        continue
    used = json.loads(run.results_file.read_text())["config"].get("model_backend")
    if used != backend:
        problems.append(f"ran {used!r}, expected {backend!r}")
    for task in TASKS:
        result = run.tasks.get(task)
        if result is None or result.accuracy is None:
            problems.append(f"{task}: no accuracy")
            continue
        counts = result.counts
        if counts["samples"] != limit or counts["empty"]:
            problems.append(f"{task}: {counts} (expected {limit} samples, none empty)")
        if {s.modality for s in result.samples} != {"image", "video"}:
            problems.append(f"{task}: not both modalities")
    print(f"{name}: {'ok' if not problems else 'FAILED'}")
    failed += [f"{name}: {p}" for p in problems]
for line in failed:
    print("  " + line)
sys.exit(1 if failed else 0)
EOF
