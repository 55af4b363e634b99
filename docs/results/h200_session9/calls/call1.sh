#!/usr/bin/env bash
# Session 9, call 1: where the conv8 step's host time goes (host sampling profile) and the
# kernel time per width (cubecl's profile), batch 1024.
set -uo pipefail
DEV=artifacts/dev
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
mkdir -p /tmp/kc
[ -e $DEV/kernel_cache.tgz ] && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p $OUT/host
echo "== host profile"
AUTOSLIM_HOST_PROFILE=$OUT/host/conv8 timeout ${T1:-300} $DEV/autoslim bench --model conv8 --batch 1024 \
  --iters 4 --warmup 2 --mode plain widths > $OUT/host.log 2>&1
echo "exit $?"; grep -v '^RESULT' $OUT/host.log
for f in $OUT/host/conv8-plain.txt $OUT/host/conv8-width0.167.txt; do [ -f $f ] && head -60 $f | cut -c1-220; done
echo "== kernel profile"
BIN=$DEV/autoslim RUNS="${RUNS:-w=conv8:widths:kernel-gemm}" BATCH=1024 ITERS=3 WARMUP=1 TIMEOUT=${T2:-200} \
  scripts/profile_gpu.sh $OUT/kprof > /dev/null 2>&1
grep -v '^RESULT' $OUT/kprof/w.txt | head -20
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
