#!/usr/bin/env bash
# Session 35, call 6: the README's first command (`autoslim train` of the Fashion-MNIST config)
# on empty caches with K (session 34's code: the warm-up splits the widths) and N (it shares the
# launches), one machine: where burn's own kernels (the im2col stem's and the classifier's f32
# products, compiled per width and not shared) dominate a warm-up process.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in K N; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r6; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
for build in K N; do
  start=$(date +%s%N)
  AUTOSLIM_KERNEL_CACHE=/tmp/train-$build timeout 140 $DEV/autoslim-$build train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/train-$build > $R/train-$build.log 2>&1
  echo "train $build: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $R/train-$build.log); $(grep -o 'training took.*' $R/train-$build.log)" | tee -a $R/summary.txt
  grep -o '\[epoch 1/3\] train .*s |' $R/train-$build.log | tee -a $R/summary.txt
done
for f in $(cd $R/train-N && ls *.csv); do cmp -s $R/train-N/$f $R/train-K/$f && echo "$f: identical" || echo "$f: DIFFERENT"; done | tee -a $R/summary.txt
