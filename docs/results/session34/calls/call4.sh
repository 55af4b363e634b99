#!/usr/bin/env bash
# Session 34, call 4: call 2's memory log showed conv8's sandwich passes between releases held up
# to 3.87 GB (in use then 1.48 GB) against the plain step's 3.25 GB (1.74 GB in use): the
# random-width passes fragment cubecl's pages. Build J adds AUTOSLIM_RELEASE_MEMORY=backward (a
# release also between each pass's forward and backward; it did not help and was reverted after
# this call): against `pass` (the default), alternating, both models, the plain step for the
# ratio, and conv8's memory log under each.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-J ] || { xz -dkf $DEV/autoslim-J.xz && chmod +x $DEV/autoslim-J; }
[ -d /tmp/c ] || tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
B=$DEV/autoslim-J
R=/tmp/r4; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
line() {
  printf '%s | %s | %s\n' "$(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s; median [0-9.]* ms' $1 | tail -1)" \
    "$(grep -o 'held at most [0-9]* MiB' $1 | tail -1)" "$(grep -o 'peaked at [0-9]* MiB' $1 | tail -1)"
}
for model in conv8 mobilenet_v2; do
  b=128; [ $model = conv8 ] && b=1024
  timeout 150 $B bench --model $model --batch $b --mode sandwich --iters 20 --warmup 1 > $R/pre-$model.log 2>&1
  echo "$model pre-run: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' $R/pre-$model.log)"
  timeout 90 $B bench --model $model --batch $b --mode plain --iters 10 --warmup 3 > $R/$model-plain.log 2>&1
  echo "$model plain: $(line $R/$model-plain.log)"
  for rel in pass backward pass2 backward2; do
    AUTOSLIM_RELEASE_MEMORY=${rel%2} timeout 90 $B bench --model $model --batch $b --mode sandwich --iters 10 --warmup 3 > $R/$model-sandwich-$rel.log 2>&1
    echo "$model sandwich $rel: $(line $R/$model-sandwich-$rel.log)"
  done
done 2>&1 | tee $R/summary.txt
mkdir -p /tmp/ml && cd /tmp/ml && printf '[memory.logger]\nlevel = "full"\nstdout = true\n' > cubecl.toml
for rel in pass backward; do
  AUTOSLIM_RELEASE_MEMORY=$rel timeout 60 $B bench --model conv8 --batch 1024 --mode sandwich --iters 3 --warmup 2 > $R/memlog-conv8-$rel.log 2>&1
  python3 $DEV/../../docs/results/session34/in_step_peak.py $R/memlog-conv8-$rel.log 2>&1 | tee -a $R/summary.txt
done
