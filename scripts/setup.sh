#!/usr/bin/env bash
# One environment for LLaVA training, lmms-eval evaluation and DeepSpeed: creates .venv in the
# repository root and installs the pinned stack (constraints.txt) plus this plugin, editable.
#
#   bash scripts/setup.sh            # then: .venv/bin/emollm --help
#
# llava-torch 1.2.2.post1 pins torch 2.0.1 / transformers 4.36.2, which lmms-eval 0.7.3 cannot
# live with, so it is installed with --no-deps; the plugin's patches/ make it run on this stack.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=24" "setuptools>=68" wheel

TORCH=("torch==2.14.1" "torchvision==0.29.1")
case "$(uname -m)" in
  aarch64|arm64) TORCH=("torch==2.9.1" "torchvision==0.24.1") ;;
esac

echo "[setup] installing the pinned stack (torch, transformers, lmms-eval, deepspeed, ...)"
if [ "$(uname -m)" = "x86_64" ]; then
  "${PIP[@]}" install -q -c constraints.txt "${TORCH[@]}" -e ".[dev]"
else
  # constraints.txt was frozen on x86_64 (CUDA wheels); elsewhere pin only the key packages.
  grep -E '^(transformers|lmms-eval|sentencepiece|filelock|av|deepspeed|accelerate|peft|timm|decord)==' constraints.txt \
    > "$VENV/constraints-core.txt"
  "${PIP[@]}" install -q -c "$VENV/constraints-core.txt" "${TORCH[@]}" -e ".[dev]"
fi

echo "[setup] installing llava-torch 1.2.2.post1 without its pins"
"${PIP[@]}" install -q --no-deps "llava-torch==1.2.2.post1"

# Headless Chromium for the demo-page and report.html tests (tests/apps): Debian's packages, installed
# only when missing and only as root; elsewhere the tests fail with the command to run.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing chromium and chromium-driver (apt) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  else
    echo "[setup] note: the browser tests need chromium: sudo apt-get install -y chromium chromium-driver"
  fi
fi

# DeepSpeed JIT-compiles its CPU shared-memory collectives the first time a multi-rank CPU run starts
# (a minute or two, cached in ~/.cache/torch_extensions); do it once here instead.
echo "[setup] building DeepSpeed's CPU collective op (deepspeed_shm_comm) once"
if ! DS_ACCELERATOR=cpu "$VENV/bin/python" -c "from deepspeed.comm.torch import build_shm_op; build_shm_op()" \
    > "$VENV/ds_shm_build.log" 2>&1; then
  echo "[setup] note: could not build it (see $VENV/ds_shm_build.log); multi-rank CPU runs will try again"
fi

echo "[setup] checking the environment"
HF_HUB_OFFLINE=1 "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import emollm_plugin
emollm_plugin.register()
for name in ("torch", "transformers", "llava-torch", "lmms-eval", "deepspeed", "peft", "accelerate", "timm", "decord"):
    print(f"  {name:<13} {md.version(name)}")
import emollm_plugin.autoload as autoload  # installed at start-up by emollm_plugin-autoload.pth
print(f"  {'autoload':<13} {'on: llava and lmms_eval know EmoLLM on import' if autoload.installed() else 'off'}")
PY
echo "[setup] done: .venv/bin/emollm --help"
