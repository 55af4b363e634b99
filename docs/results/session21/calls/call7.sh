#!/usr/bin/env bash
# Session 21, call 7. Build I (the committed code). With empty kernel caches: conv8's first plain
# step (the figure earlier sessions reported cold), and a longer conv8 sandwich run (20 steps):
# how many steps compile before the steady state.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-I.xz && chmod +x $DEV/autoslim-I
rm -rf /tmp/r; mkdir -p /tmp/r
AUTOSLIM_KERNEL_CACHE=/tmp/cold-plain AUTOSLIM_GEMM_PRECISION=bf16 timeout 90 $DEV/autoslim-I bench --model conv8 --batch 1024 --iters 3 --warmup 0 --mode plain > /tmp/r/cold-conv8-plain.log 2>&1
echo "plain: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-conv8-plain.log | head -1)"
AUTOSLIM_KERNEL_CACHE=/tmp/cold-sw AUTOSLIM_GEMM_PRECISION=bf16 timeout 240 $DEV/autoslim-I bench --model conv8 --batch 1024 --iters 20 --warmup 0 --mode sandwich > /tmp/r/cold-conv8-sandwich-20.log 2>&1
echo "sandwich: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-conv8-sandwich-20.log | head -1)"
grep -h "sandwich step [0-9]*:" /tmp/r/cold-conv8-sandwich-20.log | tr '\n' ' ' | cut -c1-900; echo
tar czf $OUT/call7.tgz -C /tmp/r .
