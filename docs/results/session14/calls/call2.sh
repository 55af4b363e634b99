#!/usr/bin/env bash
# Session 14, call 2: build M = L + BatchNorm partial sums without a division per value +
# FusedSgd (one kernel per parameter; the learner and the bench use it). The CUDA layer suite on
# M with the Fashion-MNIST subset training (15 epochs, bf16, seed 0: FusedSgd trains as burn's
# Sgd did?) beside it; conv8 (batch 1024) and MobileNetV2-224 (batch 128) plain and sandwich,
# L against M with PyTorch in the same run; M's kernel profiles of a conv8 plain step and of a
# MobileNetV2 plain step; M's per-width passes of conv8.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-L autoslim-M slimmable-tests-M; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r/train
( AUTOSLIM_GEMM_PRECISION=bf16 timeout 200 $DEV/autoslim-M train --config configs/autoslim_cnn_fashion_mnist.toml \
    --work-dir /tmp/r-train --epochs 15 > /tmp/train.log 2>&1; echo "train: exit $?" ) &
timeout 240 $DEV/slimmable-tests-M on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
wait
cp /tmp/r-train/accuracy.csv /tmp/r-train/accuracy.svg /tmp/r/train/ 2>/dev/null
grep "train .*(100%)\|valid" /tmp/train.log > /tmp/r/train/train.log; tail -n 3 /tmp/train.log >> /tmp/r/train/train.log
cut -d, -f1,2 /tmp/r/train/accuracy.csv | tr '\n' ' '; echo
for v in L M; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
timeout 100 $DEV/M-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-M.log 2>&1; echo "M warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="L-bf16=$DEV/L-bf16:kernel-gemm M-bf16=$DEV/M-bf16:kernel-gemm" \
  timeout 360 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 5
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="L-bf16=$DEV/L-bf16:kernel-gemm M-bf16=$DEV/M-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 4
timeout 60 $DEV/M-bf16 bench --model conv8 --batch 1024 --iters 5 --warmup 2 --mode widths --seed 0 > /tmp/r/widths-M.log 2>&1; echo "widths: exit $?"
grep -h "width" /tmp/r/widths-M.log | head -14
BIN=$DEV/M-bf16 RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
BIN=$DEV/M-bf16 RUNS="m=mobilenet_v2:plain:kernel-gemm" BATCH=128 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/p.txt /tmp/r/profile-M-conv8.txt; cp /tmp/prof/m.txt /tmp/r/profile-M-mbv2.txt
for f in conv8 mbv2; do echo "-- $f"; grep -E "^\| " /tmp/r/profile-M-$f.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -16; done
cp -r /tmp/b-conv8 /tmp/r/bench-conv8; cp -r /tmp/b-mbv2 /tmp/r/bench-mbv2
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
