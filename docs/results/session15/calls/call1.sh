#!/usr/bin/env bash
# Session 15, call 1: build P = N + `+fit` stages (GemmTiling::fitted: a product's stage takes
# 64 or 32 columns, or 32 deep, where that pads it less) + AUTOSLIM_RELEASE_MEMORY=1 (the
# memory pool's free pages handed back between a step's passes; off by default). conv8 at batch 1024: each width's
# forward+backward pass with the default stage and with 128x128x64/4+fit; then plain and
# sandwich steps of both against PyTorch in the same run (the CUDA layer suite first: build O's
# slimmable crate, the same as P's; its tiling test has a +fit stage); +fit with cubek's simple_sync_strided/mma kernel too (unverified
# in session 10 with inferred stages; stages are named now). Each variant's steps warmed up first with
# the bench's seed (the driver compiles the kernels of the widths it meets).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r
xz -dkf $DEV/slimmable-tests-O.xz && chmod +x $DEV/slimmable-tests-O
timeout 200 $DEV/slimmable-tests-O on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "fit|DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_STAGES=128x128x64/4+fit exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-fit
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_STAGES=128x128x64/4+fit AUTOSLIM_GEMM_KERNEL=simple_sync_strided/mma exec %s "$@"\n' $DEV/autoslim-P > $DEV/P-fit-strided
chmod +x $DEV/P-bf16 $DEV/P-fit $DEV/P-fit-strided
for v in P-bf16 P-fit P-fit-strided; do
  timeout 100 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 100 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="P-bf16=$DEV/P-bf16:kernel-gemm P-fit=$DEV/P-fit:kernel-gemm P-fit-strided=$DEV/P-fit-strided:kernel-gemm" \
  timeout 420 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 5
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
