#!/usr/bin/env bash
# Session 14, call 4: does FusedSgd's kernel train worse than the same update in tensor ops, or
# was call 2/3's 0.9-point gap one trajectory's chance? The Fashion-MNIST subset config (bf16,
# 15 epochs) with seeds 1 and 2, each with the kernel and with AUTOSLIM_SGD=tensor-ops, all four
# side by side on the GPU (build N).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/r
for seed in 1 2; do
  sed "s/^seed = 0/seed = $seed/" configs/autoslim_cnn_fashion_mnist.toml > /tmp/seed$seed.toml
  grep -q "^seed = $seed" /tmp/seed$seed.toml || echo "seed $seed not set"
  for opt in fused tensor-ops; do
    ( [ $opt = tensor-ops ] && export AUTOSLIM_SGD=tensor-ops
      AUTOSLIM_GEMM_PRECISION=bf16 timeout 200 $DEV/autoslim-N train --config /tmp/seed$seed.toml \
        --work-dir /tmp/t-$seed-$opt --epochs 15 > /tmp/r/train-$seed-$opt.log 2>&1; echo "train seed $seed $opt: exit $?" ) &
  done
done
wait
for seed in 1 2; do for opt in fused tensor-ops; do
  cp /tmp/t-$seed-$opt/accuracy.csv /tmp/r/accuracy-$seed-$opt.csv 2>/dev/null
  echo "seed $seed $opt: $(cut -d, -f2 /tmp/r/accuracy-$seed-$opt.csv | tail -n +2 | tr '\n' ' ')"
done; done
for f in /tmp/r/train-*.log; do grep "train .*(100%)\|valid" $f > $f.short; tail -n 3 $f >> $f.short; mv $f.short $f; done
tar czf $OUT/call4.tgz -C /tmp/r .
