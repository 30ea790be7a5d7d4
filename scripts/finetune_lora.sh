#!/usr/bin/env bash
# LoRA fine-tune of EmoLLM (LLM adapters + the full MVP projector), then merge into a plain checkpoint.
#
# scripts/finetune.sh with LLaVA-1.5's LoRA settings (--lora_enable True --lora_r 128 --lora_alpha 256,
# lr 2e-4 for the adapters, --mm_projector_lr 2e-5 for the projector, global batch 128, ZeRO-3), followed
# by scripts/merge_lora.py: OUT holds the adapters (needs MODEL as its base to load), MERGED a full
# checkpoint that `emollm eval`, `emollm serve` and LLaVA's own loader open without a base.
#
# Hardware for a 7B model (Vicuna-7B-v1.5 + CLIP ViT-L/14-336):
#   As in LLaVA-1.5's documentation: LLaVA-1.5 is trained on 8x A100 80GB; its docs give no separate
#   figure for LoRA (docs/LoRA.md: try zero3.json first, zero3_offload.json if GPU memory runs out).
#   Estimate (not measured): with ZeRO-3, 4-8x 40GB at PER_DEVICE_BATCH 16 for images; 1-2x 24GB with
#   DS_CONFIG=scripts/zero3_offload.json, PER_DEVICE_BATCH 2-4 and >= 64 GB of CPU memory, much slower.
#   Videos: see scripts/finetune.sh. The merge runs on the CPU: ~30 GB of RAM for a 7B model (estimate).
#
# Variables (environment; defaults in brackets): every variable of scripts/finetune.sh, with these
# defaults changed or added:
#   OUT [checkpoints/llava-v1.5-7b-emollm-mvp-lora]  MERGED [$OUT-merged]  MERGE [1] (0 = keep the adapters only)
#   LR [2e-4]  PROJECTOR_LR [2e-5]  LORA_R [128]  LORA_ALPHA [256]  MERGE_DTYPE [float16]
#   PY [.venv/bin/python]             runs scripts/merge_lora.py
# Extra arguments go to the train command (see scripts/finetune.sh).
#
# Run from the repository root, e.g.
#   EMOBENCH_DIR=/data/emobench PROJECTOR=ckpt/pretrain/mm_projector.bin scripts/finetune_lora.sh
set -euo pipefail

PY=${PY:-.venv/bin/python}
MODEL=${MODEL:-lmsys/vicuna-7b-v1.5}
OUT=${OUT:-checkpoints/llava-v1.5-7b-emollm-mvp-lora}
MERGED=${MERGED:-$OUT-merged}
MERGE=${MERGE:-1}
MERGE_DTYPE=${MERGE_DTYPE:-float16}
LR=${LR:-2e-4}
PROJECTOR_LR=${PROJECTOR_LR:-2e-5}
LORA_R=${LORA_R:-128}
LORA_ALPHA=${LORA_ALPHA:-256}
DRY_RUN=${DRY_RUN:-0}
here=$(dirname "$0")

MODEL=$MODEL OUT=$OUT LR=$LR "$here/finetune.sh" \
  --lora_enable True --lora_r "$LORA_R" --lora_alpha "$LORA_ALPHA" --mm_projector_lr "$PROJECTOR_LR" "$@"

[ "$MERGE" = 1 ] || exit 0
merge=("$PY" "$here/merge_lora.py" --lora "$OUT" --base "$MODEL" --out "$MERGED" --dtype "$MERGE_DTYPE")
if [ "$DRY_RUN" = 1 ]; then
  printf '%q ' "${merge[@]}"
  echo
  exit 0
fi
if [ -f "$MERGED/config.json" ]; then
  echo "finetune_lora.sh: $MERGED already holds a merged model; delete it to merge again" >&2
  exit 0
fi
exec "${merge[@]}"
