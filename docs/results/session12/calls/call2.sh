#!/usr/bin/env bash
# Session 12, call 2: build E (forced stages with TF32 element types fixed, the weight
# gradient's matrix-product kernel selectable: AUTOSLIM_GEMM_WGRAD). The whole CUDA layer suite
# (default settings, plus the named-tiling and weight-gradient-kernel tests), then conv8's plain
# step (bf16, batch 1024) with the 128x128x64/4 stage and each weight-gradient kernel.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-E slimmable-tests-E; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 300 $DEV/slimmable-tests-E on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1
echo "tests: exit $?"; grep -E "agrees|DISAGREES|^test .*(ok|FAILED)$|test result|panicked|max abs" $OUT/tests.txt | grep -v "^   " | head -60
export AUTOSLIM_GEMM_PRECISION=bf16
V="auto:simple_cyclic/cmma 128x128x64/4:simple_cyclic/cmma 128x128x64/4:simple_cyclic/mma 128x128x64/4:double_cyclic/cmma 128x128x64/4:double_cyclic/mma 128x128x64/4:ordered_double/cmma 128x128x64/4:double_tilewise/cmma"
label() { echo "$1" | tr '/+:' '__-'; }
i=0
for v in $V; do
  ( export AUTOSLIM_GEMM_TILING=${v%%:*} AUTOSLIM_GEMM_WGRAD=${v#*:}; timeout 150 $DEV/autoslim-E bench --model conv8 --batch 1024 --iters 2 --warmup 1 --mode plain > /tmp/w-$(label $v).log 2>&1 ) &
  i=$((i+1)); [ $((i % 4)) = 0 ] && wait
done
wait
for v in $V; do
  ( export AUTOSLIM_GEMM_TILING=${v%%:*} AUTOSLIM_GEMM_WGRAD=${v#*:}; timeout 60 $DEV/autoslim-E bench --model conv8 --batch 1024 --iters 12 --warmup 3 --mode plain > /tmp/plain-$(label $v).log 2>&1; echo "$v: exit $? $(grep -E 'plain step:|inferred stage|panicked' /tmp/plain-$(label $v).log | tr '\n' ' ')" )
done
tar czf $OUT/logs.tgz -C /tmp $(cd /tmp && ls w-*.log plain-*.log)
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
