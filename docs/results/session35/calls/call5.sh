#!/usr/bin/env bash
# Session 35, call 5: (a) the README's first command (`autoslim train` of the Fashion-MNIST
# config) on empty caches with N (the committed code: the warm-up shares the launches, named by
# their kernels) and with L (launches named by their sizes), the same seed: total time, and the
# accuracy tables must be identical (the warm-up changes nothing the run computes); (b) warm
# sandwich steps of N against L (no share set: the launch gate's early return), both models.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in L N; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r5; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
for build in N L; do
  start=$(date +%s%N)
  AUTOSLIM_KERNEL_CACHE=/tmp/train-$build timeout 150 $DEV/autoslim-$build train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/train-$build > $R/train-$build.log 2>&1
  echo "train $build: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$build.log)" | tee -a $R/summary.txt
done
for f in $(cd $R/train-N && ls *.csv); do cmp -s $R/train-N/$f $R/train-L/$f && echo "$f: identical" || echo "$f: DIFFERENT"; done | tee -a $R/summary.txt
line() { grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $1 | tail -1; }
export AUTOSLIM_KERNEL_CACHE=/tmp/c
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  timeout 100 $DEV/autoslim-N bench --model $model --batch $b --mode sandwich --iters 12 --warmup 0 > $R/pre-$model.log 2>&1
  echo "$model pre-run (N, cold): exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model.log)" | tee -a $R/summary.txt
  for run in L N L2 N2; do
    AUTOSLIM_WARM_UP=off timeout 60 $DEV/autoslim-${run%2} bench --model $model --batch $b --mode sandwich --iters 10 --warmup 3 > $R/$model-$run.log 2>&1
    echo "$model sandwich $run: exit $? | $(line $R/$model-$run.log)" | tee -a $R/summary.txt
  done
done
