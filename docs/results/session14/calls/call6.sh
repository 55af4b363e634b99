#!/usr/bin/env bash
# Session 14, call 6: where a conv8 sandwich step's time goes (build N, bf16, batch 1024):
# cubecl's kernel profile of 3 sandwich steps after 2, for the next session's plan (the
# sandwich/plain ratio goal).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-N > $DEV/N-bf16; chmod +x $DEV/N-bf16
BIN=$DEV/N-bf16 RUNS="s=conv8:sandwich:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=120 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/s.txt /tmp/r/profile-N-conv8-sandwich.txt
grep -E "sandwich step|Total" /tmp/r/profile-N-conv8-sandwich.txt | cut -c1-160
grep -E "^\| " /tmp/r/profile-N-conv8-sandwich.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -24
tar czf $OUT/call6.tgz -C /tmp/r .
