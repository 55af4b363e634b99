#!/usr/bin/env bash
# Session 17, call 1: build U = session 16's code (T with AUTOSLIM_WGRAD_MAX_BATCHES=256, its
# default since 6163442) + BatchNorm's kernels reading a vector of pixels per thread + layout
# copies between grids of one size without a division per value. The CUDA layer suite of U's
# slimmable crate; the Fashion-MNIST subset config trained with U (end to end); conv8 (batch
# 1024) each width's pass with T-256 and U; plain and sandwich steps of both against PyTorch in
# the same run, each variant warmed up first with the bench's seed (as many steps as the bench);
# a kernel profile of U's passes.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-T autoslim-U slimmable-tests-U; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 150 $DEV/slimmable-tests-U on_cuda --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests.txt | head -10
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_WGRAD_MAX_BATCHES=256 exec %s "$@"\n' $DEV/autoslim-T > $DEV/T-256
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-U > $DEV/U-bf16
chmod +x $DEV/T-256 $DEV/U-bf16
timeout 150 $DEV/U-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-U.log 2>&1
echo "train U: exit $?"; grep -v "^\s*$" /tmp/r/train-U.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-U 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
for v in T-256 U-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="T-256=$DEV/T-256:kernel-gemm U=$DEV/U-bf16:kernel-gemm" \
  timeout 240 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
# Where U's passes go: cubecl's kernel profile, one table per width (the times of small kernels
# are inflated by the profiling, see session 15).
BIN=$DEV/U-bf16 RUNS="w=conv8:widths:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=100 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/w.txt /tmp/r/profile-U-widths.txt; cp /tmp/prof/w.log.gz /tmp/r/profile-U-widths.log.gz
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
