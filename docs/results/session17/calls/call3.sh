#!/usr/bin/env bash
# Session 17, call 3: build W = V with the layout copies back to 8 rows of threads per tile (call
# 2's profile: 4 rows were slower) + BatchNorm's partial sums reading two images per loop trip.
# W's BatchNorm and layout-copy tests on CUDA; the Fashion-MNIST subset config trained with W;
# conv8 (batch 1024) each width's pass with V and W; plain and sandwich steps of T-256 (session
# 16's code), V and W against PyTorch in the same run (each warmed up first with the bench's
# seed); a kernel profile of W's passes.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-T autoslim-V autoslim-W slimmable-tests-W; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 120 $DEV/slimmable-tests-W batch_norm_op::tests::on_cuda norm::tests::on_cuda gemm_operands::tests::on_cuda --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests.txt | head -10
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_WGRAD_MAX_BATCHES=256 exec %s "$@"\n' $DEV/autoslim-T > $DEV/T-256
for v in V W; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; done
chmod +x $DEV/T-256 $DEV/V-bf16 $DEV/W-bf16
timeout 100 $DEV/W-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-W.log 2>&1
echo "train W: exit $?"; grep -v "^\s*$" /tmp/r/train-W.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-W 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
for v in V-bf16 W-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}')"
done
for v in T-256 V-bf16 W-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="T-256=$DEV/T-256:kernel-gemm V=$DEV/V-bf16:kernel-gemm W=$DEV/W-bf16:kernel-gemm" \
  timeout 260 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
BIN=$DEV/W-bf16 RUNS="w=conv8:widths:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=100 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/w.txt /tmp/r/profile-W-widths.txt; cp /tmp/prof/w.log.gz /tmp/r/profile-W-widths.log.gz
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
