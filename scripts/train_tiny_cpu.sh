#!/usr/bin/env bash
# The training scripts, for real, on a CPU in about a minute: a sanity check of their flags.
#
# Builds a tiny offline LLaVA base (`emollm tiny-model`) and a small synthetic EmoBench
# (`emollm data synth`: images and videos), then runs scripts/sequential.sh (hence scripts/finetune.sh
# twice: stage 1, then stage 2 from stage 1's output) with only the sizes swapped for tiny ones:
# 2 CPU processes under torchrun, DeepSpeed ZeRO-2 over gloo (DS_ACCELERATOR=cpu, --use_cpu True),
# fp32, a few steps per stage. Finally it loads the stage-2 checkpoint and answers one image and one
# video question. The answers are noise (a random tiny model, a few steps); that the whole path runs
# and the MVP checkpoint reloads is what this shows.
#
# Hardware: any CPU with 2 cores and ~4 GB of free memory; no GPU, no network, no downloads.
#
# Variables (environment; defaults in brackets):
#   WORK [a new temporary folder]   where the tiny model, the data and the runs go
#   STEPS [3]  optimizer steps per stage      NUM_PROCS [2]  CPU training processes
#   MASTER_PORT [29561]  PY [.venv/bin/python]  EMOLLM [.venv/bin/emollm]  TORCHRUN [.venv/bin/torchrun]
#
# Run from the repository root: scripts/train_tiny_cpu.sh
set -euo pipefail

PY=${PY:-.venv/bin/python}
EMOLLM=${EMOLLM:-.venv/bin/emollm}
WORK=${WORK:-$(mktemp -d -t emollm-tiny-cpu.XXXXXX)}
STEPS=${STEPS:-3}
NUM_PROCS=${NUM_PROCS:-2}
export DS_ACCELERATOR=cpu HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled \
  TOKENIZERS_PARALLELISM=false
start=$SECONDS

echo "== tiny model and synthetic EmoBench in $WORK" >&2
"$EMOLLM" tiny-model --out "$WORK/tiny"
"$EMOLLM" data synth --out "$WORK/emobench" --per-task 8 --frames 8

echo "== scripts/sequential.sh on $NUM_PROCS CPU processes, $STEPS steps per stage" >&2
# The 7B settings swapped for tiny ones; every other flag is the scripts' own. The synthetic set
# stands in for the objective data of stage 1 too: this checks the plumbing, not the recipe.
# (32-px images in 8-px patches: 16 visual tokens per image or frame.)
MODEL=$WORK/tiny/llm VISION=$WORK/tiny/vision PROJECTOR='' EMOBENCH_DIR=$WORK/emobench \
  STAGE1_DATA=$WORK/emobench/llava/train.json STAGE1_IMAGES=$WORK/emobench OUT=$WORK/run \
  LAUNCHER=torchrun TORCHRUN=${TORCHRUN:-.venv/bin/torchrun} NUM_GPUS=$NUM_PROCS MASTER_PORT=${MASTER_PORT:-29561} \
  PER_DEVICE_BATCH=4 GLOBAL_BATCH=$((NUM_PROCS * 4)) DS_CONFIG=scripts/zero2.json BF16=False TF32=False \
  WORKERS=0 VISION_TOKENS=16 MAX_LENGTH=512 STAGE1_MAX_LENGTH=512 STAGE1_LR=3e-3 STAGE2_LR=3e-3 \
  scripts/sequential.sh --use_cpu True --max_steps "$STEPS" --save_strategy no

echo "== reload $WORK/run/llava-stage2 and answer" >&2
"$PY" - "$WORK" <<'EOF'
import json
import sys
from pathlib import Path

from emollm_plugin.emobench.frames import load_frames, load_image
from emollm_plugin.llava_glue.inference import load_runner
from emollm_plugin.mvp import MVPProjector

work = Path(sys.argv[1])
run = work / "run" / "llava-stage2"
config = json.loads((run / "config.json").read_text())
assert config["mm_projector_type"] == "mvp" and config["emollm_version"] == "emollm_v1", config
steps = json.loads((run / "trainer_state.json").read_text())["global_step"]
runner = load_runner(str(run), num_frames=4)
assert isinstance(runner.model.get_model().mm_projector, MVPProjector)
tests = [json.loads(line) for line in (work / "emobench" / "test" / "emo_c.jsonl").read_text().splitlines()]
image = next(r for r in tests if r["modality"] == "image")
video = next(r for r in tests if r["modality"] == "video")
media = [[load_image(work / "emobench" / image["media"])],
         load_frames(work / "emobench" / video["media"], num_frames=4)]
answers = runner.generate([image["question"], video["question"]], media, max_new_tokens=8)
print(f"stage 2: {steps} steps, projector {config['mm_projector_type']} (tau {config['mvp_tau']})")
for record, answer in zip((image, video), answers):
    print(f"{record['modality']:>5} question, truth {record['answer']!r}: model says {answer!r}")
EOF
echo "== tiny CPU run OK in $((SECONDS - start)) s (outputs in $WORK)" >&2
