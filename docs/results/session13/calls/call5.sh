#!/usr/bin/env bash
# Session 13, call 5 (call 4 was taken back by the device tool mid-run and left too little
# device time to repeat it): build K's CUDA layer suite with the Fashion-MNIST subset training
# beside it, then conv8 (batch 1024, bf16) plain and sandwich steps, K against PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-K slimmable-tests-K; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r/train
( AUTOSLIM_GEMM_PRECISION=bf16 timeout 150 $DEV/autoslim-K train --config configs/autoslim_cnn_fashion_mnist.toml \
    --work-dir /tmp/r-train --epochs 15 > /tmp/train.log 2>&1; echo "train: exit $?" ) &
timeout 150 $DEV/slimmable-tests-K on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
wait
cp /tmp/r-train/accuracy.csv /tmp/r/train/ 2>/dev/null
grep "valid" /tmp/train.log | tail -n 2 > /tmp/r/train/train.log; tail -n 3 /tmp/train.log >> /tmp/r/train/train.log
cut -d, -f1,2 /tmp/r/train/accuracy.csv | tr '\n' ' '; echo
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-K > $DEV/K-bf16; chmod +x $DEV/K-bf16
MODELS=conv8 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=50 PEERS="pytorch" VARIANTS="K-bf16=$DEV/K-bf16:kernel-gemm" \
  timeout 130 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 4
cp -r /tmp/b-conv8 /tmp/r/bench-conv8
tar czf $OUT/call5.tgz -C /tmp/r .
