#!/usr/bin/env bash
# Sequential training, the paper's best recipe: objective instruction data first, then EmoBench.
#
# Stage 1: scripts/finetune.sh on general ("objective") visual instructions, LLaVA-1.5's 665K mix
#          (llava_v1_5_mix665k.json, LLaVA's --version v1 template, max length 2048, grouped by
#          modality because the mix holds text-only samples), from the base LLM and the pretrained MVP
#          projector (scripts/pretrain_mvp.sh) -> OUT/llava-stage1.
# Stage 2: scripts/finetune.sh on EmoBench (--version emollm_v1, videos, optional EmoPrompt k),
#          starting from OUT/llava-stage1 (--model_name_or_path OUT/llava-stage1, its MVP projector included)
#          with the same MVP options -> OUT/llava-stage2, the final model.
# Every folder name contains "llava", LLaVA's convention: its own loader and tools read that name.
# A finished stage is not trained again, so rerunning after an interruption resumes where it stopped.
#
# Hardware for a 7B model (Vicuna-7B-v1.5 + CLIP ViT-L/14-336):
#   As in LLaVA-1.5's documentation: stage 1 is LLaVA-1.5's visual instruction tuning, ~10 hours for
#   the 7B model on 8x A100 (40G); LLaVA-1.5 is trained on 8x A100 80GB.
#   Estimate (not measured): stage 2 needs the same GPUs, for a time proportional to EmoBench's size
#   (and more per video sample: NUM_FRAMES x 576 visual tokens); see scripts/finetune.sh.
#
# Variables (environment; defaults in brackets): every variable of scripts/finetune.sh (MODEL, VISION,
# PROJECTOR, NUM_GPUS, PER_DEVICE_BATCH, MVP_*, DS_CONFIG, ...) applies to both stages, except:
#   OUT [checkpoints/llava-v1.5-7b-emollm-mvp-sequential]        stages in OUT/llava-stage1 and OUT/llava-stage2
#   STAGE1_DATA [data/llava/llava_v1_5_mix665k.json]   STAGE1_IMAGES [data/llava] (holding coco/, gqa/,
#       ocr_vqa/, textvqa/, vg/ as LLaVA-1.5's README lays them out)
#   STAGE1_VERSION [v1]  STAGE1_MAX_LENGTH [2048]  STAGE1_LR [2e-5]  STAGE2_LR [2e-5]
#   EMOBENCH_DIR [data/emobench]  DATA [$EMOBENCH_DIR/llava/train.json]  (stage 2)
#   VERSION [emollm_v1]  MAX_LENGTH [4096]  NUM_FRAMES [4]  (stage 2)
#   EMOPROMPT_K [0]  EXEMPLARS []   EmoPrompt exemplars in stage 2
# Extra arguments go to the train command of both stages (e.g. --max_steps 10 for a smoke test).
#
# Run from the repository root, e.g.
#   STAGE1_DATA=/data/llava/llava_v1_5_mix665k.json STAGE1_IMAGES=/data/llava EMOBENCH_DIR=/data/emobench \
#     PROJECTOR=ckpt/pretrain/mm_projector.bin scripts/sequential.sh
set -euo pipefail

OUT=${OUT:-checkpoints/llava-v1.5-7b-emollm-mvp-sequential}
STAGE1_DATA=${STAGE1_DATA:-data/llava/llava_v1_5_mix665k.json}
STAGE1_IMAGES=${STAGE1_IMAGES:-data/llava}
STAGE1_VERSION=${STAGE1_VERSION:-v1}
STAGE1_MAX_LENGTH=${STAGE1_MAX_LENGTH:-2048}
STAGE1_LR=${STAGE1_LR:-2e-5}
STAGE2_LR=${STAGE2_LR:-2e-5}
EMOBENCH_DIR=${EMOBENCH_DIR:-data/emobench}
DATA=${DATA:-$EMOBENCH_DIR/llava/train.json}
here=$(dirname "$0")
stage1=$OUT/llava-stage1
stage2=$OUT/llava-stage2

echo "sequential.sh: stage 1 (objective instructions: $STAGE1_DATA) -> $stage1" >&2
# The 665K mix holds no videos (images and text-only chats), hence one "frame" for the length check;
# no EmoPrompt in stage 1.
DATA=$STAGE1_DATA IMAGE_FOLDER=$STAGE1_IMAGES VIDEO_FOLDER=$STAGE1_IMAGES VERSION=$STAGE1_VERSION \
  MAX_LENGTH=$STAGE1_MAX_LENGTH NUM_FRAMES=1 LR=$STAGE1_LR GROUP_BY_MODALITY=True EMOPROMPT_K=0 \
  OUT=$stage1 "$here/finetune.sh" "$@"

echo "sequential.sh: stage 2 (EmoBench: $DATA) from $stage1 -> $stage2" >&2
DATA=$DATA IMAGE_FOLDER=${IMAGE_FOLDER:-$EMOBENCH_DIR} MODEL=$stage1 PROJECTOR='' LR=$STAGE2_LR \
  OUT=$stage2 "$here/finetune.sh" "$@"
