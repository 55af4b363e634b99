#!/usr/bin/env bash
# Session 27, call 7: does bench_gpu.sh's memory sampler lose samples? nvidia-smi sampling every
# 50 ms for 6 s (about 120 lines expected), stopped as bench_gpu.sh stops it (SIGTERM), written
# three ways: stdout redirected to a file (as bench_gpu.sh did), the same under `stdbuf -oL`,
# and nvidia-smi's own `-f FILE`.
set -uo pipefail
rm -rf /tmp/r; mkdir -p /tmp/r
Q="--query-gpu=memory.used --format=csv,noheader,nounits -lms 50"
nvidia-smi $Q > /tmp/r/redirect.txt & P=$!; sleep 6; kill $P; wait $P 2>/dev/null
stdbuf -oL nvidia-smi $Q > /tmp/r/stdbuf.txt & P=$!; sleep 6; kill $P; wait $P 2>/dev/null
nvidia-smi $Q -f /tmp/r/f.txt & P=$!; sleep 6; kill $P; wait $P 2>/dev/null
wc -l /tmp/r/*.txt
cp /tmp/r/*.txt $OUT/
