#!/usr/bin/env bash
# Session 33, call 1 (rerun in session 34 with the logs packed on any exit): where conv8's sandwich peak comes from, and what the memory releases cost
# now. Build H (session 33: every run's GEMM checks `channels`; AUTOSLIM_CUDA_POOL). For each
# model: the plain step, then the sandwich step under each memory release (AUTOSLIM_RELEASE_MEMORY
# = step, the default; pass) with CUDA's pool releasing (its default) and keeping
# (AUTOSLIM_CUDA_POOL=keep), step again last; cubecl's pool at a step's end and CUDA's pool
# high-water mark from each. Then conv8's plain and sandwich steps with cubecl's memory log at its
# `full` level (every reservation, every new page with the pools' state).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-H ] || { xz -dkf $DEV/autoslim-H.xz && chmod +x $DEV/autoslim-H; }
[ -d /tmp/c ] || tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
B=$DEV/autoslim-H
R=/tmp/r1; mkdir -p $R
finish() { cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R . ; }
trap finish EXIT
trap "exit 143" TERM
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $R/gpu.txt
batch_of() { [ $1 = conv8 ] && echo 1024 || echo 128; }
line() { # LOG: the step's speed, cubecl's pool and CUDA's pool
  printf '%s | %s | %s\n' "$(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $1 | tail -1)" \
    "$(grep -o 'held at most [0-9]* MiB' $1 | tail -1)" "$(grep -o 'peaked at [0-9]* MiB' $1 | tail -1)"
}
for model in conv8 mobilenet_v2; do
  b=$(batch_of $model)
  timeout 150 $B bench --model $model --batch $b --mode sandwich --iters 20 --warmup 1 > $R/pre-$model.log 2>&1
  echo "$model pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model.log)"
  timeout 90 $B bench --model $model --batch $b --mode plain --iters 10 --warmup 3 > $R/$model-plain.log 2>&1
  echo "$model plain: $(line $R/$model-plain.log)"
  for run in step/release pass/release pass/keep step/keep step2/release; do
    rel=${run%/*}; pool=${run#*/}
    AUTOSLIM_RELEASE_MEMORY=${rel%2} AUTOSLIM_CUDA_POOL=$pool timeout 90 $B bench --model $model --batch $b --mode sandwich --iters 10 --warmup 3 > $R/$model-sandwich-$rel-$pool.log 2>&1
    echo "$model sandwich $rel $pool: $(line $R/$model-sandwich-$rel-$pool.log)"
  done
done | tee $R/summary.txt
for model in conv8 mobilenet_v2; do  # PyTorch's sandwich step in the same call, for the ratio
  timeout 120 python3 scripts/peer/bench_peer.py --model $model --batch $(batch_of $model) --iters 10 --warmup 3 --mode sandwich > $R/pytorch-$model-sandwich.log 2>&1
  echo "pytorch $model sandwich: $(grep -o 'sandwich step: [0-9.]* ms, [0-9.]* img/s' $R/pytorch-$model-sandwich.log | tail -1)" | tee -a $R/summary.txt
done
mkdir -p /tmp/ml && cd /tmp/ml && printf '[memory.logger]\nlevel = "full"\nstdout = true\n' > cubecl.toml
for mode in plain sandwich; do
  timeout 90 $B bench --model conv8 --batch 1024 --mode $mode --iters 3 --warmup 2 > $R/memlog-conv8-$mode.log 2>&1
  echo "memlog conv8 $mode: exit $? $(wc -l < $R/memlog-conv8-$mode.log) lines" | tee -a $R/summary.txt
done
