#!/usr/bin/env bash
# Session 23, call 5. Build W2 + gemm-all for bf16 (W3, the committed defaults). `autoslim train`
# end to end on CUDA with the warm-up processes: the MobileNetV2 Fashion-MNIST config (small
# stem, batch 256) on the shipped 4000/1000-image subset, 2 epochs, bf16, empty caches; once
# with the warm-up (automatic) and once without (AUTOSLIM_WARM_UP=off).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W3.xz && chmod +x $DEV/autoslim-W3
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16
for warm in auto off; do
  rm -rf /tmp/c-$warm /tmp/w-$warm
  start=$SECONDS
  env $( [ $warm = off ] && echo AUTOSLIM_WARM_UP=off ) AUTOSLIM_KERNEL_CACHE=/tmp/c-$warm timeout 270 $DEV/autoslim-W3 train \
    --config configs/autoslim_mbv2_fashion_mnist.toml --data-dir data/fashion-mnist-subset --work-dir /tmp/w-$warm --epochs 2 > /tmp/r/train-$warm.log 2>&1
  rc=$?
  echo "warm-up $warm: exit $rc, wall $((SECONDS - start)) s"
  grep -E "^warm-up: [0-9]+ of|training took|^\[epoch|backend:" /tmp/r/train-$warm.log | cut -c1-220
  cp /tmp/w-$warm/accuracy.csv /tmp/r/accuracy-$warm.csv 2>/dev/null
done
tar czf $OUT/call5.tgz -C /tmp/r .
