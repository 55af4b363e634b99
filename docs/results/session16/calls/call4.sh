#!/usr/bin/env bash
# Session 16, call 4: build T = S + AUTOSLIM_WGRAD_MAX_BATCHES (a cap on how many image batches a
# conv's weight gradient is split into; by default every image of conv8's batch of 1024 is its
# own product, whose partial sums the batch-sum kernel adds). conv8 (batch 1024): each width's
# pass with the default and with caps of 256 and 64 batches; then sandwich steps of each against
# PyTorch in the same run (plain steps left out: little device time was left), each variant
# warmed up first with the bench's seed (as many steps as the bench takes, so that no timed
# step compiles a kernel).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-T.xz && chmod +x $DEV/autoslim-T
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
variants=""
for cap in default 256 64; do
  env=""; [ $cap != default ] && env="AUTOSLIM_WGRAD_MAX_BATCHES=$cap"
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$env" $DEV/autoslim-T > $DEV/T-$cap; chmod +x $DEV/T-$cap
  timeout 60 $DEV/T-$cap bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-T-$cap.log 2>&1
  echo "T-$cap widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-T-$cap.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 60 $DEV/T-$cap bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode sandwich --seed 0 > /tmp/r/w-T-$cap.log 2>&1; echo "T-$cap warm-up: exit $?"
  variants="$variants T-$cap=$DEV/T-$cap:kernel-gemm"
done
MODELS=conv8 MODES="sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" VARIANTS="$variants" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 7
tar czf $OUT/call4.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
