#!/usr/bin/env bash
# The test command: the whole suite on CPU (about 15 minutes on 2 cores), in TEST_WORKERS pytest-xdist
# processes (default 2; 0 runs in this process), each test file in one worker (its fixtures built once).
set -euo pipefail
cd "$(dirname "$0")/.."
export DS_ACCELERATOR=cpu HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
