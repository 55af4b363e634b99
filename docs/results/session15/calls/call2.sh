#!/usr/bin/env bash
# Session 15, call 2: build P (see call1.sh). A kernel profile of each conv8 width's pass (default stage;
# +fit was no faster in call 1); MobileNetV2-224 plain and sandwich steps with and without AUTOSLIM_RELEASE_MEMORY=1,
# against PyTorch in the same run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_STAGES=128x128x64/4+fit exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-fit
chmod +x $DEV/P-bf16 $DEV/P-fit
# Where each width's pass goes (cubecl writes one table per sync: one per width).
BIN=$DEV/P-bf16 RUNS="w=conv8:widths:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=120 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/w.txt /tmp/r/profile-P-widths.txt; cp /tmp/prof/w.log.gz /tmp/r/profile-P-widths.log.gz
# MobileNetV2-224 (batch 128): does releasing memory between passes bring the sandwich's peak
# down to the plain step's, and at what cost in time?
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_RELEASE_MEMORY=1 exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-release
chmod +x $DEV/P-release
for v in P-bf16 P-release; do
  timeout 90 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="P-bf16=$DEV/P-bf16:kernel-gemm P-release=$DEV/P-release:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 4
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
