#!/usr/bin/env bash
# Session 25, call 1. Build L = session 24's code + the sandwich step's narrower passes side by
# side on "lanes" (AUTOSLIM_LANES; one thread and CUDA stream each; default 1). conv8 and
# MobileNetV2-224 plain and sandwich steps with 1, 2 and 3 lanes (and 3 lanes without any
# memory release), against PyTorch in the same call (bench_gpu.sh); kernels compiled first by a
# sandwich pre-run of each model.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L.xz && chmod +x $DEV/autoslim-L
for n in 1 2 3; do printf '#!/bin/sh\nAUTOSLIM_LANES=%s exec %s "$@"\n' $n "$DEV/autoslim-L" > $DEV/autoslim-L$n; chmod +x $DEV/autoslim-L$n; done
printf '#!/bin/sh\nAUTOSLIM_LANES=3 AUTOSLIM_RELEASE_MEMORY=never exec %s "$@"\n' "$DEV/autoslim-L" > $DEV/autoslim-L3never; chmod +x $DEV/autoslim-L3never
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 100 $DEV/autoslim-L3 bench --model $model --batch $batch --iters 16 --warmup 0 --mode sandwich > /tmp/r/prerun-$model.log 2>&1
  echo "pre-run $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-$model.log | grep -o '[0-9.]* s$')"
  grep -o "sandwich step [0-9]*: [0-9.]* ms" /tmp/r/prerun-$model.log | awk '{printf "%s ", $4} END {print ""}'
done
V="L1=$DEV/autoslim-L1:gemm-all L2=$DEV/autoslim-L2:gemm-all L3=$DEV/autoslim-L3:gemm-all"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="$V L3never=$DEV/autoslim-L3never:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -8
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="$V" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -7
tar czf $OUT/call1.tgz -C /tmp/r .
