#!/usr/bin/env bash
# Session 36, call 2: call 1 again, alternating the groups, to tell the groups apart from the
# machine's noise: the Fashion-MNIST CNN training with 3 and 2 groups, then the cold first
# sandwich step of both bench models with 1, 2 and 3 groups, twice. Each run on its own empty
# caches.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-P ] || { xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P; }
R=/tmp/r2; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz --exclude="*.mpk" --exclude=train --exclude=valid -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
for g in 3 2; do
  start=$(date +%s%N)
  AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=/tmp/train-$g timeout 140 $DEV/autoslim-P train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/train-$g > $R/train-$g.log 2>&1
  echo "train groups $g: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$g.log); $(grep -o 'training took.*' $R/train-$g.log)" | tee -a $R/summary.txt
done
for rep in a b; do
  for model in conv8 mobilenet_v2; do
    b=128; [ $model = conv8 ] && b=1024
    for g in 1 2 3; do
      log=$R/cold-$model-$g-$rep.log
      AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$g-$rep timeout 90 $DEV/autoslim-P bench --model $model --batch $b --mode sandwich --iters 2 --warmup 0 > $log 2>&1
      echo "$model sandwich groups $g ($rep): exit $? | $(grep -o 'time to the first step[^:]*: [0-9.]* s' $log) | $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $log | head -1)" | tee -a $R/summary.txt
    done
  done
done
