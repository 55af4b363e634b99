#!/usr/bin/env bash
# Session 9, call 3: (1) is the GPU busy during conv8 plain steps (nvidia-smi utilisation every
# 20 ms) and what does cubecl's memory logger say per step; (2) kernel profile with the BN
# kernels (binary B); (3) conv8 plain+sandwich: PyTorch, A (shifted-view weight gradient),
# B (A + BN kernels), in one run; (4) MobileNetV2-224 PyTorch and B while time is left.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim autoslim-A; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
left() { echo $(( ${DEADLINE:-560} - SECONDS )); }
echo "== 1. utilisation"
d=$(mktemp -d)
printf '[memory.logger]\nlevel = "full"\nfile = "%s/mem.log"\nappend = false\n[streaming.logger]\nlevel = "full"\nfile = "%s/stream.log"\nappend = false\n' "$d" "$d" > $d/cubecl.toml
nvidia-smi --query-gpu=timestamp,utilization.gpu --format=csv,noheader -lms 20 > $OUT/util.csv &
smi=$!
(cd $d && timeout 100 $DEV/autoslim bench --model conv8 --batch 1024 --iters 20 --warmup 3 --mode plain) > $OUT/util_bench.log 2>&1
kill $smi
grep -v RESULT $OUT/util_bench.log
wc -l $d/*.log; grep -c "Allocated a new memory page" $d/mem.log; tail -c 3000 $d/mem.log | tail -n 15 | cut -c1-200
gzip -c $d/mem.log > $OUT/mem.log.gz; gzip -c $d/stream.log > $OUT/stream.log.gz 2>/dev/null
echo "== 2. kernel profile (B)"
BIN=$DEV/autoslim RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=100 scripts/profile_gpu.sh /tmp/kprof > /dev/null 2>&1
grep -v '^RESULT' /tmp/kprof/p.txt | grep -v "^|⎺\|^|⎼" | cut -c1-60,480-600 | head -32
cp /tmp/kprof/p.txt $OUT/profile_plain_B.txt
echo "== 3. conv8 ($(left) s left)"
MODELS=conv8 MODES="plain sandwich" ITERS=8 WARMUP=3 TIMEOUT=80 \
  VARIANTS="A=$DEV/autoslim-A:kernel-gemm B=$DEV/autoslim:kernel-gemm" \
  timeout $(( $(left) - 20 )) scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 12
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
if [ "$(left)" -gt 170 ]; then
  echo "== 4. mobilenet_v2 ($(left) s left)"
  MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=5 WARMUP=2 TIMEOUT=75 VARIANTS="B=$DEV/autoslim:kernel-gemm" \
    timeout $(( $(left) - 15 )) scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 8
  tar czf $OUT/bench-mbv2.tgz -C /tmp/b-mbv2 .
fi
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
