#!/usr/bin/env bash
# The non-product kernels of the int8 step (zero-point quantization, one bf16 attention head, LayerNorm rows) of
# another commit against this working tree's, each tree's CVLAKernels built with clang -O2 into its own copy of
# harness.c, the two run alternately (Docs/Benchmarks.md, "Non-product kernels, old and new"):
#   Benchmarks/KernelsOldNew/run.sh [COMMIT] [ROUNDS] [BEST-OF]
set -euo pipefail
cd "$(dirname "$0")"
old=${1:-83718bc}
rounds=${2:-5}
best=${3:-200}
root=$(git rev-parse --show-toplevel)
out=$root/.build/kernels-old-new
rm -rf "$out" && mkdir -p "$out/old/include" "$out/new"
for f in quant.c elementwise.c gemm.c packed.c image.c internal.h arm_features.h include/vla_kernels.h; do
    git show "$old:Sources/CVLAKernels/$f" > "$out/old/$f" 2>/dev/null || true
done
build() {  # build DIR NAME: harness.c against the kernels in DIR
    local dir=$1 flags=""
    grep -q "vla_attn_bf16_head" "$dir/include/vla_kernels.h" && flags="$flags -DHAS_HEAD"
    grep -q "vla_norm_rows" "$dir/include/vla_kernels.h" && flags="$flags -DHAS_NORM"
    clang -O2 $flags -I"$dir/include" -I"$dir" harness.c "$dir"/quant.c "$dir"/elementwise.c "$dir"/gemm.c "$dir"/packed.c -lm -o "$out/$2"
}
build "$out/old" harness-old
build "$root/Sources/CVLAKernels" harness-new
echo "old: $old, new: the working tree; $rounds rounds, best of $best runs each; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for r in $(seq "$rounds"); do
    "$out/harness-old" "$best" | sed "s/^/round $r old: /"
    "$out/harness-new" "$best" | sed "s/^/round $r new: /"
done | tee "$out/rounds.txt"
# Medians over the rounds, per tree and kernel.
sed 's/^round [0-9]* //' "$out/rounds.txt" | sort -s -t: -k1,2 | awk -F': ' '
    { key = $1 ": " $2; if (key != last && last != "") flush(); last = key; v[++n] = $3 }
    END { flush() }
    function flush(   a, b, t) { for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] + 0 < v[a] + 0) { t = v[a]; v[a] = v[b]; v[b] = t }
                                 printf "median %s: %s\n", last, v[int((n + 1) / 2)]; n = 0 }'
