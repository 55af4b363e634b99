#!/usr/bin/env bash
# Session 17, call 4: build X = W without the partial sums' two images per loop trip (neutral in
# call 3's profile, reverted): the code as committed. The Fashion-MNIST subset config trained
# with X; conv8 (batch 1024) each width's pass with X; plain and sandwich steps of T-256
# (session 16's code) and X against PyTorch in the same run, for conv8 (batch 1024) and
# MobileNetV2-224 (batch 128), each variant warmed up first with the bench's seed.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-T autoslim-X; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_WGRAD_MAX_BATCHES=256 exec %s "$@"\n' $DEV/autoslim-T > $DEV/T-256
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-X > $DEV/X-bf16
chmod +x $DEV/T-256 $DEV/X-bf16
timeout 100 $DEV/X-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-X.log 2>&1
echo "train X: exit $?"; grep -v "^\s*$" /tmp/r/train-X.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-X 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
timeout 60 $DEV/X-bf16 bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-X-bf16.log 2>&1
echo "X widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-X-bf16.log | awk '{printf "%s=%s ", $2, $4}')"
for v in T-256 X-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
  timeout 60 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="T-256=$DEV/T-256:kernel-gemm X=$DEV/X-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 5
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="T-256=$DEV/T-256:kernel-gemm X=$DEV/X-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 5
tar czf $OUT/call4.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
