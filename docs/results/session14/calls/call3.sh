#!/usr/bin/env bash
# Session 14, call 3: build N = M + the depthwise input gradient with a comptime stride +
# AUTOSLIM_CONV=gemm-all (pointwise convs on the implicit-GEMM kernels) + AUTOSLIM_SGD=tensor-ops
# (the learner's update in tensor ops). The CUDA layer suite on N (each binary warmed up on MobileNetV2
# beside it); the Fashion-MNIST subset training with FusedSgd's kernel and with its tensor-op update (burn's Sgd arithmetic) side by side
# (call 2's M trained to a 0.9-point lower mean than L: the optimizer, or chance?); MobileNetV2-224 (batch 128) plain and
# sandwich: M, N, N with gemm-all and PyTorch in the same run (conv8 not re-run: N changes
# nothing it runs); N's time to the first step with an empty kernel cache; N's MobileNetV2 profile.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-M autoslim-N slimmable-tests-N; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
mkdir -p /tmp/r
for v in M N; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-$v > $DEV/$v-bf16; chmod +x $DEV/$v-bf16; done
# Cold: an empty kernel cache, before anything else compiled N's kernels (the CUDA driver's
# own cache is empty on this fresh machine too).
AUTOSLIM_KERNEL_CACHE=/tmp/empty-cache timeout 120 $DEV/N-bf16 bench --model conv8 --batch 1024 --iters 3 --warmup 0 --mode plain --seed 0 > /tmp/r/cold-N-conv8.log 2>&1
echo "cold: exit $?"; grep -h "first step" /tmp/r/cold-N-conv8.log
( for spec in "M-bf16 kernel-gemm" "N-bf16 kernel-gemm" "N-bf16 gemm-all"; do set -- $spec
    AUTOSLIM_CONV=$2 timeout 100 $DEV/$1 bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich > /tmp/r/w-mbv2-$1-$2.log 2>&1; echo "warm-up $1 $2: exit $?"
  done ) &
timeout 200 $DEV/slimmable-tests-N on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "DISAGREES|FAILED|test result|panicked" /tmp/r/tests.txt | head -20
wait
mkdir -p /tmp/r/train-fused /tmp/r/train-tensor-ops
for opt in fused tensor-ops; do
  ( [ $opt = tensor-ops ] && export AUTOSLIM_SGD=tensor-ops
    AUTOSLIM_GEMM_PRECISION=bf16 timeout 150 $DEV/autoslim-N train --config configs/autoslim_cnn_fashion_mnist.toml \
      --work-dir /tmp/t-$opt --epochs 15 > /tmp/train-$opt.log 2>&1; echo "train $opt: exit $?" ) &
done
wait
for opt in fused tensor-ops; do
  cp /tmp/t-$opt/accuracy.csv /tmp/r/train-$opt/ 2>/dev/null
  grep "train .*(100%)\|valid" /tmp/train-$opt.log > /tmp/r/train-$opt/train.log; tail -n 3 /tmp/train-$opt.log >> /tmp/r/train-$opt/train.log
  echo "$opt: $(cut -d, -f2 /tmp/r/train-$opt/accuracy.csv | tail -n +2 | tr '\n' ' ')"
  grep -o "train .*(100%).*Loss [0-9.]*" /tmp/r/train-$opt/train.log | grep -o "Loss [0-9.]*" | tr '\n' ' '; echo
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="M-bf16=$DEV/M-bf16:kernel-gemm N-bf16=$DEV/N-bf16:kernel-gemm N-bf16-gemm-all=$DEV/N-bf16:gemm-all" \
  timeout 300 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 5
BIN=$DEV/N-bf16 RUNS="m=mobilenet_v2:plain:kernel-gemm g=mobilenet_v2:plain:gemm-all" BATCH=128 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/m.txt /tmp/r/profile-N-mbv2.txt; cp /tmp/prof/g.txt /tmp/r/profile-N-mbv2-gemm-all.txt
for f in mbv2 mbv2-gemm-all; do echo "-- $f"; grep -E "^\| " /tmp/r/profile-N-$f.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -12; done
cp -r /tmp/b-mbv2 /tmp/r/bench-mbv2
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
