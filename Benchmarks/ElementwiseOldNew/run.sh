#!/usr/bin/env bash
# The element-wise kernels of another commit (default: the one before the fused-Horner exp/erf) against this
# working tree's, in the same process and interleaved rounds (Docs/Benchmarks.md, "Element-wise kernels"):
#   C (elementwise.c, both built with clang -O2): ns per element of gelu_erf, gelu_tanh (257 × 3072 values) and
#   softmax (3084 rows of 257) at level 2 (AVX-512F) and 1 (AVX2 + FMA; the old file had no such path);
#   Swift (VectorMath, swiftc -O, baseline x86-64): ns per element of the GELU (erf) and exp on SIMD16 values.
#   Benchmarks/ElementwiseOldNew/run.sh [COMMIT] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")"
old=${1:-679c6b1}
rounds=${2:-7}
root=$(git rev-parse --show-toplevel)
out=$root/.build/elementwise-old-new
mkdir -p "$out"
git show "$old:Sources/CVLAKernels/elementwise.c" > "$out/old-elementwise.c"
git show "$old:Sources/VLARuntime/VectorMath+Unsafe.swift" | sed 's/^enum VectorMath {/enum OldVectorMath {/' > "$out/old-vectormath.swift"
inc="-I$root/Sources/CVLAKernels/include -I$root/Sources/CVLAKernels"
rename="-Dvla_unary=old_vla_unary -Dvla_unary_rows=old_vla_unary_rows -Dvla_unary_rows_avx512=old_vla_unary_rows_avx512"
rename="$rename -Dvla_softmax_row=old_vla_softmax_row -Dvla_attention_row=old_vla_attention_row"
rename="$rename -Dvla_attention_rows=old_vla_attention_rows -Dvla_attention_rows_bf16_avx512=old_vla_attention_rows_bf16_avx512"
rename="$rename -Dvla_attention_row_bf16_avx512=old_vla_attention_row_bf16_avx512 -Dvla_norm_rows=old_vla_norm_rows"
clang -O2 $inc $rename -c "$out/old-elementwise.c" -o "$out/old.o"
clang -O2 $inc -c "$root/Sources/CVLAKernels/elementwise.c" -o "$out/new.o"
clang -O2 $inc harness.c "$out/old.o" "$out/new.o" -o "$out/harness"
"$out/harness" "$rounds"
swiftc -O "$out/old-vectormath.swift" "$root/Sources/VLARuntime/VectorMath+Unsafe.swift" main.swift -o "$out/swift-bench" 2>/dev/null
"$out/swift-bench"
