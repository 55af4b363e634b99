#!/usr/bin/env bash
# Session 28, call 7. Did the rewritten depthwise kernels cost cold-start time? A (session 27's
# code) against B4 (the final code), MobileNetV2-224 batch 128, each run on its own empty kernel
# cache, one process at a time, alternated (A, B4, A, B4).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-B4.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-B4
rm -rf /tmp/r; mkdir -p /tmp/r
run() { # model batch variant run
  rm -rf /tmp/c-$3-$4
  AUTOSLIM_KERNEL_CACHE=/tmp/c-$3-$4 timeout 90 $DEV/autoslim-$3 bench --model $1 --batch $2 --iters 3 --warmup 1 --mode sandwich > /tmp/r/cold-$1-$3-$4.log 2>&1
  echo "$1 $3 ($4): exit $? $(grep -o 'time to the first step.*' /tmp/r/cold-$1-$3-$4.log)"
}
run mobilenet_v2 128 A 1; run mobilenet_v2 128 B4 1; run mobilenet_v2 128 A 2; run mobilenet_v2 128 B4 2
tar czf $OUT/call7.tgz -C /tmp/r .
