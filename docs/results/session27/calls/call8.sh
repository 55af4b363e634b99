#!/usr/bin/env bash
# Session 27, call 8 (build F = C + the high-water mark of CUDA's stream-ordered pool, where
# cubecl takes its pages, reported over each measurement's timed steps). Which peak is true:
# conv8 and MobileNetV2 plain and sandwich steps, each model's kernels compiled first by a short
# run (warm-up processes on), then scripts/bench_gpu.sh (no PyTorch: too little device time).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-F.xz && chmod +x $DEV/autoslim-F
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 50 $DEV/autoslim-F bench --model $model --batch $batch --iters 4 --warmup 1 --mode sandwich plain > /tmp/r/prerun-$model.log 2>&1; echo "prerun $model: exit $?"
  MODELS=$model MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=40 PEERS=" " VARIANTS="F=$DEV/autoslim-F:gemm-all" \
    scripts/bench_gpu.sh /tmp/r/bench-$model 2>&1 | grep "^| burn"
  grep -h "CUDA's memory pool" /tmp/r/bench-$model/*.log
done
tar czf $OUT/call8.tgz -C /tmp/r .
