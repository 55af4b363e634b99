#!/usr/bin/env bash
# Session 28, call 6. Cold first steps, each run on its own empty kernel cache (and CUDA driver
# cache), the defaults (warm-up processes on), one process at a time: MobileNetV2-224 batch 128
# (B, B4, B, B4) and conv8 batch 1024 (B4, B), sandwich steps. B = the depthwise kernels
# rewritten; B4 = B + mimalloc (the final code).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B.xz $DEV/autoslim-B4.xz && chmod +x $DEV/autoslim-B $DEV/autoslim-B4
rm -rf /tmp/r; mkdir -p /tmp/r
run() { # model batch variant run
  rm -rf /tmp/c-$3-$4
  AUTOSLIM_KERNEL_CACHE=/tmp/c-$3-$4 timeout 90 $DEV/autoslim-$3 bench --model $1 --batch $2 --iters 3 --warmup 1 --mode sandwich > /tmp/r/cold-$1-$3-$4.log 2>&1
  echo "$1 $3 ($4): exit $? $(grep -o 'time to the first step.*' /tmp/r/cold-$1-$3-$4.log)"
}
run mobilenet_v2 128 B 1; run mobilenet_v2 128 B4 1; run mobilenet_v2 128 B 2; run mobilenet_v2 128 B4 2
run conv8 1024 B4 1; run conv8 1024 B 1
tar czf $OUT/call6.tgz -C /tmp/r .
