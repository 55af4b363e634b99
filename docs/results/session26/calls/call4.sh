#!/usr/bin/env bash
# Session 26, call 4. B against A262k (B without the running-statistics change) alternated
# twice on one machine, MobileNetV2-224 (batch 128) and conv8 (batch 1024) plain and sandwich
# steps, PyTorch in the same call; every variant pre-run once so no timed step compiles.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-B.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-B
printf '#!/bin/sh\nAUTOSLIM_DEPTHWISE_WGRAD_THREADS=262144 exec %s "$@"\n' "$DEV/autoslim-A" > $DEV/autoslim-A-262144; chmod +x $DEV/autoslim-A-262144
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
for m in mobilenet_v2:128 conv8:1024; do
  model=${m%:*}; batch=${m#*:}
  for v in B A-262144; do timeout 100 $DEV/autoslim-$v bench --model $model --batch $batch --iters 12 --warmup 2 --mode sandwich > /tmp/r/prerun-$model-$v.log 2>&1; echo "pre-run $model $v exit $?"; done
done
V="B1=$DEV/autoslim-B:gemm-all A262k1=$DEV/autoslim-A-262144:gemm-all B2=$DEV/autoslim-B:gemm-all A262k2=$DEV/autoslim-A-262144:gemm-all"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="$V" scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -8
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="$V" scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -8
tar czf $OUT/call4.tgz -C /tmp/r .
