#!/usr/bin/env bash
# Session 27, call 1 (build A = session 26's code + `bench --ratio`). Where the ~16 ms that
# every MobileNetV2-224 pass (batch 128) spends at any width goes: (1) the 2/12 and full-width
# passes timed (which also fills the kernel cache); (2) Nsight Compute's per-kernel GPU time of
# one warm-up and one timed pass at each (clocks and caches left alone); (3) Nsight Systems'
# kernel timeline of the same, if the machine has it (the GPU's idle time between kernels).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz && chmod +x $DEV/autoslim-A
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
ARGS="bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1"
echo "== (1) widths, timed"
timeout 150 $DEV/autoslim-A $ARGS --iters 6 --warmup 2 > /tmp/r/widths.log 2>&1; echo "exit $?"
grep "forward+backward" /tmp/r/widths.log
export AUTOSLIM_WARM_UP=off
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
NSYS=$(command -v nsys || ls /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda/bin/nsys 2>/dev/null | head -1)
echo "ncu: $NCU; nsys: $NSYS"
echo "== (2) ncu"
timeout 300 $NCU --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths.csv \
  $DEV/autoslim-A $ARGS --iters 1 --warmup 1 > /tmp/r/ncu-widths.log 2>&1
echo "ncu: exit $? $(wc -l < /tmp/r/ncu-widths.csv) lines"; grep "forward+backward" /tmp/r/ncu-widths.log
python3 scripts/ncu_passes.py /tmp/r/ncu-widths.csv 2/12,1 2>&1 | head -40
gzip -f /tmp/r/ncu-widths.csv
if [ -n "$NSYS" ]; then
  echo "== (3) nsys"
  timeout 120 $NSYS profile --trace=cuda --sample=none --cpuctxsw=none -o /tmp/r/nsys $DEV/autoslim-A $ARGS --iters 3 --warmup 2 > /tmp/r/nsys.log 2>&1; echo "nsys: exit $?"
  timeout 60 $NSYS stats --report cuda_gpu_trace --format csv --output /tmp/r/nsys /tmp/r/nsys.nsys-rep > /dev/null 2>&1; echo "stats: exit $?"
  ls /tmp/r; gzip -f /tmp/r/nsys*.csv; rm -f /tmp/r/nsys.sqlite
fi
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf - -C /tmp c | split -b 15m - $OUT/kc.tgz.
ls -la $OUT
