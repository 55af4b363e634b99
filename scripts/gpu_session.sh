#!/usr/bin/env bash
# One device session for issues 5 and 6, in as few calls as the 10-minute limit allows:
#
#   1. bench: MobileNetV2-small (batch 256) plain and sandwich steps with burn's conv and with
#      this project's depthwise kernels (AUTOSLIM_CONV=depthwise-kernel, kernel-matmul), the
#      PyTorch peer in the same command (scripts/bench_gpu.sh);
#   2. the fastest sandwich step's conv trains the Fashion-MNIST MobileNetV2 config on the full
#      set, detached (setsid), so that it runs on between calls while the machine stays warm;
#      the number of epochs is what fits in TRAIN_SECONDS at the measured speed (1 to 5);
#   3. scripts/gpu_watch.sh watches it until DEADLINE and packs what there is.
#
# On the GPU machine, from the repository root:
#
#   DEV=artifacts/dev DEADLINE=580 scripts/gpu_session.sh "$OUT"
#
# DEV holds `autoslim` or `autoslim.xz` (cargo build --release --features cuda, stripped) and `fmnist/` (the
# four Fashion-MNIST IDX files). Later calls: `DEADLINE=580 scripts/gpu_watch.sh "$OUT"`.
set -uo pipefail
OUT_DIR=${1:?usage: gpu_session.sh OUT_DIR}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
DEADLINE=${DEADLINE:-580}
WORK=${WORK:-/tmp/mbv2_fmnist}
TRAIN_SECONDS=${TRAIN_SECONDS:-1200}
CONFIG=${CONFIG:-configs/autoslim_mbv2_fashion_mnist.toml}
mkdir -p "$OUT_DIR" "$WORK"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -e "$DEV/autoslim.xz" ] && xz -dkf "$DEV/autoslim.xz"
chmod +x "$DEV/autoslim"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$WORK/gpu.txt"

BENCH=/tmp/bench
CONVS_TO_TIME=${CONVS_TO_TIME:-native depthwise-kernel kernel-matmul}
MODELS=mobilenet_v2_small MODES="plain sandwich" ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} TIMEOUT=${TIMEOUT:-75} \
BIN="$DEV/autoslim" CONVS="$CONVS_TO_TIME" \
  timeout "${BENCH_SECONDS:-330}" scripts/bench_gpu.sh "$BENCH" 2>&1 | tail -n 30
tar czf "$OUT_DIR/bench.tgz" -C "$BENCH" .

# The conv whose sandwich step was fastest, and its img/s.
read -r CONV SPEED < <(python3 - "$BENCH/results.jsonl" <<'PY'
import json, sys
best = ("native", 80.0)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("mode") == "sandwich" and r["tool"].startswith("burn-") and r.get("img_per_s", 0) > best[1]:
        best = (r["tool"][len("burn-"):], r["img_per_s"])
print(best[0], best[1])
PY
)
EPOCHS=$(python3 -c "print(max(1, min(5, int($TRAIN_SECONDS * $SPEED / 60000))))")
echo "training with AUTOSLIM_CONV=$CONV ($SPEED img/s in the bench): $EPOCHS epochs" | tee "$WORK/plan.txt"
AUTOSLIM_CONV=$CONV setsid nohup "$DEV/autoslim" train --config "$CONFIG" --data-dir "$DEV/fmnist" \
  --work-dir "$WORK" --epochs "$EPOCHS" > "$WORK/train.log" 2>&1 < /dev/null &
echo $! > "$WORK/pid"
DEADLINE=$(( DEADLINE - SECONDS )) WORK=$WORK scripts/gpu_watch.sh "$OUT_DIR"
