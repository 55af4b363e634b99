#!/usr/bin/env bash
# Session 15, call 4: build Q = P with `MemoryRelease` (AUTOSLIM_RELEASE_MEMORY=never|step|pass):
# call 2 released the pool's free pages after each of the first three passes of a sandwich step
# (MobileNetV2-224's peak 1.136 -> 1.073x the plain step's, its step 12 % slower); `step`
# releases once, before the step's widest pass. MobileNetV2-224 (batch 128) plain and sandwich
# steps with each, against PyTorch in the same run; each variant warmed up first.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-Q.xz && chmod +x $DEV/autoslim-Q
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
for v in never step pass; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_RELEASE_MEMORY=%s exec %s "$@"\n' $v $DEV/autoslim-Q > $DEV/Q-$v; chmod +x $DEV/Q-$v
  timeout 90 $DEV/Q-$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode sandwich --seed 0 > /tmp/r/w-mbv2-Q-$v.log 2>&1; echo "Q-$v warm-up: exit $?"
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="Q-never=$DEV/Q-never:kernel-gemm Q-step=$DEV/Q-step:kernel-gemm Q-pass=$DEV/Q-pass:kernel-gemm" \
  timeout 360 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 5
tar czf $OUT/call4.tgz -C /tmp/r .
