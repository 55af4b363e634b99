#!/usr/bin/env bash
# Session 13, call 2: build I = G + BatchNorm in three kernels per direction (per-channel
# arithmetic, running statistics and full-length parameter gradients inside them) + the
# slimmable conv's weight block read in place and its gradient written full size in one pass.
# The CUDA layer suite on I; then conv8 (batch 1024, bf16) plain, sandwich and per-width passes,
# G against I with PyTorch in the same run, I's per-width passes at batch 128; then
# MobileNetV2-224 (batch 128) plain and sandwich, G against I with PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-G autoslim-I slimmable-tests-I; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r
timeout 300 $DEV/slimmable-tests-I on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
for v in G I; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
for v in G I; do
  ( timeout 150 $DEV/$v-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich widths --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?" ) &
done
wait
MODELS=conv8 MODES="plain sandwich widths" ITERS=20 WARMUP=3 TIMEOUT=90 PEERS="pytorch" \
  VARIANTS="G-bf16=$DEV/G-bf16:kernel-gemm I-bf16=$DEV/I-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 8
grep -h "width 1.000\|width 0.167" /tmp/b-conv8/*.log 2>/dev/null | head
timeout 100 $DEV/I-bf16 bench --model conv8 --batch 128 --iters 10 --warmup 2 --mode widths --seed 0 > /tmp/r/I-b128.log 2>&1; grep "width " /tmp/r/I-b128.log
for v in G I; do
  ( timeout 170 $DEV/$v-bf16 bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich > /tmp/r/w-mbv2-$v.log 2>&1; echo "mbv2 $v warm-up: exit $?" ) &
done
wait
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="G-bf16=$DEV/G-bf16:kernel-gemm I-bf16=$DEV/I-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 6
cp -r /tmp/b-conv8 /tmp/r/bench-conv8; cp -r /tmp/b-mbv2 /tmp/r/bench-mbv2
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
