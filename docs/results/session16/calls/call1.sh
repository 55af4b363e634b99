#!/usr/bin/env bash
# Session 16, call 1: build R = Q (session 15) + a strided conv's input gradient by one matrix
# product with the forward pass's weight operand and a fold kernel (was: a stride-1 GEMM conv
# over the output gradient spread with zeros, 4x the arithmetic) + the weight gradient's
# per-batch partial products summed into the full-size gradient by one kernel (was: burn's
# reduce, then `zero_extended`). The CUDA layer suite of R's slimmable crate first; then conv8
# (batch 1024) each width's pass with R, and plain and sandwich steps of Q and R against
# PyTorch in the same run, each variant warmed up first with the bench's seed.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-Q autoslim-R slimmable-tests-R; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee /tmp/r/gpu.txt
timeout 200 $DEV/slimmable-tests-R on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
for v in Q R; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16
done
timeout 100 $DEV/R-bf16 bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-R.log 2>&1
echo "R widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-R.log | awk '{printf "%s=%s ", $2, $4}')"
for v in Q R; do
  timeout 100 $DEV/$v-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="Q=$DEV/Q-bf16:kernel-gemm R=$DEV/R-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
