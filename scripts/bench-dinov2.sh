#!/usr/bin/env bash
# One DINOv2-base forward on one 224×224 image: vlac (release build, the runtime's interpreter) against
# PyTorch eager in the same run, in interleaved rounds (the second core of the build machine is sometimes
# slowed), with achieved GFLOP/s against the fp32 peak.
#   scripts/bench-dinov2.sh [rounds] [runs per round]
# Needs `make reference-full` (the random-weight dinov2-base in .build/reference-full) and `make setup-reference`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
runs=${2:-5}
model=.build/reference-full/dinov2-base-random
peak=${VLAC_PEAK_GFLOPS:-234}   # measured fp32 FMA peak of both cores (Docs: vlac.md "Machine facts")
[ -f "$model/model.safetensors" ] || { echo "bench: $model missing: run make reference-full" >&2; exit 1; }
[ -x .build/release/vlac ] || swift build -c release --product vlac
image=$(mktemp --suffix=.ppm)
trap 'rm -f "$image"' EXIT
# A deterministic 224×224 P6 image.
.venv/bin/python - "$image" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
with open(sys.argv[1], "wb") as f:
    f.write(b"P6 224 224 255\n" + rng.integers(0, 256, (224, 224, 3), dtype=np.uint8).tobytes())
PY
torch_ms() {
    .venv/bin/python - "$model" "$1" "$runs" <<'PY'
import sys, time, statistics, torch
from transformers import Dinov2Model
torch.set_num_threads(int(sys.argv[2]))
m = Dinov2Model.from_pretrained(sys.argv[1]).eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    m(pixel_values=x)
    ts = []
    for _ in range(int(sys.argv[3])):
        t = time.perf_counter(); m(pixel_values=x); ts.append((time.perf_counter() - t) * 1e3)
print(statistics.median(ts))
PY
}
vlac_ms() {
    .build/release/vlac encode image --model "$model" --threads "$1" --repeat "$runs" "$image" 2>&1 >/dev/null |
        sed -n 's/^forward: median \([0-9.]*\) ms.*/\1/p'
}
# DINOv2-base at 257 tokens: 12 layers × (12·T·D² + 2·T²·D) MACs + the patch embedding = 46.3 GFLOP.
gflop=$(awk 'BEGIN { t = 257; d = 768; print 2 * (12 * (12 * t * d * d + 2 * t * t * d) + 256 * 588 * d) / 1e9 }')
for threads in 1 2; do
    v=(); p=()
    for r in $(seq "$rounds"); do
        v+=("$(vlac_ms "$threads")")
        p+=("$(torch_ms "$threads")")
    done
    vm=$(printf '%s\n' "${v[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    pm=$(printf '%s\n' "${p[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    awk -v t="$threads" -v vm="$vm" -v pm="$pm" -v g="$gflop" -v peak="$peak" -v n="$rounds" 'BEGIN {
        share = peak * t / 2
        printf "dinov2-base 224x224, %d thread(s), median of %d rounds: vlac %.0f ms (%.1f GFLOP/s, %.0f %% of %.0f GFLOP/s peak), torch %.0f ms (%.1f GFLOP/s); vlac/torch time ratio %.2f\n",
            t, n, vm, g / vm * 1e3, 100 * g / vm * 1e3 / share, share, pm, g / pm * 1e3, vm / pm
    }'
done
