#!/usr/bin/env bash
# Session 12, call 1: named stage shapes for the implicit-GEMM kernels (AUTOSLIM_GEMM_TILING)
# against cubek's inferred one. bf16 operands, conv8 plain step at batch 1024; first the CUDA
# test that each named tiling agrees with burn-ndarray (both precisions), then warm-ups four at a
# time (compiling), then each timed in its own process, then the sandwich step for the inferred
# stage and the fastest named one, and a kernel profile of both plain steps.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-D slimmable-tests-D; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_PRECISION=bf16
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
TILINGS="auto 128x128x32/4 256x128x32/8 128x128x64/4 256x128x64/8 128x128x32/4+double 64x128x32/2 256x128x32/4 128x64x32/4"
name() { echo "$1" | tr '/+' '_p'; }
# 1. correctness of the named tilings (the test binary sets them itself)
AUTOSLIM_TEST_GEMM_TILINGS=$(echo $TILINGS | cut -d' ' -f2- | tr ' ' ',') timeout 200 $DEV/slimmable-tests-D on_cuda_named_tilings --test-threads=1 --nocapture > $OUT/tests.txt 2>&1
echo "tests: exit $?"; grep -E "agrees|DISAGREES|test result" $OUT/tests.txt
# 2. warm-ups, four at a time
i=0
for t in $TILINGS; do
  AUTOSLIM_GEMM_TILING=$t timeout 150 $DEV/autoslim-D bench --model conv8 --batch 1024 --iters 2 --warmup 1 --mode plain > $OUT/w-$(name $t).log 2>&1 &
  i=$((i+1)); [ $((i % 4)) = 0 ] && wait
done
wait
# 3. each timed alone
for t in $TILINGS; do
  AUTOSLIM_GEMM_TILING=$t timeout 60 $DEV/autoslim-D bench --model conv8 --batch 1024 --iters 12 --warmup 3 --mode plain > $OUT/plain-$(name $t).log 2>&1
  echo "$t: exit $? $(grep -E 'plain step:|inferred stage' $OUT/plain-$(name $t).log | tr '\n' ' ')"
done
BEST=$(for t in $TILINGS; do [ $t = auto ] && continue; m=$(grep -o 'median [0-9.]* ms' $OUT/plain-$(name $t).log | awk '{print $2}'); [ -n "$m" ] && echo "$m $t"; done | sort -n | head -1 | awk '{print $2}')
echo "fastest named tiling: $BEST"
# 4. sandwich: an untimed run with the same seed first (compiles the widths), then timed
for t in auto $BEST; do
  AUTOSLIM_GEMM_TILING=$t timeout 150 $DEV/autoslim-D bench --model conv8 --batch 1024 --iters 12 --warmup 2 --mode sandwich --seed 0 > $OUT/ws-$(name $t).log 2>&1 &
done
wait
for t in auto $BEST; do
  AUTOSLIM_GEMM_TILING=$t timeout 90 $DEV/autoslim-D bench --model conv8 --batch 1024 --iters 20 --warmup 3 --mode sandwich --seed 0 > $OUT/sandwich-$(name $t).log 2>&1
  echo "$t sandwich: exit $? $(grep -E 'sandwich step:|peak' $OUT/sandwich-$(name $t).log | tr '\n' ' ')"
done
# 5. kernel profile of both plain steps
for t in auto $BEST; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_TILING=%s exec %s "$@"\n' "$t" $DEV/autoslim-D > $DEV/D-$(name $t); chmod +x $DEV/D-$(name $t)
  BIN=$DEV/D-$(name $t) RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof-$(name $t) > /dev/null 2>&1
  cp /tmp/prof-$(name $t)/p.txt $OUT/profile-$(name $t).txt
  echo "== profile $t"; grep -E "^\| " $OUT/profile-$(name $t).txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -8
done
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
