#!/usr/bin/env bash
# Session 15, call 5: what `AUTOSLIM_RELEASE_MEMORY=step` costs the conv8 sandwich step (batch
# 1024, build Q), against `never` and PyTorch in the same run; each variant warmed up first.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-Q.xz && chmod +x $DEV/autoslim-Q
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
for v in never step; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_RELEASE_MEMORY=%s exec %s "$@"\n' $v $DEV/autoslim-Q > $DEV/Q-$v; chmod +x $DEV/Q-$v
  timeout 60 $DEV/Q-$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode sandwich --seed 0 > /tmp/r/w-conv8-Q-$v.log 2>&1; echo "Q-$v warm-up: exit $?"
done
MODELS=conv8 MODES="sandwich" ITERS=12 WARMUP=3 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="Q-never=$DEV/Q-never:kernel-gemm Q-step=$DEV/Q-step:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 4
tar czf $OUT/call5.tgz -C /tmp/r .
