#!/usr/bin/env bash
# Session 35, call 3: (a) the slimmable crate's launch-share tests on CUDA (L's code);
# (b) where one warm-up process's time goes: process 1 of 6 of a cold sandwich run alone
# (AUTOSLIM_WARM_UP_SHARD=0/6, empty caches), with cubecl's compilation log, for both models;
# (c) cold first steps with cubecl's exclusive pages (X), warm-up at its default.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-L autoslim-X slimmable-tests; do [ -x $DEV/$b ] || { xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; }; done
R=/tmp/r3; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
timeout 150 $DEV/slimmable-tests launch_share > $R/tests.log 2>&1
echo "tests: exit $? $(grep -o 'test result.*' $R/tests.log) $(grep -c 'on_cuda.* ok' $R/tests.log) on CUDA ok" | tee -a $R/summary.txt
for model in mobilenet_v2 conv8; do
  b=128; [ $model = conv8 ] && b=1024
  start=$(date +%s%N)
  AUTOSLIM_KERNEL_CACHE=/tmp/shard-$model AUTOSLIM_WARM_UP_SHARD=0/6 CUBECL_DEBUG_LOG=$R/compile-$model.full timeout 100 $DEV/autoslim-L bench --model $model --batch $b --mode sandwich > $R/shard-$model.log 2>&1
  echo "$model warm-up process 1/6 alone: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(tail -1 $R/shard-$model.log)" | tee -a $R/summary.txt
  awk '/^source:/{skip=1} /END_KERNEL_COMPILATION/{skip=0; print "----"; next} !skip' $R/compile-$model.full | gzip > $R/compile-$model.log.gz
  rm -f $R/compile-$model.full
done
for model in mobilenet_v2 conv8; do
  b=128; [ $model = conv8 ] && b=1024
  log=$R/cold-$model-X.log
  AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-X timeout 100 $DEV/autoslim-X bench --model $model --batch $b --mode sandwich --iters 4 --warmup 0 > $log 2>&1
  echo "$model sandwich X: exit $? | $(grep -o 'time to the first step[^:]*: [0-9.]* s' $log) | $(grep -o 'warm-up: [0-9]* of [0-9]* processes finished in [0-9.]* s' $log | head -1) | $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $log | tail -1)" | tee -a $R/summary.txt
done
