#!/usr/bin/env bash
# Session 30, call 1. C = the session's code (the stem's columns kernel and its products in runs
# of rows, four-load sums); C0 = C with AUTOSLIM_IM2COL_BATCHES=0 (one product per image);
# A = session 29's prepared build (bench --mode host, session 28's kernels).
# (1) the host's cost of one op (C); (2) each width's pass at 2/12 and full width, MobileNetV2-224
# batch 128, two rounds (the first compiles), then conv8 batch 1024; (3) Nsight Compute's
# per-kernel times of C at 2/12 and full width.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-C.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-C
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== (1) host"
timeout 60 $DEV/autoslim-C bench --mode host > /tmp/r/host-C.log 2>&1; echo "exit $?"; grep -v RESULT /tmp/r/host-C.log | tail -6
echo "== (2) widths"
widths() { # LABEL BIN MODEL BATCH [ENV...]
  local label=$1 bin=$2 model=$3 batch=$4; shift 4
  env "$@" timeout 120 $bin bench --model $model --batch $batch --iters 8 --warmup 3 --mode widths --ratio 2/12 1 > /tmp/r/widths-$model-$label.log 2>&1
  echo "$model $label: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$model-$label.log | awk '{printf "%s %s  ", $2, $4}')"
}
for round in 1 2; do
  for v in C C0 A; do
    case $v in
      C) widths C-$round $DEV/autoslim-C mobilenet_v2 128 ;;
      C0) widths C0-$round $DEV/autoslim-C mobilenet_v2 128 AUTOSLIM_IM2COL_BATCHES=0 ;;
      A) widths A-$round $DEV/autoslim-A mobilenet_v2 128 ;;
    esac
  done
done
for round in 1 2; do
  widths C-$round $DEV/autoslim-C conv8 1024
  widths A-$round $DEV/autoslim-A conv8 1024
done
echo "== (3) ncu of C"
timeout 150 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-C.csv \
  $DEV/autoslim-C bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1 --iters 1 --warmup 1 > /tmp/r/ncu-widths-C.log 2>&1
echo "ncu: exit $?"; python3 scripts/ncu_passes.py /tmp/r/ncu-widths-C.csv 2/12,1 2>&1 | head -20
gzip -f /tmp/r/ncu-widths-C.csv
tar czf $OUT/call1.tgz -C /tmp/r .
XZ_OPT=-T8 tar cJf $OUT/kc.txz -C /tmp c
ls -la $OUT
