#!/usr/bin/env bash
# Session 22, call 1. Build L (= I, session 21's committed code). Where a cold sandwich step's
# time goes: (a) conv8 sandwich, 6 steps, empty caches; (b) the same with cubecl's PTX cache
# kept and the CUDA driver's emptied (the driver's PTX -> SASS share); (c) again with empty
# caches and cubecl's full compilation log, to list every kernel variant compiled (ids only).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L.xz && chmod +x $DEV/autoslim-L
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16
run() { timeout $1 $DEV/autoslim-L bench --model conv8 --batch 1024 --iters 6 --warmup 0 --mode sandwich > /tmp/r/$2.log 2>&1; echo "$2: exit $? $(grep -o 'first step[^;]*' /tmp/r/$2.log | head -1)"; grep -h "sandwich step [0-9]*:" /tmp/r/$2.log | tr '\n' ' '; echo; }
AUTOSLIM_KERNEL_CACHE=/tmp/c1 run 200 a-cold
ls /tmp/c1/cuda/*/ptx; du -sh /tmp/c1/*
rm -rf /tmp/c1/cuda-driver
AUTOSLIM_KERNEL_CACHE=/tmp/c1 run 120 b-ptx-warm-driver-cold
AUTOSLIM_KERNEL_CACHE=/tmp/c1 run 60 b2-both-warm
AUTOSLIM_KERNEL_CACHE=/tmp/c3 CUBECL_DEBUG_LOG=/tmp/r/compile-full.log run 300 c-cold-logged
ls -la /tmp/r
# Kernel ids only: drop the sources.
awk '/^source:/{skip=1} /END_KERNEL_COMPILATION/{skip=0; print "----"; next} !skip' /tmp/r/compile-full.log > /tmp/r/compile-ids.log
rm -f /tmp/r/compile-full.log
grep -c "START_KERNEL_COMPILATION" /tmp/r/compile-ids.log
grep "^name:" /tmp/r/compile-ids.log | sed 's/<.*//' | sort | uniq -c | sort -rn | head -30
tar cJf $OUT/call1.txz -C /tmp/r .
