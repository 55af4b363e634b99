#!/usr/bin/env bash
# Session 21, call 6. Build I (the committed code). The time to the first step with empty
# kernel caches (cubecl's and the CUDA driver's, a new AUTOSLIM_KERNEL_CACHE each run): conv8
# (batch 1024) sandwich, MobileNetV2-224 (batch 128) plain and sandwich, bf16 on the GEMM path.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-I.xz && chmod +x $DEV/autoslim-I
rm -rf /tmp/r; mkdir -p /tmp/r
run() {
  AUTOSLIM_KERNEL_CACHE=/tmp/cold-$1-$2 AUTOSLIM_GEMM_PRECISION=bf16 timeout 100 $DEV/autoslim-I bench --model $1 --batch $3 --iters 3 --warmup 0 --mode $2 > /tmp/r/cold-$1-$2.log 2>&1
  echo "$1 $2: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-$1-$2.log | head -2 | tr '\n' ' ') $(grep -o '[a-z]* step: .*' /tmp/r/cold-$1-$2.log)"
}
run conv8 sandwich 1024
run mobilenet_v2 plain 128
run mobilenet_v2 sandwich 128
tar czf $OUT/call6.tgz -C /tmp/r .
