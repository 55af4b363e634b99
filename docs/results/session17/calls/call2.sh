#!/usr/bin/env bash
# Session 17, call 2: build V = U + the fold kernel's kernel positions unrolled (comptime kernel
# size) + batch-sum cubes with at least eight batches per thread + layout copies with 4 rows of
# threads per tile (8 values each way per thread). The CUDA tests call 1 did not reach (its
# 150 s ran out) and those of the changed ops, on V's slimmable crate; the Fashion-MNIST subset
# config trained with V; conv8 (batch 1024) each width's pass with U and V, plain and sandwich
# steps of both against PyTorch in the same run (each variant warmed up first with the bench's
# seed); a kernel profile of V's passes; MobileNetV2-224 (batch 128) plain and sandwich steps of
# T-256 (session 16's code) and V against PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-T autoslim-U autoslim-V slimmable-tests-V; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 200 $DEV/slimmable-tests-V linear::tests::on_cuda norm::tests::on_cuda gemm_operands::tests::on_cuda gemm_conv::spread_tests::on_cuda gemm_conv::tests::on_cuda_every batch_norm_op::tests::on_cuda --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests.txt | head -10
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_WGRAD_MAX_BATCHES=256 exec %s "$@"\n' $DEV/autoslim-T > $DEV/T-256
for v in U V; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; done
chmod +x $DEV/T-256 $DEV/U-bf16 $DEV/V-bf16
timeout 100 $DEV/V-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-V.log 2>&1
echo "train V: exit $?"; grep -v "^\s*$" /tmp/r/train-V.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-V 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
for v in U-bf16 V-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="U=$DEV/U-bf16:kernel-gemm V=$DEV/V-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 5
BIN=$DEV/V-bf16 RUNS="w=conv8:widths:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=100 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/w.txt /tmp/r/profile-V-widths.txt; cp /tmp/prof/w.log.gz /tmp/r/profile-V-widths.log.gz
for v in T-256 V-bf16; do
  timeout 60 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="T-256=$DEV/T-256:kernel-gemm V=$DEV/V-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 5
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
