#!/usr/bin/env bash
# Session 36, call 1: the warm-up's groups (AUTOSLIM_WARM_UP_GROUPS: the processes split the
# widths between groups and share the launches within one) on one machine, each run on its own
# empty caches. First the README's first command (`autoslim train` of the Fashion-MNIST CNN
# config: 17 widths, burn's own products at every width) with 1, 6, 2 and 3 groups of the 6
# processes (1 = session 35's launch share, 6 = session 34's width split); then the cold first
# sandwich step of both bench models with 1, 2 and 3 groups.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-P ] || { xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P; }
R=/tmp/r1; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
for g in 1 6 2 3; do
  start=$(date +%s%N)
  AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=/tmp/train-$g timeout 140 $DEV/autoslim-P train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/train-$g > $R/train-$g.log 2>&1
  echo "train groups $g: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$g.log); $(grep -o 'training took.*' $R/train-$g.log)" | tee -a $R/summary.txt
  grep -o 'warm-up: process [0-9/]* done in .*' $R/train-$g.log | sed 's/^/    /' | tee -a $R/summary.txt
  grep -o '\[epoch 1/3\] train .*s |' $R/train-$g.log | tee -a $R/summary.txt
done
for g in 6 2 3; do for f in $(cd $R/train-1 && ls *.csv); do cmp -s $R/train-1/$f $R/train-$g/$f && echo "groups $g $f: identical to groups 1" || echo "groups $g $f: DIFFERENT"; done; done | tee -a $R/summary.txt
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  for g in 1 2 3; do
    log=$R/cold-$model-$g.log
    AUTOSLIM_WARM_UP_GROUPS=$g AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$g timeout 90 $DEV/autoslim-P bench --model $model --batch $b --mode sandwich --iters 4 --warmup 0 > $log 2>&1
    echo "$model sandwich groups $g: exit $? | $(grep -o 'time to the first step[^:]*: [0-9.]* s' $log) | $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $log | head -1) | $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $log | tail -1)" | tee -a $R/summary.txt
    grep -o 'warm-up: process [0-9/]* done in .*' $log | sed 's/^/    /' | tee -a $R/summary.txt
  done
done
