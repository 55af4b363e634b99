#!/usr/bin/env bash
# NOT RUN in session 14: no device time was left. Ready for the next session.
# Session 14, call 7: call 6 again, warm: a bench run with the same seed first meets the same
# widths (the bench samples them from its seed), so that the CUDA driver has compiled their
# kernels before the profiled process starts (its cache persists on the machine).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-N > $DEV/N-bf16; chmod +x $DEV/N-bf16
timeout 60 $DEV/N-bf16 bench --model conv8 --batch 1024 --iters 5 --warmup 2 --mode sandwich > /tmp/r/warm-up.log 2>&1; echo "warm-up: exit $?"
grep "sandwich step [0-9]*:" /tmp/r/warm-up.log | tr '\n' ' '; echo
BIN=$DEV/N-bf16 RUNS="s=conv8:sandwich:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=120 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/s.txt /tmp/r/profile-N-conv8-sandwich-warm.txt
grep -E "sandwich step|Total" /tmp/r/profile-N-conv8-sandwich-warm.txt | cut -c1-160
grep -E "^\| " /tmp/r/profile-N-conv8-sandwich-warm.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -16
tar czf $OUT/call7.tgz -C /tmp/r .
