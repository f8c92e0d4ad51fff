#!/usr/bin/env bash
# Instructions one kernel call executes under qemu-aarch64 (an estimate of the work on a real core: it says
# nothing about cycles, caches or dual issue). qemu logs each translated block once (-d in_asm: its
# instructions) and each execution of a block (-d exec, with nochain so none is skipped); the count is the sum
# over executions of the block's length, minus the same run without the call (count.c's level −1). Built with
# clang (what SwiftPM compiles the kernels with; gcc 12 -O2 keeps the tiles' accumulators in memory), -O2.
#   Tests/aarch64/count.sh KERNEL LEVEL M K N      (builds .build/aarch64/count-aarch64 first)
set -euo pipefail
cd "$(dirname "$0")"
out=../../.build/aarch64
mkdir -p "$out"
bin=$out/count-aarch64
if [ ! -x "$bin" ] || [ count.c -nt "$bin" ] || [ -n "$(find ../../Sources/CVLAKernels -newer "$bin" -name '*.[ch]')" ]; then
    clang --target=aarch64-linux-gnu -O2 -std=gnu11 -ffp-contract=off -I../../Sources/CVLAKernels/include -static -o "$bin" \
        count.c ../../Sources/CVLAKernels/*.c -lm
fi
count() {
    local log
    log=$(mktemp)
    qemu-aarch64 -cpu max -d in_asm,exec,nochain -D "$log" "$bin" "$@" >/dev/null
    python3 sum_trace.py "$log"
    rm -f "$log"
}
base=$(count "$1" -1 "$3" "$4" "$5")
with=$(count "$@")
echo $((with - base))
