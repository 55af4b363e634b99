#!/usr/bin/env bash
# Session 35, call 2: cubecl's memory manager with a page of its own per tensor (X = L built with
# `--features cuda-exclusive-pages`, cubecl-runtime's `exclusive-memory-only`: ExclusivePages
# instead of SubSlices) against its sliced pages (L), on one kernel cache compiled by a sandwich
# pre-run: plain and sandwich steps of conv8 (batch 1 024) and MobileNetV2-224 (batch 128), the
# defaults otherwise (a release before every pass, CUDA's pool keeping its memory); the step
# times, cubecl's pool at a step's end and CUDA's pool's high-water mark.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in L X; do [ -x $DEV/autoslim-$b ] || { xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; }; done
export AUTOSLIM_KERNEL_CACHE=/tmp/c
R=/tmp/r2; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/summary.txt
line() { # LOG: the step's speed, cubecl's pool and CUDA's pool
  printf '%s | %s | %s\n' "$(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $1 | tail -1)" \
    "$(grep -o 'held at most [0-9]* MiB' $1 | tail -1)" "$(grep -o 'peaked at [0-9]* MiB' $1 | tail -1)"
}
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  timeout 100 $DEV/autoslim-L bench --model $model --batch $b --mode sandwich --iters 12 --warmup 0 > $R/pre-$model.log 2>&1
  echo "$model pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model.log)" | tee -a $R/summary.txt
  for run in L-plain L-sandwich X-plain X-sandwich L-sandwich2 X-sandwich2; do
    build=${run%-*}; mode=${run#*-}
    AUTOSLIM_WARM_UP=off timeout 60 $DEV/autoslim-$build bench --model $model --batch $b --mode ${mode%2} --iters 10 --warmup 3 > $R/$model-$run.log 2>&1
    echo "$model $run: exit $? | $(line $R/$model-$run.log)" | tee -a $R/summary.txt
  done
done
