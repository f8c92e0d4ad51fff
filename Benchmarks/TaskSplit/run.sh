#!/usr/bin/env bash
# Builds split.c against this tree's CVLAKernels (clang -O2) and runs it: the product split of two tasks per
# thread against Planner.columnChunk's, two threads, interleaved (Docs/Interpreter.md). For an AVX2-only CPU's
# kernels on a newer x86 machine, run it under the preload library of Tests/Reference/cpuid_avx2_only.c.
#   Benchmarks/TaskSplit/run.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")"
root=$(git rev-parse --show-toplevel)
out=$root/.build/task-split
mkdir -p "$out"
src=$root/Sources/CVLAKernels
clang -O2 -I"$src/include" -I"$src" split.c "$src"/quant.c "$src"/elementwise.c "$src"/gemm.c "$src"/packed.c \
    -lm -lpthread -o "$out/split"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nproc) CPUs"
"$out/split" "${1:-60}"
