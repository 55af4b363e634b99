#!/usr/bin/env bash
# Session 34, call 3: call 2's cold first plain steps (conv8 34.5 s, MobileNetV2 39.5 s) were
# 13 s longer than session 32's (21.7 s, 26.6-27.4 s, build G, another H100). Build G against
# build I on this machine, alternating, each on its own empty caches, no warm-up processes.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in G I; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
R=/tmp/r3; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nproc | tee $R/summary.txt; grep -m1 "model name" /proc/cpuinfo | tee -a $R/summary.txt
for run in conv8/G conv8/I mobilenet_v2/G mobilenet_v2/I conv8/I conv8/G; do
  model=${run%/*}; build=${run#*/}; b=128; [ $model = conv8 ] && b=1024
  AUTOSLIM_WARM_UP=off AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$build-$RANDOM timeout 90 $DEV/autoslim-$build bench --model $model --batch $b --mode plain --iters 2 --warmup 0 > $R/cold-$model-$build.log 2>&1
  echo "$model $build cold: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/cold-$model-$build.log)" | tee -a $R/summary.txt
done
