#!/usr/bin/env bash
# Session 15, call 1: build O = N + `+fit` stages (GemmTiling::fitted: a product's stage takes
# 64 or 32 columns, or 32 deep, where that pads it less). conv8 at batch 1024: each width's
# forward+backward pass with the default stage and with 128x128x64/4+fit; then plain and
# sandwich steps of both against PyTorch in the same run. Each variant warmed up first with
# the bench's seed (the driver compiles the kernels of the widths it meets).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-O.xz && chmod +x $DEV/autoslim-O
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-O > $DEV/O-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_STAGES=128x128x64/4+fit exec %s "$@"\n' $DEV/autoslim-O > $DEV/O-fit
chmod +x $DEV/O-bf16 $DEV/O-fit
for v in O-bf16 O-fit; do
  timeout 100 $DEV/$v bench --model conv8 --batch 1024 --iters 1 --warmup 1 --mode widths > /dev/null 2>&1
  timeout 100 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 100 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="O-bf16=$DEV/O-bf16:kernel-gemm O-fit=$DEV/O-fit:kernel-gemm" \
  timeout 360 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 5
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
