#!/usr/bin/env bash
# Session 25, call 4. Build N = the session's final code (defaults unchanged: bf16 operands, f32
# activations, release "step"; bench prints the ideal sandwich/plain ratios and the pool's
# memory). (A) cold first steps with the defaults (empty kernel cache); (B) conv8 and
# MobileNetV2-224 plain and sandwich against PyTorch in the same call, the defaults and, for
# MobileNetV2, bf16 activations with the release "widest".
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
printf '#!/bin/sh\nAUTOSLIM_ACTIVATIONS=bf16 AUTOSLIM_RELEASE_MEMORY=widest exec %s "$@"\n' "$DEV/autoslim-N" > $DEV/autoslim-N-bf16-widest; chmod +x $DEV/autoslim-N-bf16-widest
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (A) cold first steps, defaults"
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 150 $DEV/autoslim-N bench --model $model --batch $batch --iters 14 --warmup 0 --mode sandwich plain > /tmp/r/cold-$model.log 2>&1
  echo "cold $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-$model.log)"
  grep -E "sandwich step over" /tmp/r/cold-$model.log
done
timeout 100 $DEV/autoslim-N-bf16-widest bench --model mobilenet_v2 --batch 128 --iters 14 --warmup 0 --mode sandwich plain > /tmp/r/prerun-mbv2-bf16.log 2>&1
echo "pre-run mbv2 bf16: exit $?"
echo "== (B) benches"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="N=$DEV/autoslim-N:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -7
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="N=$DEV/autoslim-N:gemm-all N-bf16-widest=$DEV/autoslim-N-bf16-widest:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -8
tar czf $OUT/call4.tgz -C /tmp/r .
