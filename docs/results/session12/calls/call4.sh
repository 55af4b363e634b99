#!/usr/bin/env bash
# Session 12, call 4: does training still converge with build F's defaults? The Fashion-MNIST
# subset config (slimmable CNN, 4000/1000 images, seed 0, 15 epochs), TF32 and bf16 at once, as
# session 11's call 6 ran it with build C. Then each width's forward+backward pass of conv8
# (batch 1024) for F-bf16 against PyTorch, and two more stages for F's plain step.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-F.xz && chmod +x $DEV/autoslim-F
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
for p in tf32 bf16; do
  ( AUTOSLIM_GEMM_PRECISION=$p timeout 280 $DEV/autoslim-F train --config configs/autoslim_cnn_fashion_mnist.toml \
      --work-dir /tmp/r-$p --epochs 15 > /tmp/train-$p.log 2>&1; echo "$p: exit $?" ) &
done
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-F > $DEV/F-bf16; chmod +x $DEV/F-bf16
timeout 150 $DEV/F-bf16 bench --model conv8 --batch 1024 --iters 2 --warmup 1 --mode widths > $OUT/w-widths.log 2>&1; echo "widths warm-up: exit $?"
wait
for p in tf32 bf16; do
  mkdir -p $OUT/$p; cp /tmp/r-$p/accuracy.csv /tmp/r-$p/accuracy.svg $OUT/$p/ 2>/dev/null
  grep -v "train .*(.*%)" /tmp/train-$p.log | tail -n 30 > $OUT/$p/train.log; grep "train .*(100%)\|valid" /tmp/train-$p.log >> $OUT/$p/train.log
  echo "== $p"; cat $OUT/$p/accuracy.csv 2>/dev/null | cut -d, -f1,2 | tr '\n' ' '; echo
done
MODELS=conv8 MODES="widths" ITERS=6 WARMUP=1 TIMEOUT=90 PEERS="pytorch" VARIANTS="F-bf16=$DEV/F-bf16:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/b-widths > /dev/null 2>&1
tar czf $OUT/bench-widths.tgz -C /tmp/b-widths .
grep -h "width " /tmp/b-widths/*widths.log | head -30
for t in 256x128x64/8 128x128x64/4+double 128x128x64/4; do
  AUTOSLIM_GEMM_STAGES=$t timeout 90 $DEV/F-bf16 bench --model conv8 --batch 1024 --iters 12 --warmup 3 --mode plain > /tmp/p.log 2>&1
  echo "$t: exit $? $(grep -E 'plain step:|inferred stage' /tmp/p.log | tr '\n' ' ')"
done
