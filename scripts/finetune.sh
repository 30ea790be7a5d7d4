#!/usr/bin/env bash
# Fine-tune EmoLLM: the whole LLM plus the MVP projector on EmoBench (or any LLaVA-format JSON).
#
# LLaVA-1.5's visual-instruction-tuning recipe (global batch 128, lr 2e-5, cosine schedule, 3% warm-up,
# 1 epoch, weight decay 0, DeepSpeed ZeRO-3, bf16, gradient checkpointing) with the plugin's parts:
# --mm_projector_type mvp, the EmoPrompt conversation template (--version emollm_v1), videos as
# NUM_FRAMES frames, and optionally k EmoPrompt exemplars per question.
#
# Hardware for a 7B model (Vicuna-7B-v1.5 + CLIP ViT-L/14-336):
#   As in LLaVA-1.5's documentation: LLaVA-1.5 is trained on 8x A100 80GB; visual instruction tuning
#   of LLaVA-v1.5-7B on its 665K mix takes ~10 hours on 8x A100 (40G) (per-device batch 16, ZeRO-3).
#   Estimate (not measured): the same 8x 40-80GB for EmoBench images; MVP adds little (its projector
#   costs ~1.2x LLaVA's mlp2x_gelu, bench/projector.py). Video multiplies the sequence length by about
#   NUM_FRAMES (576 visual tokens per frame), so with videos lower PER_DEVICE_BATCH (e.g. 4 for 4
#   frames on 80GB) and keep GLOBAL_BATCH: gradient accumulation makes up the difference.
#   Fewer or smaller GPUs: DS_CONFIG=scripts/zero3_offload.json (slower, less GPU memory).
#
# Variables (environment; defaults in brackets):
#   MODEL [lmsys/vicuna-7b-v1.5]      base LLM, an EmoLLM (MVP) checkpoint to continue from, or a LLaVA
#       (mlp2x_gelu) checkpoint such as liuhaotian/llava-v1.5-7b, whose projector the train entry turns
#       into MVP warm-started from it (set PROJECTOR= then)
#   VISION [openai/clip-vit-large-patch14-336]
#   PROJECTOR [checkpoints/llava-v1.5-7b-emollm-mvp-pretrain/mm_projector.bin]  from scripts/pretrain_mvp.sh (or a
#       released LLaVA-1.5 mlp2x_gelu mm_projector.bin: MVP warm-starts from it); set PROJECTOR= (empty)
#       when MODEL is already a LLaVA or EmoLLM checkpoint, whose projector comes with it.
#   EMOBENCH_DIR [data/emobench]      from `emollm data build` / `emollm data synth`
#   DATA [$EMOBENCH_DIR/llava/train.json]  any LLaVA JSON, e.g. rationale data from `emollm emoprompt to-llava`
#   IMAGE_FOLDER [$EMOBENCH_DIR]      root of the "image" paths in DATA; VIDEO_FOLDER [$IMAGE_FOLDER]
#   OUT [checkpoints/llava-v1.5-7b-emollm-mvp]   output folder; rerunning resumes from its last checkpoint-*
#   NUM_GPUS [8]  PER_DEVICE_BATCH [16]  GLOBAL_BATCH [128]  LR [2e-5]  EPOCHS [1]  MAX_LENGTH [4096]
#   NUM_FRAMES [4]  MAX_FPS []  VISION_TOKENS [576] (visual tokens per image/frame, for the length check)
#       A video is NUM_FRAMES x VISION_TOKENS tokens, and LLaVA cuts sequences to MAX_LENGTH after inserting
#       them, silently dropping the answer of a longer sample; the script refuses settings that leave less
#       than 256 text tokens. Vicuna-v1.5's context is 4096, so at most 6 frames of 576 tokens.
#   VIDEO_POOL [1]  average-pool each video frame's tokens over VIDEO_POOL x VIDEO_POOL patches (--mm_video_pool;
#       2: 576 -> 144 per frame, so NUM_FRAMES=16 fits 4096); images keep all tokens; saved in the checkpoint
#   VERSION [emollm_v1]  (emollm_mistral / emollm_mpt for those bases; v1 for LLaVA's own template)
#   MVP_TAU [0.5]  MVP_PERSPECTIVES [local,relational,global]  MVP_FUSION [gate]  MVP_GLOBAL_POOL [mean]
#   MVP_GLOBAL_TOKENS [0]            must match the MVP options PROJECTOR / MODEL were trained with
#   EMOPROMPT_K [0]  EXEMPLARS []     k > 0: k exemplars (exemplars.json from `emollm emoprompt exemplars`)
#                                     per question; not with data written by `to-llava --exemplars`
#   DS_CONFIG [scripts/zero3.json]  BF16 [True]  TF32 [True] (False on pre-Ampere GPUs)
#   GRADIENT_CHECKPOINTING [True]  ASPECT [pad]  GROUP_BY_MODALITY [False] (True for mixes with text-only)
#   SAVE_STEPS [500]  WORKERS [4]  MASTER_PORT [29500]
#   LAUNCHER [deepspeed] or torchrun; DEEPSPEED [.venv/bin/deepspeed]  TORCHRUN [.venv/bin/torchrun]
#   DRY_RUN [0]  1 = print the command instead of running it
# Extra arguments are appended to the train command and win over the flags above, e.g.
#   scripts/finetune.sh --max_steps 100 --report_to wandb
#
# Run from the repository root, e.g.
#   EMOBENCH_DIR=/data/emobench PROJECTOR=ckpt/pretrain/mm_projector.bin scripts/finetune.sh
set -euo pipefail

MODEL=${MODEL:-lmsys/vicuna-7b-v1.5}
VISION=${VISION:-openai/clip-vit-large-patch14-336}
PROJECTOR=${PROJECTOR-checkpoints/llava-v1.5-7b-emollm-mvp-pretrain/mm_projector.bin}
EMOBENCH_DIR=${EMOBENCH_DIR:-data/emobench}
DATA=${DATA:-$EMOBENCH_DIR/llava/train.json}
IMAGE_FOLDER=${IMAGE_FOLDER:-$EMOBENCH_DIR}
VIDEO_FOLDER=${VIDEO_FOLDER:-$IMAGE_FOLDER}
OUT=${OUT:-checkpoints/llava-v1.5-7b-emollm-mvp}
PER_DEVICE_BATCH=${PER_DEVICE_BATCH:-16}
GLOBAL_BATCH=${GLOBAL_BATCH:-128}
LR=${LR:-2e-5}
EPOCHS=${EPOCHS:-1}
MAX_LENGTH=${MAX_LENGTH:-4096}
NUM_FRAMES=${NUM_FRAMES:-4}
MAX_FPS=${MAX_FPS:-}
VISION_TOKENS=${VISION_TOKENS:-576}
VIDEO_POOL=${VIDEO_POOL:-1}
VERSION=${VERSION:-emollm_v1}
EMOPROMPT_K=${EMOPROMPT_K:-0}
EXEMPLARS=${EXEMPLARS:-}
DS_CONFIG=${DS_CONFIG:-scripts/zero3.json}
BF16=${BF16:-True}
TF32=${TF32:-True}
GRADIENT_CHECKPOINTING=${GRADIENT_CHECKPOINTING:-True}
ASPECT=${ASPECT:-pad}
GROUP_BY_MODALITY=${GROUP_BY_MODALITY:-False}
SAVE_STEPS=${SAVE_STEPS:-500}
WORKERS=${WORKERS:-4}

SCRIPT=finetune.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

[ -f "$DATA" ] || die "DATA=$DATA: no such file (build EmoBench with 'emollm data build', or set DATA)"
[ -d "$IMAGE_FOLDER" ] || die "IMAGE_FOLDER=$IMAGE_FOLDER: no such folder (the root of the media paths in DATA)"
[ -f "$DS_CONFIG" ] || die "DS_CONFIG=$DS_CONFIG: no such file (run from the repository root)"
if [ -n "$PROJECTOR" ] && [ ! -f "$PROJECTOR" ]; then
  die "PROJECTOR=$PROJECTOR: no such file; run scripts/pretrain_mvp.sh first, or set PROJECTOR= (empty) when MODEL is an EmoLLM checkpoint"
fi
set_grad_accumulation
# LLaVA cuts every sequence to MAX_LENGTH *after* inserting the visual tokens, so a video longer than
# that loses its answer and is masked out of the loss without a word: refuse such settings.
((VIDEO_POOL >= 1)) || die "VIDEO_POOL=$VIDEO_POOL must be >= 1 (1 = no pooling)"
side=0; while (((side + 1) * (side + 1) <= VISION_TOKENS)); do side=$((side + 1)); done  # patch grid side
per_frame=$(( VIDEO_POOL > 1 ? ((side + VIDEO_POOL - 1) / VIDEO_POOL) ** 2 : VISION_TOKENS ))  # as --mm_video_pool
visual=$((NUM_FRAMES * per_frame))
((visual + 256 <= MAX_LENGTH)) ||
  die "NUM_FRAMES=$NUM_FRAMES x $per_frame tokens per frame (VISION_TOKENS=$VISION_TOKENS, VIDEO_POOL=$VIDEO_POOL) = $visual visual tokens leave < 256 text tokens in MAX_LENGTH=$MAX_LENGTH; lower NUM_FRAMES, set VIDEO_POOL=2, or raise MAX_LENGTH (up to the LLM's context)"

args=(
  --deepspeed "$DS_CONFIG"
  --model_name_or_path "$MODEL"
  --version "$VERSION"
  --data_path "$DATA"
  --image_folder "$IMAGE_FOLDER"
  --video_folder "$VIDEO_FOLDER"
  --num_frames "$NUM_FRAMES"
  --mm_video_pool "$VIDEO_POOL"
  --vision_tower "$VISION"
  "${MVP_FLAGS[@]}"
  --mm_vision_select_layer -2
  --mm_use_im_start_end False
  --mm_use_im_patch_token False
  --image_aspect_ratio "$ASPECT"
  --group_by_modality_length "$GROUP_BY_MODALITY"
  --bf16 "$BF16"
  --tf32 "$TF32"
  --output_dir "$OUT"
  --num_train_epochs "$EPOCHS"
  --per_device_train_batch_size "$PER_DEVICE_BATCH"
  --gradient_accumulation_steps "$GRAD_ACC"
  --eval_strategy no
  --save_strategy steps
  --save_steps "$SAVE_STEPS"
  --save_total_limit 1
  --learning_rate "$LR"
  --weight_decay 0.
  --warmup_ratio 0.03
  --lr_scheduler_type cosine
  --logging_steps 1
  --model_max_length "$MAX_LENGTH"
  --gradient_checkpointing "$GRADIENT_CHECKPOINTING"
  --dataloader_num_workers "$WORKERS"
  --lazy_preprocess True
  --report_to none
)
if [ -n "$PROJECTOR" ]; then args+=(--pretrain_mm_mlp_adapter "$PROJECTOR"); fi
if [ -n "$MAX_FPS" ]; then args+=(--max_fps "$MAX_FPS"); fi
if ((EMOPROMPT_K > 0)); then
  [ -f "$EXEMPLARS" ] || die "EMOPROMPT_K=$EMOPROMPT_K needs EXEMPLARS=exemplars.json (from 'emollm emoprompt exemplars')"
  args+=(--emoprompt_k "$EMOPROMPT_K" --emoprompt_exemplars "$EXEMPLARS")
fi

set_train_command "${args[@]}" "$@"
# A finished run (trainer_state.json and weights at the top of OUT) is not trained again.
if [ -f "$OUT/trainer_state.json" ] && compgen -G "$OUT/*.safetensors" >/dev/null; then
  echo "finetune.sh: $OUT already holds a finished run; delete it to train again" >&2
  exit 0
fi
echo "finetune.sh: $NUM_GPUS process(es) x batch $PER_DEVICE_BATCH x accumulation $GRAD_ACC = $GLOBAL_BATCH per step -> $OUT" >&2
exec "${COMMAND[@]}"
