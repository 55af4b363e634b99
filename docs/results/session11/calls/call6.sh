#!/usr/bin/env bash
# Session 11, call 6 (call 5 with --epochs 15): does AutoSlim training converge the same with bf16 operands? The Fashion-MNIST
# subset config (configs/autoslim_cnn_fashion_mnist.toml: the slimmable CNN, 4000/1000 images, 3
# epochs, seed 0), trained twice at once with build C: TF32 and bf16 operands.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-C.xz && chmod +x $DEV/autoslim-C
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
for p in tf32 bf16; do
  ( AUTOSLIM_GEMM_PRECISION=$p timeout 280 $DEV/autoslim-C train --config configs/autoslim_cnn_fashion_mnist.toml \
      --work-dir /tmp/r-$p --epochs 15 > /tmp/train-$p.log 2>&1; echo "$p: exit $?" ) &
done
wait
for p in tf32 bf16; do
  mkdir -p $OUT/$p; cp /tmp/r-$p/accuracy.csv /tmp/r-$p/accuracy.svg $OUT/$p/ 2>/dev/null
  grep -v "train .*(.*%)" /tmp/train-$p.log | tail -n 30 > $OUT/$p/train.log; grep "train .*(100%)\|valid" /tmp/train-$p.log >> $OUT/$p/train.log
  echo "== $p"; cat $OUT/$p/accuracy.csv 2>/dev/null | cut -d, -f1,2
done
