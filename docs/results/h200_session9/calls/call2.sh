#!/usr/bin/env bash
# Session 9, call 2: CUDA layer tests (shifted-view weight gradient, BN kernels), then conv8
# plain + widths with the shifted-view weight gradient (binary A: no BN kernels yet), and the
# kernel profile of the plain step.
set -uo pipefail
DEV=artifacts/dev
for b in autoslim slimmable-tests; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
echo "== tests"
timeout 200 $DEV/slimmable-tests on_cuda --test-threads=1 > $OUT/tests.txt 2>&1; echo "exit $?"
grep -E "^test |test result|panicked|difference" $OUT/tests.txt | tail -n 40
echo "== bench"
timeout 150 $DEV/autoslim bench --model conv8 --batch 1024 --iters 4 --warmup 2 --mode plain widths > $OUT/bench.log 2>&1
echo "exit $?"; grep -v '^RESULT' $OUT/bench.log
echo "== kernel profile"
BIN=$DEV/autoslim RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=100 \
  scripts/profile_gpu.sh /tmp/kprof > /dev/null 2>&1
grep -v '^RESULT' /tmp/kprof/p.txt | grep -v "^|⎺\|^|⎼" | cut -c1-60,480-600 | head -40
cp /tmp/kprof/p.txt $OUT/profile_plain.txt
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
