#!/usr/bin/env bash
# Session 35, call 4: launches named by their kernel (M: a GEMM by its blueprint, every launch by
# its comptime arguments and its tensors' ranks, types and alignments, not their sizes) against
# launches named by their tensors' sizes (L): cold first steps, alternating on one machine, each
# run on its own empty caches, the warm-up at its default. Sandwich steps, then plain, of both
# models.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in L M; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r4; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
for mode in sandwich plain; do
  for model in mobilenet_v2 conv8; do
    b=128; [ $model = conv8 ] && b=1024
    for build in L M; do
      log=$R/cold-$model-$mode-$build.log
      AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$mode-$build timeout 90 $DEV/autoslim-$build bench --model $model --batch $b --mode $mode --iters 4 --warmup 0 > $log 2>&1
      echo "$model $mode $build: exit $? | $(grep -o 'time to the first step[^:]*: [0-9.]* s' $log) | $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $log | head -1) | $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $log | tail -1)" | tee -a $R/summary.txt
      grep -o 'warm-up: process [0-9/]* done in .*' $log | sed 's/^/    /' | tee -a $R/summary.txt
    done
  done
done
