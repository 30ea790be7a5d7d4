# Shared by pretrain_mvp.sh and finetune.sh (sourced, never run): launch defaults, the MVP options,
# checks and the launch. The sourcing script sets SCRIPT (its name), GLOBAL_BATCH and PER_DEVICE_BATCH
# first; every default below yields to the environment.

DEEPSPEED=${DEEPSPEED:-.venv/bin/deepspeed}
TORCHRUN=${TORCHRUN:-.venv/bin/torchrun}
LAUNCHER=${LAUNCHER:-deepspeed}
NUM_GPUS=${NUM_GPUS:-8}
MASTER_PORT=${MASTER_PORT:-29500}
DRY_RUN=${DRY_RUN:-0}

# One set of MVP defaults for both stages: the projector pretrain_mvp.sh writes must have the options
# finetune.sh builds it with.
MVP_TAU=${MVP_TAU:-0.5}
MVP_PERSPECTIVES=${MVP_PERSPECTIVES:-local,relational,global}
MVP_FUSION=${MVP_FUSION:-gate}
MVP_GLOBAL_POOL=${MVP_GLOBAL_POOL:-mean}
MVP_GLOBAL_TOKENS=${MVP_GLOBAL_TOKENS:-0}
MVP_FLAGS=(
  --mm_projector_type mvp
  --mvp_tau "$MVP_TAU"
  --mvp_perspectives "$MVP_PERSPECTIVES"
  --mvp_fusion "$MVP_FUSION"
  --mvp_global_pool "$MVP_GLOBAL_POOL"
  --mvp_global_tokens "$MVP_GLOBAL_TOKENS"
)

die() { echo "$SCRIPT: $*" >&2; exit 2; }

# Sets GRAD_ACC so that NUM_GPUS x PER_DEVICE_BATCH x GRAD_ACC = GLOBAL_BATCH, or dies.
set_grad_accumulation() {
  local per_step=$((NUM_GPUS * PER_DEVICE_BATCH))
  ((GLOBAL_BATCH % per_step == 0)) ||
    die "GLOBAL_BATCH=$GLOBAL_BATCH is not a multiple of NUM_GPUS x PER_DEVICE_BATCH = $per_step"
  GRAD_ACC=$((GLOBAL_BATCH / per_step))
}

# Sets COMMAND to the train entry under $LAUNCHER with the given arguments; with DRY_RUN=1 it
# prints the command and exits instead.
set_train_command() {
  local launch
  case "$LAUNCHER" in
    deepspeed) launch=("$DEEPSPEED" --num_gpus "$NUM_GPUS" --master_port "$MASTER_PORT" --module emollm_plugin.train) ;;
    torchrun) launch=("$TORCHRUN" --nproc_per_node "$NUM_GPUS" --master_port "$MASTER_PORT" -m emollm_plugin.train) ;;
    *) die "LAUNCHER=$LAUNCHER: use deepspeed or torchrun" ;;
  esac
  COMMAND=("${launch[@]}" "$@")
  if [ "$DRY_RUN" = 1 ]; then
    printf '%q ' "${COMMAND[@]}"
    echo
    exit 0
  fi
}
