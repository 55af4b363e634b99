#!/usr/bin/env bash
# Session 25, call 3. Build M (call 2). The candidate CUDA defaults: bf16 activations with the
# release "widest". (A) cold first steps (empty kernel cache) of conv8 and MobileNetV2-224 with
# them; (B) conv8 and (C) MobileNetV2-224 plain and sandwich with bf16 activations, release
# "step" against "widest", against PyTorch in the same call; (D) the MobileNetV2 Fashion-MNIST
# config trained two epochs with them.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-M.xz && chmod +x $DEV/autoslim-M
for r in step widest; do printf '#!/bin/sh\nAUTOSLIM_ACTIVATIONS=bf16 AUTOSLIM_RELEASE_MEMORY=%s exec %s "$@"\n' $r "$DEV/autoslim-M" > $DEV/autoslim-M-bf16-$r; chmod +x $DEV/autoslim-M-bf16-$r; done
cp $DEV/autoslim-M-bf16-widest $DEV/autoslim-M-bf16-widest2
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (A) cold first steps"
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 150 $DEV/autoslim-M-bf16-widest bench --model $model --batch $batch --iters 14 --warmup 0 --mode sandwich plain > /tmp/r/cold-$model.log 2>&1
  echo "cold $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-$model.log)"
  grep -o "sandwich step [0-9]*: [0-9.]* ms" /tmp/r/cold-$model.log | awk '{printf "%s ", $4} END {print ""}'
done
v() { for r in "$@"; do printf '%s=%s:gemm-all ' "${r#M-}" "$DEV/autoslim-$r"; done; }
echo "== (B, C) benches"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="$(v M-bf16-step M-bf16-widest)" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="$(v M-bf16-widest M-bf16-step M-bf16-widest2)" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -7
echo "== (D) training"
start=$SECONDS
timeout 120 $DEV/autoslim-M-bf16-widest train --config configs/autoslim_mbv2_fashion_mnist.toml --data-dir data/fashion-mnist-subset \
  --work-dir /tmp/w-mbv2 --epochs 2 > /tmp/r/train-mbv2-bf16-widest.log 2>&1
echo "mbv2 bf16 widest: exit $?, wall $((SECONDS - start)) s"
grep -E "^\[epoch.*valid|backend:" /tmp/r/train-mbv2-bf16-widest.log | cut -c1-200
cp /tmp/w-mbv2/accuracy.csv /tmp/r/accuracy-mbv2-bf16-widest.csv 2>/dev/null
tar czf $OUT/call3.tgz -C /tmp/r .
