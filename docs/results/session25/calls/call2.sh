#!/usr/bin/env bash
# Session 25, call 2. Build M = session 24's code + the release "widest" (AUTOSLIM_RELEASE_MEMORY:
# the memory pool's free pages handed back before the max width's pass and again after it) +
# the bench reporting what cubecl's pool holds at a step's end. conv8 and MobileNetV2-224 plain
# and sandwich steps with each release placement, and MobileNetV2 with bf16 activations, against
# PyTorch in the same call; kernels compiled first by a sandwich pre-run of each model.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-M.xz && chmod +x $DEV/autoslim-M
cp $DEV/autoslim-M $DEV/autoslim-M-step2 2>/dev/null; for r in never step widest pass; do printf '#!/bin/sh\nAUTOSLIM_RELEASE_MEMORY=%s exec %s "$@"\n' $r "$DEV/autoslim-M" > $DEV/autoslim-M-$r; chmod +x $DEV/autoslim-M-$r; done
for r in step widest; do printf '#!/bin/sh\nAUTOSLIM_ACTIVATIONS=bf16 AUTOSLIM_RELEASE_MEMORY=%s exec %s "$@"\n' $r "$DEV/autoslim-M" > $DEV/autoslim-M-bf16-$r; chmod +x $DEV/autoslim-M-bf16-$r; done
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 100 $DEV/autoslim-M bench --model $model --batch $batch --iters 16 --warmup 0 --mode plain sandwich > /tmp/r/prerun-$model.log 2>&1
  echo "pre-run $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-$model.log | grep -o '[0-9.]* s$')"
done
timeout 100 $DEV/autoslim-M-bf16-step bench --model mobilenet_v2 --batch 128 --iters 16 --warmup 0 --mode plain sandwich > /tmp/r/prerun-mobilenet_v2-bf16.log 2>&1
echo "pre-run mobilenet_v2 bf16: exit $?"
v() { for r in "$@"; do printf '%s=%s:gemm-all ' "${r#M-}" "$DEV/autoslim-$r"; done; }
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="$(v M-step M-widest M-pass M-never M-step2)" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -9
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="$(v M-step M-widest M-pass M-bf16-step M-bf16-widest)" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -9
tar czf $OUT/call2.tgz -C /tmp/r .
