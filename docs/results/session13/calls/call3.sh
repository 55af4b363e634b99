#!/usr/bin/env bash
# Session 13, call 3: build J = I + ReLU/ReLU6 inside BatchNorm's kernels. The CUDA layer suite
# on J, with the Fashion-MNIST subset training (15 epochs, bf16, seed 0: does it still converge
# as session 12's 76.0 % mean?) beside it; then conv8 (batch 1024, bf16) plain, sandwich and
# per-width passes, I against J with PyTorch in the same run; MobileNetV2-224 (batch 128) J
# against PyTorch; J's kernel profile of a conv8 plain step.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-I autoslim-J slimmable-tests-J; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r/train
( AUTOSLIM_GEMM_PRECISION=bf16 timeout 280 $DEV/autoslim-J train --config configs/autoslim_cnn_fashion_mnist.toml \
    --work-dir /tmp/r-train --epochs 15 > /tmp/train.log 2>&1; echo "train: exit $?" ) &
timeout 300 $DEV/slimmable-tests-J on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
wait
cp /tmp/r-train/accuracy.csv /tmp/r-train/accuracy.svg /tmp/r/train/ 2>/dev/null
grep "train .*(100%)\|valid" /tmp/train.log > /tmp/r/train/train.log; tail -n 3 /tmp/train.log >> /tmp/r/train/train.log
cut -d, -f1,2 /tmp/r/train/accuracy.csv | tr '\n' ' '; echo
for v in I J; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
timeout 120 $DEV/J-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich widths --seed 0 > /tmp/r/w-J.log 2>&1; echo "J warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich widths" ITERS=12 WARMUP=3 TIMEOUT=90 PEERS="pytorch" \
  VARIANTS="I-bf16=$DEV/I-bf16:kernel-gemm J-bf16=$DEV/J-bf16:kernel-gemm" \
  timeout 420 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 5
grep -h "width 1.000\|width 0.167" /tmp/b-conv8/*widths.log
timeout 150 $DEV/J-bf16 bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich > /tmp/r/w-mbv2-J.log 2>&1; echo "mbv2 J warm-up: exit $?"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="J-bf16=$DEV/J-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 4
BIN=$DEV/J-bf16 RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/p.txt /tmp/r/profile-J-bf16.txt
grep -E "^\| " /tmp/r/profile-J-bf16.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -24
cp -r /tmp/b-conv8 /tmp/r/bench-conv8; cp -r /tmp/b-mbv2 /tmp/r/bench-mbv2
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
