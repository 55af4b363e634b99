#!/usr/bin/env bash
# Session 21, call 2. Builds: G = session 20's committed code (0460479); J = I (call 1) + the
# stem's conv by direct kernels (direct_conv.rs). Kernel cache: call 1's (G's and I's conv8
# kernels). (1) J's CUDA tests: the direct conv, the copies, the GEMM convs (not the named
# tilings, slow to compile); (2) conv8 width passes, J against G; (3) a sandwich pre-run of
# each (the random widths' kernels into the cache); (4) conv8 plain and sandwich steps, G and J
# against PyTorch, all bf16.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-G autoslim-J tests-J; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
cat $DEV/kc.txz.* | xz -dc | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$3" $DEV/$2 > $DEV/$1; chmod +x $DEV/$1; }
wrap G autoslim-G ""
wrap J autoslim-J ""
timeout 110 $DEV/tests-J direct_conv gemm_operands::tests::on_cuda gemm_conv::tests::on_cuda:: gemm_conv::tests::on_cuda_bf16 --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests.txt | cut -c1-200 | head -12
for v in J G; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s ", $4}')"
done
for v in J G; do
  timeout 45 $DEV/$v bench --model conv8 --batch 1024 --iters 12 --warmup 6 --mode sandwich > /tmp/r/prerun-$v.log 2>&1
  echo "pre-run $v: exit $? $(grep -o 'sandwich step: .*' /tmp/r/prerun-$v.log)"
done
VARIANTS="G=$DEV/G:kernel-gemm J=$DEV/J:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=50 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
grep -h "sandwich step [0-9]*:" /tmp/r/bench-conv8/burn-J-conv8-sandwich.log | tr '\n' ' ' | cut -c1-400; echo
gzip -f /tmp/r/tests.txt
tar czf $OUT/call2.tgz -C /tmp/r .
tar cf - -C /tmp/kc cache | xz -T8 -3 | split -b 15m - $OUT/kc.txz.
ls -la $OUT
