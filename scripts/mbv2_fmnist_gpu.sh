#!/usr/bin/env bash
# Slimmable MobileNetV2 (small stem) on the full Fashion-MNIST, on the device tool's GPU, in
# calls of at most 10 minutes chained through the checkpoints (issue 5's evidence,
# docs/RESULTS.md). On the GPU machine, from the repository root:
#
#   DEV=artifacts/dev DEADLINE=560 scripts/mbv2_fmnist_gpu.sh OUT_DIR
#
# DEV holds `autoslim.xz` or `autoslim` (cargo build --release --features cuda, stripped) and
# `fmnist/` (the four Fashion-MNIST IDX files). If DEV/resume/ holds the files of one
# checkpoint (model-N.mpk, optim-N.mpk, scheduler-N.mpk) the run continues after epoch N.
# Training stops before DEADLINE seconds have passed since the script started (a cut-short
# epoch is lost; the finished ones are checkpointed); OUT_DIR then receives:
#   ckpt/    the newest checkpoint's three files (carry them back as DEV/resume/);
#   run.tgz  the log, the work directory's small files (accuracy.csv, accuracy.svg once the
#            run has finished all its epochs) and nvidia-smi's description of the GPU.
# CONV (default depthwise-sum) is AUTOSLIM_CONV's value.
set -uo pipefail
OUT_DIR=${1:-runs/mbv2_fmnist_gpu}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
DEADLINE=${DEADLINE:-560}
CONV=${CONV:-depthwise-sum}
CONFIG=${CONFIG:-configs/autoslim_mbv2_fashion_mnist.toml}
WORK=${WORK:-/tmp/mbv2_fmnist}
mkdir -p "$OUT_DIR/ckpt" "$WORK/checkpoint"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -e "$DEV/autoslim.xz" ] && xz -dkf "$DEV/autoslim.xz"
chmod +x "$DEV/autoslim"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$WORK/gpu.txt"

resume=()
if ls "$DEV"/resume/model-*.mpk > /dev/null 2>&1; then
  cp "$DEV"/resume/*.mpk "$WORK/checkpoint/"
  resume=(--resume)
  echo "resuming from $(ls "$DEV"/resume)"
fi

left=$(( DEADLINE - SECONDS - 25 ))   # 25 s to pack what comes back
echo "training for at most $left s (AUTOSLIM_CONV=$CONV)"
AUTOSLIM_CONV=$CONV timeout "$left" "$DEV/autoslim" train --config "$CONFIG" --data-dir "$DEV/fmnist" \
  --work-dir "$WORK" "${resume[@]}" 2>&1 | tee -a "$WORK/train.log"
echo "train exit: ${PIPESTATUS[0]}" | tee -a "$WORK/train.log"

last=$(ls "$WORK/checkpoint" | sed -n 's/^model-\([0-9]*\)\.mpk$/\1/p' | sort -n | tail -1)
if [ -n "$last" ]; then
  for kind in model optim scheduler; do cp "$WORK/checkpoint/$kind-$last.mpk" "$OUT_DIR/ckpt/"; done
fi
(cd "$WORK" && find . -maxdepth 1 -type f ! -name '*.mpk' -print0 | tar czf "$OUT_DIR/run.tgz" --null -T -)
ls -la "$OUT_DIR" "$OUT_DIR/ckpt"
