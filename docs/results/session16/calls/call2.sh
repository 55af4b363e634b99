#!/usr/bin/env bash
# Session 16, call 2: build S = R with the strided input gradient's columns made a few images at a
# time (at most 64 Mi values; R's 604 MB buffer took a new 9 GB page of cubecl's pool). The CUDA
# tests of the changed ops (S's slimmable crate: the GEMM conv against burn-ndarray, the strided
# input gradient alone and an image at a time, the batch sums); the Fashion-MNIST subset config
# trained with Q and with S (the end-to-end check that session 13's channels-last build failed);
# conv8 (batch 1024) each width's pass with S, and plain and sandwich steps of Q and S against
# PyTorch in the same run, each variant warmed up first with the bench's seed.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-Q autoslim-S slimmable-tests-S; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 150 $DEV/slimmable-tests-S gemm_conv::tests::on_cuda:: gemm_conv::spread_tests gemm_operands on_cuda_bf16 --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "^test |test result|panicked" /tmp/r/tests.txt | head -20
for v in Q S; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16
  timeout 150 $DEV/$v-bf16 train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-$v.log 2>&1
  echo "train $v: exit $?"; grep -v "^\s*$" /tmp/r/train-$v.log | tail -n 15
  cp -r runs/autoslim_cnn_fashion_mnist /tmp/r/train-$v 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
done
timeout 100 $DEV/S-bf16 bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-S.log 2>&1
echo "S widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-S.log | awk '{printf "%s=%s ", $2, $4}')"
for v in Q S; do
  timeout 100 $DEV/$v-bf16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" \
  VARIANTS="Q=$DEV/Q-bf16:kernel-gemm S=$DEV/S-bf16:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
