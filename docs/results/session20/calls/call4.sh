#!/usr/bin/env bash
# Session 20, call 4. Build G = F with the fitted product stages in multiples of 32 (at most 16
# stage shapes; F's exact fit compiled a new kernel in nearly every sandwich step) and for the
# mma tile only (F's fitted cmma bf16 stage never finished in call 3's test). Kernel cache:
# call 3's, carried. The CUDA weight-gradient test (both stage choices, every kernel) and the
# bf16 GEMM conv test with G; conv8 (batch 1024, bf16) each width's pass with fitted and inferred
# stages; conv8 plain and sandwich steps, G against G-inferred and PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-G slimmable-tests-G; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
[ -f $DEV/kc.txz ] && xz -dc $DEV/kc.txz | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 100 $DEV/slimmable-tests-G gemm_conv::tests::on_cuda_every_weight_gradient gemm_conv::tests::on_cuda_bf16 gemm_tiling --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|refused" /tmp/r/tests.txt | cut -c1-180 | head -8
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$2" $DEV/autoslim-G > $DEV/$1; chmod +x $DEV/$1; }
wrap G ""
wrap G-inferred "AUTOSLIM_WGRAD_STAGES=inferred"
for v in G G-inferred; do
  timeout 50 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4; s+=$4} END {printf "sum=%.2f", s}') $(grep -o '[0-9]* kernel launches ran.*' /tmp/r/widths-$v.log | cut -c1-200)"
done
VARIANTS="G=$DEV/G:kernel-gemm G-inferred=$DEV/G-inferred:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=60 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 230 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 7
grep -h "sandwich step [0-9]*:" /tmp/r/bench-conv8/burn-G-conv8-sandwich.log | tr '\n' ' ' | cut -c1-400; echo
tar czf $OUT/call4.tgz -C /tmp/r .
tar cf - -C /tmp/kc cache | xz -T16 -6 > /tmp/kc.txz; split -b 15m /tmp/kc.txz $OUT/kc.txz.
ls -la $OUT
