#!/usr/bin/env bash
# Session 35, call 1: cold first steps with the warm-up processes sharing the kernel launches (L)
# against sharing the widths (K, session 34's committed code), alternating on one machine, each
# run on its own empty cubecl and driver caches, the warm-up at its default (half the cores, at
# most six). Plain and sandwich steps of conv8 (batch 1 024) and MobileNetV2-224 (batch 128).
# Then the slimmable crate's CUDA test of the launch shares, when its binary is there.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in K L; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r1; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
nproc | tee -a $R/summary.txt
for model in mobilenet_v2 conv8; do
  b=128; [ $model = conv8 ] && b=1024
  for mode in sandwich plain; do
    for build in K L; do
      log=$R/cold-$model-$mode-$build.log
      AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$mode-$build timeout 100 $DEV/autoslim-$build bench --model $model --batch $b --mode $mode --iters 4 --warmup 0 > $log 2>&1
      echo "$model $mode $build: exit $? | $(grep -o 'time to the first step[^:]*: [0-9.]* s' $log) | $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $log | head -1) | $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $log | tail -1)" | tee -a $R/summary.txt
      grep -o 'warm-up: process [0-9/]* done in .*' $log | sed 's/^/    /' | tee -a $R/summary.txt
    done
  done
done
if [ -x $DEV/slimmable-tests ]; then
  timeout 120 $DEV/slimmable-tests launch_share > $R/tests.log 2>&1
  echo "tests: exit $? $(grep -o 'test result.*' $R/tests.log)" | tee -a $R/summary.txt
fi
