#!/usr/bin/env bash
# Session 19, call 3 (self-contained: a fresh machine may have lost call 2's files). Plain and
# sandwich steps of B on burn's cmma kernel and on the mma kernel (B's CUDA default) against
# PyTorch in the same run, conv8 (batch 1024) and MobileNetV2-224 (batch 128), each variant
# warmed up first with the bench's seed (its kernels compiled before the timed run).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B.xz && chmod +x $DEV/autoslim-B
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-B > $DEV/B-mma
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_KERNEL=simple_sync_cyclic/cmma exec %s "$@"\n' $DEV/autoslim-B > $DEV/B-cmma
chmod +x $DEV/B-mma $DEV/B-cmma
for v in B-cmma B-mma; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 10 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
  timeout 45 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
VARIANTS="cmma=$DEV/B-cmma:kernel-gemm mma=$DEV/B-mma:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=45 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 170 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=40 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 130 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 6
tar czf $OUT/call3.tgz -C /tmp/r .
