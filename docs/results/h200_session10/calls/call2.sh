#!/usr/bin/env bash
# Session 10, call 2: (1) the gemm_conv CUDA tests, incl. each candidate implicit-GEMM kernel
# against burn-ndarray; (2) conv8 plain step with each candidate kernel (AUTOSLIM_GEMM_KERNEL),
# channels aligned to 4; (3) conv8 per-width passes and sandwich, channels aligned to 4 vs not
# (AUTOSLIM_GEMM_ALIGN=1), burn's default kernel. Driver and cubecl caches carried.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
left() { echo $(( ${DEADLINE:-570} - SECONDS )); }
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
xz -dkf $DEV/slimmable-tests.xz && chmod +x $DEV/slimmable-tests
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
mkdir -p /tmp/kc/cache/cuda-driver && tar xzf $DEV/nvjit.tgz -C /tmp && cp -r /tmp/nvjit/. /tmp/kc/cache/cuda-driver/
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
KERNELS="simple_sync_cyclic/cmma simple_sync_strided/mma simple_async_cyclic/cmma simple_async_strided/mma simple_async_tma/cmma specialized_async_cyclic/cmma specialized_async_strided/mma specialized_tma/cmma specialized_tma/mma"
echo "== 1. tests"
export CUDA_CACHE_PATH=/tmp/kc/cache/cuda-driver CUDA_CACHE_MAXSIZE=1073741824
AUTOSLIM_TEST_GEMM_KERNELS=$(echo $KERNELS | tr ' ' ',') timeout 200 $DEV/slimmable-tests gemm_conv::tests::on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1; echo "exit $?"
grep -E "agrees|DISAGREES|^test |test result" $OUT/tests.txt
unset CUDA_CACHE_PATH CUDA_CACHE_MAXSIZE
echo "== 2. kernels, conv8 plain ($(left) s left)"
for k in $KERNELS; do
  [ "$(left)" -lt 130 ] && { echo "$k skipped"; continue; }
  log=$OUT/plain-$(echo $k | tr / -).log
  AUTOSLIM_GEMM_KERNEL=$k timeout 60 $DEV/autoslim bench --model conv8 --batch 1024 --iters 8 --warmup 2 --mode plain > $log 2>&1
  echo "$k: exit $? $(grep -E 'first step|plain step:' $log | grep -o '[0-9.]* s$\|median [0-9.]* ms' | tr '\n' ' ') fallbacks: $(grep -o '[0-9]* conv passes fell back' $log)"
done
echo "== 3. alignment ($(left) s left)"
for a in 4 1; do
  [ "$(left)" -lt 40 ] && { echo "a$a skipped"; continue; }
  AUTOSLIM_GEMM_ALIGN=$a timeout $(( $(left) - 20 )) $DEV/autoslim bench --model conv8 --batch 1024 --iters 6 --warmup 1 --mode widths sandwich > $OUT/align$a.log 2>&1
  echo "align $a: exit $?"; grep -E "width |sandwich step:" $OUT/align$a.log
done
cd $OUT && tar czf logs.tgz *.log tests.txt && rm -f *.log
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache; ls -la $OUT
