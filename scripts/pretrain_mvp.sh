#!/usr/bin/env bash
# Pretrain the MVP projector alone (feature alignment): LLM and vision tower frozen.
#
# LLaVA-1.5's pretraining recipe (LCS-558K captions, --version plain, global batch 256, lr 1e-3,
# cosine schedule, 3% warm-up, 1 epoch, max length 2048, weight decay 0, DeepSpeed ZeRO-2, bf16) with
# --mm_projector_type mvp. The result, OUT/mm_projector.bin, is what scripts/finetune.sh loads
# (PROJECTOR=...). Optionally warm-start MVP from a released LLaVA-1.5 mlp2x_gelu projector
# (WARM_START=.../mm_projector.bin, e.g. from liuhaotian/llava-v1.5-mlp2x-336px-pretrain-vicuna-7b-v1.5):
# MVP's local trunk takes its weights and MVP starts out computing exactly that projector, so the
# pretraining can then be short (add e.g. --max_steps 500) or skipped (pass that file as PROJECTOR).
#
# Hardware for a 7B model (Vicuna-7B-v1.5 + CLIP ViT-L/14-336):
#   As in LLaVA-1.5's documentation: trained on 8x A100 80GB (per-device batch 32, ZeRO-2); pretraining
#   LLaVA-v1.5-7B takes ~3.5 hours on 8x A100 (80G).
#   Estimate (not measured): MVP's projector costs ~1.2x mlp2x_gelu (bench/projector.py), small next
#   to the frozen 7B LLM's activations, so the same hardware and about the same time. On 40GB GPUs,
#   PER_DEVICE_BATCH=16 (gradient accumulation keeps GLOBAL_BATCH).
#   Projector-only runs cannot resume (LLaVA saves only the projector in its checkpoints), so none
#   are written; a rerun after an interruption starts over.
#
# Variables (environment; defaults in brackets):
#   MODEL [lmsys/vicuna-7b-v1.5]  VISION [openai/clip-vit-large-patch14-336]
#   DATA [data/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json]  IMAGE_FOLDER [data/LLaVA-Pretrain/images]
#       (liuhaotian/LLaVA-Pretrain on the Hugging Face hub)
#   OUT [checkpoints/llava-v1.5-7b-emollm-mvp-pretrain]
#   WARM_START []                      a LLaVA-1.5 mlp2x_gelu (or MVP) mm_projector.bin to start from
#   NUM_GPUS [8]  PER_DEVICE_BATCH [32]  GLOBAL_BATCH [256]  LR [1e-3]  EPOCHS [1]  MAX_LENGTH [2048]
#   VERSION [plain]
#   MVP_TAU [0.5]  MVP_PERSPECTIVES [local,relational,global]  MVP_FUSION [gate]  MVP_GLOBAL_POOL [mean]
#   MVP_GLOBAL_TOKENS [0]              use the same values in scripts/finetune.sh
#   DS_CONFIG [scripts/zero2.json]  BF16 [True]  TF32 [True] (False on pre-Ampere GPUs)
#   WORKERS [4]  MASTER_PORT [29500]
#   LAUNCHER [deepspeed] or torchrun; DEEPSPEED [.venv/bin/deepspeed]  TORCHRUN [.venv/bin/torchrun]
#   DRY_RUN [0]  1 = print the command instead of running it
# Extra arguments are appended to the train command and win over the flags above.
#
# Run from the repository root, e.g.
#   DATA=/data/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json IMAGE_FOLDER=/data/LLaVA-Pretrain/images \
#     scripts/pretrain_mvp.sh
set -euo pipefail

MODEL=${MODEL:-lmsys/vicuna-7b-v1.5}
VISION=${VISION:-openai/clip-vit-large-patch14-336}
DATA=${DATA:-data/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json}
IMAGE_FOLDER=${IMAGE_FOLDER:-data/LLaVA-Pretrain/images}
OUT=${OUT:-checkpoints/llava-v1.5-7b-emollm-mvp-pretrain}
WARM_START=${WARM_START:-}
PER_DEVICE_BATCH=${PER_DEVICE_BATCH:-32}
GLOBAL_BATCH=${GLOBAL_BATCH:-256}
LR=${LR:-1e-3}
EPOCHS=${EPOCHS:-1}
MAX_LENGTH=${MAX_LENGTH:-2048}
VERSION=${VERSION:-plain}
DS_CONFIG=${DS_CONFIG:-scripts/zero2.json}
BF16=${BF16:-True}
TF32=${TF32:-True}
WORKERS=${WORKERS:-4}

SCRIPT=pretrain_mvp.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[ -f "$DATA" ] || die "DATA=$DATA: no such file (LLaVA's blip_laion_cc_sbu_558k.json, or any LLaVA JSON of captions)"
[ -d "$IMAGE_FOLDER" ] || die "IMAGE_FOLDER=$IMAGE_FOLDER: no such folder (the root of the image paths in DATA)"
[ -f "$DS_CONFIG" ] || die "DS_CONFIG=$DS_CONFIG: no such file (run from the repository root)"
if [ -n "$WARM_START" ] && [ ! -f "$WARM_START" ]; then
  die "WARM_START=$WARM_START: no such file (a LLaVA-1.5 mm_projector.bin)"
fi
set_grad_accumulation

args=(
  --deepspeed "$DS_CONFIG"
  --model_name_or_path "$MODEL"
  --version "$VERSION"
  --data_path "$DATA"
  --image_folder "$IMAGE_FOLDER"
  --vision_tower "$VISION"
  "${MVP_FLAGS[@]}"
  --tune_mm_mlp_adapter True
  --mm_vision_select_layer -2
  --mm_use_im_start_end False
  --mm_use_im_patch_token False
  --bf16 "$BF16"
  --tf32 "$TF32"
  --output_dir "$OUT"
  --num_train_epochs "$EPOCHS"
  --per_device_train_batch_size "$PER_DEVICE_BATCH"
  --gradient_accumulation_steps "$GRAD_ACC"
  --eval_strategy no
  --save_strategy no
  --learning_rate "$LR"
  --weight_decay 0.
  --warmup_ratio 0.03
  --lr_scheduler_type cosine
  --logging_steps 1
  --model_max_length "$MAX_LENGTH"
  --gradient_checkpointing True
  --dataloader_num_workers "$WORKERS"
  --lazy_preprocess True
  --report_to none
)
if [ -n "$WARM_START" ]; then args+=(--pretrain_mm_mlp_adapter "$WARM_START"); fi

set_train_command "${args[@]}" "$@"
if [ -f "$OUT/mm_projector.bin" ]; then
  echo "pretrain_mvp.sh: $OUT/mm_projector.bin exists; delete $OUT to pretrain again" >&2
  exit 0
fi
echo "pretrain_mvp.sh: $NUM_GPUS process(es) x batch $PER_DEVICE_BATCH x accumulation $GRAD_ACC = $GLOBAL_BATCH per step -> $OUT" >&2
exec "${COMMAND[@]}"
