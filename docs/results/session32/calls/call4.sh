#!/usr/bin/env bash
# Session 32, call 4 (same warm H100): a second round of call 2's cold first plain steps of
# MobileNetV2 (`needed` against `channels` GEMM checks, each on its own empty caches), and the
# same for conv8.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-G ] || { xz -dkf $DEV/autoslim-G.xz && chmod +x $DEV/autoslim-G; }
for model in mobilenet_v2 conv8; do
  batch=128; [ $model = conv8 ] && batch=1024
  for checks in needed channels; do
    rm -rf /tmp/cold
    AUTOSLIM_KERNEL_CACHE=/tmp/cold AUTOSLIM_GEMM_CHECKS=$checks AUTOSLIM_WARM_UP=off timeout 150 $DEV/autoslim-G bench --model $model --batch $batch --mode plain --iters 3 --warmup 1 > $OUT/cold-plain-$model-$checks-2.log 2>&1
    echo "$model $checks: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $OUT/cold-plain-$model-$checks-2.log) $(grep -o 'median [0-9.]* ms' $OUT/cold-plain-$model-$checks-2.log)"
  done
done
