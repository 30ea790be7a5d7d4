# Shared by pretrain_mvp.sh and finetune.sh (sourced, never run): checks and the launch.
# The sourcing script sets SCRIPT (its name), LAUNCHER, DEEPSPEED, TORCHRUN, NUM_GPUS, MASTER_PORT,
# GLOBAL_BATCH, PER_DEVICE_BATCH and DRY_RUN first.

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
