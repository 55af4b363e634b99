#!/usr/bin/env bash
# Session 9, call 4: binary C (B + device-side padding + one loss read per step) against B and
# PyTorch: conv8 plain/sandwich/widths; GPU utilisation of C's plain steps; MobileNetV2-224
# plain/sandwich, exact widths and DIVISOR=8.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim autoslim-B; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
left() { echo $(( ${DEADLINE:-570} - SECONDS )); }
echo "== 1. conv8"
MODELS=conv8 MODES="plain sandwich widths" ITERS=8 WARMUP=3 TIMEOUT=80 \
  VARIANTS="C=$DEV/autoslim:kernel-gemm B=$DEV/autoslim-B:kernel-gemm" \
  timeout $(( $(left) - 20 )) scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 25
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
echo "== 2. utilisation ($(left) s left)"
nvidia-smi --query-gpu=timestamp,utilization.gpu --format=csv,noheader -lms 20 > $OUT/util.csv &
smi=$!
timeout 60 $DEV/autoslim bench --model conv8 --batch 1024 --iters 30 --warmup 3 --mode plain > $OUT/util_bench.log 2>&1
kill $smi; grep -v RESULT $OUT/util_bench.log | tail -3
awk -F', ' '{print $2}' $OUT/util.csv | sort | uniq -c | sort -rn | head -6
for div in "" 8; do
  if [ "$(left)" -lt 120 ]; then echo "-- mbv2 divisor '$div' skipped"; continue; fi
  echo "== 3. mobilenet_v2 divisor '${div:-none}' ($(left) s left)"
  MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=5 WARMUP=2 TIMEOUT=75 DIVISOR=$div VARIANTS="C=$DEV/autoslim:kernel-gemm" \
    timeout $(( $(left) - 15 )) scripts/bench_gpu.sh /tmp/b-mbv2$div 2>&1 | tail -n 8
  tar czf $OUT/bench-mbv2${div:+-div$div}.tgz -C /tmp/b-mbv2$div .
done
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
