#!/usr/bin/env bash
# Session 10, call 3: the builds against PyTorch in one run, caches warm (cubecl's PTX and the
# CUDA driver's, both in the kernel cache): conv8 plain/sandwich/widths and MobileNetV2-224
# plain/sandwich, exact widths: AUTOSLIM_GEMM_KERNEL=$KERNEL, channels aligned to 4 (the default).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
KERNEL=${KERNEL:?}
left() { echo $(( ${DEADLINE:-450} - SECONDS )); }
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
printf '#!/bin/sh\nAUTOSLIM_GEMM_KERNEL=%s exec %s "$@"\n' $KERNEL $DEV/autoslim > $DEV/autoslim-k; chmod +x $DEV/autoslim-k
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
mkdir -p /tmp/kc/cache/cuda-driver && tar xzf $DEV/nvjit.tgz -C /tmp && cp -r /tmp/nvjit/. /tmp/kc/cache/cuda-driver/
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
echo "== warm-up ($(left) s left)"
for b in autoslim-k; do
  timeout 70 $DEV/$b bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode sandwich widths > /tmp/w-$b.log 2>&1; echo "$b conv8: exit $? $(grep 'sandwich step:' /tmp/w-$b.log)"
done
timeout 60 $DEV/autoslim-k bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 1 --mode sandwich > /tmp/w-mb.log 2>&1; echo "mbv2: exit $? $(grep 'sandwich step:' /tmp/w-mb.log)"
echo "== conv8 ($(left) s left)"
MODELS=conv8 MODES="plain sandwich widths" ITERS=20 WARMUP=3 TIMEOUT=70 VARIANTS="K=$DEV/autoslim-k:kernel-gemm" \
  timeout $(( $(left) - 130 )) scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 30
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
echo "== mobilenet_v2 ($(left) s left)"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 VARIANTS="K=$DEV/autoslim-k:kernel-gemm" \
  timeout $(( $(left) - 15 )) scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 12
tar czf $OUT/bench-mbv2.tgz -C /tmp/b-mbv2 .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude=cache/cuda-driver cache; ls -la $OUT
