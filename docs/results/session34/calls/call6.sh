#!/usr/bin/env bash
# Session 34, call 6: cold first sandwich steps as a user meets them — empty kernel caches, the
# warm-up processes at their default (on CUDA: half the cores, at most six), build K.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-K ] || { xz -dkf $DEV/autoslim-K.xz && chmod +x $DEV/autoslim-K; }
R=/tmp/r6; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model timeout 110 $DEV/autoslim-K bench --model $model --batch $b --mode sandwich --iters 2 --warmup 0 > $R/cold-$model.log 2>&1
  echo "$model sandwich cold, warm-up on: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/cold-$model.log) $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/cold-$model.log | head -1)" | tee -a $R/summary.txt
done
