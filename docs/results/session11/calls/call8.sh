#!/usr/bin/env bash
# Session 11, call 8: examples/gemm_precision.rs on CUDA (TF32 against bf16 operands on one
# slimmable conv).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/gemm_precision.xz && chmod +x $DEV/gemm_precision
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 120 $DEV/gemm_precision 2>&1 | tee $OUT/example.txt
