#!/usr/bin/env bash
# Session 21, call 5. Build I (the committed code), call 4's cache. MobileNetV2-224 (batch 128)
# in a steady state: a 40-step sandwich pre-run compiles the kernels of the widths it meets
# (call 4's 10-step pre-run left some: one bench step of 973 ms), then plain and sandwich steps
# against PyTorch, bf16 on the GEMM path.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-I.xz && chmod +x $DEV/autoslim-I
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
xz -dc $DEV/kc.txz | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-I > $DEV/I; chmod +x $DEV/I
timeout 200 $DEV/I bench --model mobilenet_v2 --batch 128 --iters 40 --warmup 2 --mode sandwich > /tmp/r/prerun-mbv2.log 2>&1
echo "pre-run: exit $? $(grep -o 'sandwich step: .*' /tmp/r/prerun-mbv2.log)"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=15 WARMUP=3 TIMEOUT=70 PEERS="pytorch" VARIANTS="I=$DEV/I:kernel-gemm" \
  timeout 230 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 4
grep -h "sandwich step [0-9]*:" /tmp/r/bench-mbv2/burn-I-mobilenet_v2-sandwich.log | tr '\n' ' ' | cut -c1-700; echo
tar czf $OUT/call5.tgz -C /tmp/r .
tar cf - -C /tmp/kc cache | xz -T8 -6 | split -b 15m - $OUT/kc.txz.
ls -la $OUT
