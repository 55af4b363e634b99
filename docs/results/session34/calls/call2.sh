#!/usr/bin/env bash
# Session 34, call 2: build I (a release before every pass and CUDA's pool keeping the pages
# handed back, the new defaults) in the one-invocation benchmark against the old defaults (the
# same binary with AUTOSLIM_RELEASE_MEMORY=step AUTOSLIM_CUDA_POOL=release) and PyTorch; conv8's
# sandwich memory log under the new defaults; then cold first steps (empty kernel caches). The
# kernel cache left behind comes back for the next session.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-I ] || { xz -dkf $DEV/autoslim-I.xz && chmod +x $DEV/autoslim-I; }
printf '#!/bin/sh\nAUTOSLIM_RELEASE_MEMORY=step AUTOSLIM_CUDA_POOL=release exec %s "$@"\n' $DEV/autoslim-I > /tmp/old.sh; chmod +x /tmp/old.sh
[ -d /tmp/c ] || tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
R=/tmp/r2; mkdir -p $R
finish() { cp $R/bench/summary.md $OUT/ 2>/dev/null; cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R . ; }
trap finish EXIT
trap "exit 143" TERM
for model in conv8 mobilenet_v2; do  # compile what the cache lacks, outside the timed runs
  b=128; [ $model = conv8 ] && b=1024
  timeout 120 $DEV/autoslim-I bench --model $model --batch $b --mode sandwich --iters 5 --warmup 1 > $R/pre-$model.log 2>&1
  echo "$model pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model.log)" | tee -a $R/summary.txt
done
MODELS="conv8 mobilenet_v2" MODES="plain sandwich widths" ITERS=10 WARMUP=3 TIMEOUT=90 \
  VARIANTS="I=$DEV/autoslim-I:default old=/tmp/old.sh:default" scripts/bench_gpu.sh $R/bench > $R/bench.out 2>&1
echo "bench_gpu: exit $?" | tee -a $R/summary.txt
(mkdir -p /tmp/ml && cd /tmp/ml && printf '[memory.logger]\nlevel = "full"\nstdout = true\n' > cubecl.toml &&
  timeout 60 $DEV/autoslim-I bench --model conv8 --batch 1024 --mode sandwich --iters 3 --warmup 2 > $R/memlog-conv8-sandwich.log 2>&1)
echo "memlog conv8 sandwich: exit $? $(wc -l < $R/memlog-conv8-sandwich.log) lines" | tee -a $R/summary.txt
tar cJf $OUT/kc.txz -C /tmp c
for model in conv8 mobilenet_v2; do  # cold: empty caches (cubecl's and the driver's), no warm-up processes
  b=128; [ $model = conv8 ] && b=1024
  for mode in plain sandwich; do
    AUTOSLIM_WARM_UP=off AUTOSLIM_KERNEL_CACHE=/tmp/cold-$model-$mode timeout 120 $DEV/autoslim-I bench --model $model --batch $b --mode $mode --iters 3 --warmup 1 > $R/cold-$model-$mode.log 2>&1
    echo "$model $mode cold: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/cold-$model-$mode.log) $(grep -o "$mode step: [0-9.]* ms" $R/cold-$model-$mode.log)" | tee -a $R/summary.txt
  done
done
