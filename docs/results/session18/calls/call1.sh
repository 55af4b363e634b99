#!/usr/bin/env bash
# Session 18, call 1. Builds: Y = session 17's committed code; Z = Y + the batch sums' cubes over
# the active block only, the unfold reading a vector of channels per thread, and the GEMM
# kernels' forward output and input gradient written in bf16 (converted to f32 by the copy back
# to row-major); Z3 = Z + the conv kernels' stage columns fitted to the channels + the
# weight-gradient kernel `simple_cyclic_fitted/mma` (not the default: Z3 runs as Z + fitted conv
# columns, Z3F with AUTOSLIM_WGRAD_MATMUL=simple_cyclic_fitted/mma). Z3's CUDA tests of the
# changed ops; the Fashion-MNIST subset config trained with Z3F; conv8 (batch 1024) each width's
# pass with each; plain and sandwich steps against PyTorch in the same run, conv8 (batch 1024)
# and MobileNetV2-224 (batch 128), each variant warmed up first with the bench's seed; Z3F's
# kernels profiled at each width.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-Y autoslim-Z autoslim-Z3 slimmable-tests-Z3; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 150 $DEV/slimmable-tests-Z3 gemm_operands::tests::on_cuda gemm_conv::tests::on_cuda:: gemm_conv::tests::on_cuda_bf16 gemm_conv::tests::on_cuda_every_weight gemm_conv::spread_tests conv::tests::on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|refused" /tmp/r/tests.txt | head -10
for v in Y Z Z3; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_WGRAD_MATMUL=simple_cyclic_fitted/mma exec %s "$@"\n' $DEV/autoslim-Z3 > $DEV/Z3F-bf16; chmod +x $DEV/Z3F-bf16
timeout 100 $DEV/Z3F-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-Z3F.log 2>&1
echo "train Z3F: exit $?"; grep -v "^\s*$" /tmp/r/train-Z3F.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-Z3F 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
for v in Y-bf16 Z-bf16 Z3-bf16 Z3F-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4}') $(grep -o '[0-9]* kernel launches ran.*' /tmp/r/widths-$v.log | cut -c1-200)"
done
for v in Y-bf16 Z-bf16 Z3-bf16 Z3F-bf16; do
  timeout 50 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
for v in Y-bf16 Z3-bf16 Z3F-bf16; do
  timeout 50 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=70 PEERS="pytorch" \
  VARIANTS="Y=$DEV/Y-bf16:kernel-gemm Z=$DEV/Z-bf16:kernel-gemm Z3=$DEV/Z3-bf16:kernel-gemm Z3F=$DEV/Z3F-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 7
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="Y=$DEV/Y-bf16:kernel-gemm Z3=$DEV/Z3-bf16:kernel-gemm Z3F=$DEV/Z3F-bf16:kernel-gemm" \
  timeout 240 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 6
BIN=$DEV/Z3F-bf16 RUNS="z3f=conv8:widths:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=100 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/z3f.txt /tmp/r/profile-Z3F-widths.txt; cp /tmp/prof/z3f.log.gz /tmp/r/profile-Z3F-widths.log.gz
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
