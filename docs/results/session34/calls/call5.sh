#!/usr/bin/env bash
# Session 34, call 5: the Fashion-MNIST config trained on CUDA with the new memory defaults (K =
# the committed code: a release before every pass, CUDA's pool keeping the pages) and, with the
# same seed, the old ones (AUTOSLIM_RELEASE_MEMORY=step AUTOSLIM_CUDA_POOL=release): when memory
# goes back must not change what is computed, so the two accuracy tables must be identical.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-K ] || { xz -dkf $DEV/autoslim-K.xz && chmod +x $DEV/autoslim-K; }
[ -d /tmp/c ] || tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
R=/tmp/r5; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
for run in new old; do
  env=(); [ $run = old ] && env=(AUTOSLIM_RELEASE_MEMORY=step AUTOSLIM_CUDA_POOL=release)
  start=$(date +%s)
  env "${env[@]}" timeout 200 $DEV/autoslim-K train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/$run > $R/train-$run.log 2>&1
  echo "$run: exit $? in $(( $(date +%s) - start )) s; $(grep -i 'training took' $R/train-$run.log | tail -1)" | tee -a $R/summary.txt
done
for f in $(cd $R/new && ls *.csv); do cmp -s $R/new/$f $R/old/$f && echo "$f: identical" || echo "$f: DIFFERENT"; done | tee -a $R/summary.txt
cat $R/new/*.csv | tee -a $R/summary.txt
