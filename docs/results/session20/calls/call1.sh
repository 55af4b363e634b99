#!/usr/bin/env bash
# Session 20, call 1. Build E = session 19's code + (1) stride-1 weight gradients' products
# ordered image batch outermost (AUTOSLIM_WGRAD_ORDER=images-outer: the nine kernel positions of
# one image batch run side by side and share their operands in L2; positions-outer = before)
# and (2) 3-channel stems on the implicit-GEMM kernels (AUTOSLIM_GEMM_MIN_CHANNELS=1; 8 = before,
# im2col by tensor ops). The slimmable crate's whole CUDA test binary with E (its stem cases now
# on the GEMM kernels; session 19's unrun swizzled-stage test); conv8 (batch 1024, bf16) each
# width's pass with E's defaults, each change alone, and neither (= session 19's code path).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-E slimmable-tests-E; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 200 $DEV/slimmable-tests-E --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|swizzle" /tmp/r/tests.txt | cut -c1-160 | head -14
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$2" $DEV/autoslim-E > $DEV/$1; chmod +x $DEV/$1; }
wrap E ""
wrap E-oldorder "AUTOSLIM_WGRAD_ORDER=positions-outer"
wrap E-oldstem "AUTOSLIM_GEMM_MIN_CHANNELS=8"
wrap E-neither "AUTOSLIM_WGRAD_ORDER=positions-outer AUTOSLIM_GEMM_MIN_CHANNELS=8"
for v in E E-neither E-oldorder E-oldstem E; do
  timeout 75 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4; s+=$4} END {printf "sum=%.2f", s}')"
done
tar czf $OUT/call1.tgz -C /tmp/r .
tar czf $OUT/kc.tgz -C /tmp/kc cache 2>/dev/null; ls -la $OUT
