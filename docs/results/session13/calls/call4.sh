#!/usr/bin/env bash
# Session 13, call 4: build K = J + activations kept channels-last between a GEMM conv and its
# BatchNorm (the conv's output and input gradient are views of the kernels' channels-last
# results, no copy; BN's kernels read any strides, 32 channels per cube when they are
# innermost, and write in the input's layout). The CUDA layer suite on K with the Fashion-MNIST
# subset training beside it; conv8 (batch 1024, bf16) plain, sandwich, J against K with PyTorch
# in the same run, then K's per-width passes at batch 1024 and 128; MobileNetV2-224 K against
# PyTorch; K's first step with empty caches; K's kernel profile of a conv8 plain step.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-J autoslim-K slimmable-tests-K; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r/train
( AUTOSLIM_GEMM_PRECISION=bf16 timeout 280 $DEV/autoslim-K train --config configs/autoslim_cnn_fashion_mnist.toml \
    --work-dir /tmp/r-train --epochs 15 > /tmp/train.log 2>&1; echo "train: exit $?" ) &
timeout 300 $DEV/slimmable-tests-K on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
wait
cp /tmp/r-train/accuracy.csv /tmp/r-train/accuracy.svg /tmp/r/train/ 2>/dev/null
grep "train .*(100%)\|valid" /tmp/train.log > /tmp/r/train/train.log; tail -n 3 /tmp/train.log >> /tmp/r/train/train.log
cut -d, -f1,2 /tmp/r/train/accuracy.csv | tr '\n' ' '; echo
for v in J K; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
timeout 100 $DEV/K-bf16 bench --model conv8 --batch 1024 --iters 8 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-K.log 2>&1; echo "K warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=90 PEERS="pytorch" \
  VARIANTS="J-bf16=$DEV/J-bf16:kernel-gemm K-bf16=$DEV/K-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 5
for b in 1024 128; do
  timeout 100 $DEV/K-bf16 bench --model conv8 --batch $b --iters 8 --warmup 2 --mode widths --seed 0 > /tmp/r/K-widths-b$b.log 2>&1
  echo "widths b$b: exit $? $(grep 'width ' /tmp/r/K-widths-b$b.log | sed 's/forward+backward //; s/ (queued.*//' | tr '\n' ' ')"
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="K-bf16=$DEV/K-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 3
AUTOSLIM_KERNEL_CACHE=/tmp/cold AUTOSLIM_GEMM_PRECISION=bf16 timeout 150 $DEV/autoslim-K bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode plain > /tmp/r/cold-bf16.log 2>&1
echo "cold: exit $? $(grep -E 'time to the first step|plain step:' /tmp/r/cold-bf16.log | tr '\n' ' ')"
BIN=$DEV/K-bf16 RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/p.txt /tmp/r/profile-K-bf16.txt
grep -E "^\| " /tmp/r/profile-K-bf16.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -16
cp -r /tmp/b-conv8 /tmp/r/bench-conv8; cp -r /tmp/b-mbv2 /tmp/r/bench-mbv2
tar czf $OUT/call4.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
