#!/usr/bin/env bash
# Session 21, call 3. Builds: G = session 20's committed code (0460479); K = I (call 1) + the
# stem's conv by direct kernels, the weight gradient's kernel rewritten with a row of threads
# per tap (J's, call 2, kept a per-thread array of 27 sums and made every pass slower), and
# AUTOSLIM_STEM_CONV (K-im2col = K with the im2col stem, i.e. I). Kernel cache: call 2's.
# (1) K's direct-conv CUDA test; (2) Nsight Compute per-kernel times of K's width passes;
# (3) conv8 width passes, K against K-im2col; (4) conv8 plain and sandwich steps, G, K and
# K-im2col against PyTorch, all bf16.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-G autoslim-K tests-K; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
cat $DEV/kc.txz.* | xz -dc | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$3" $DEV/$2 > $DEV/$1; chmod +x $DEV/$1; }
wrap G autoslim-G ""
wrap K autoslim-K ""
wrap K-im2col autoslim-K "AUTOSLIM_STEM_CONV=im2col"
timeout 60 $DEV/tests-K direct_conv --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests.txt | cut -c1-200 | head -6
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 90 $NCU --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-K.csv \
  $DEV/K bench --model conv8 --batch 1024 --iters 1 --warmup 1 --mode widths > /tmp/r/ncu-widths-K.log 2>&1
echo "ncu: exit $? $(wc -l < /tmp/r/ncu-widths-K.csv) lines"
for v in K K-im2col; do
  timeout 35 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s ", $4}')"
done
timeout 45 $DEV/K bench --model conv8 --batch 1024 --iters 12 --warmup 6 --mode sandwich > /tmp/r/prerun-K.log 2>&1
echo "pre-run K: exit $? $(grep -o 'sandwich step: .*' /tmp/r/prerun-K.log)"
VARIANTS="G=$DEV/G:kernel-gemm K=$DEV/K:kernel-gemm K-im2col=$DEV/K-im2col:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=45 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 230 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 7
gzip -f /tmp/r/tests.txt /tmp/r/ncu-widths-K.csv
tar czf $OUT/call3.tgz -C /tmp/r .
tar cf - -C /tmp/kc cache | xz -T8 -3 | split -b 15m - $OUT/kc.txz.
ls -la $OUT
