#!/usr/bin/env bash
# The test command: the whole suite on CPU (about ten minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
export DS_ACCELERATOR=cpu HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
exec .venv/bin/python -m pytest "$@"
