#!/usr/bin/env bash
# Instructions one OpenBLAS cblas_sgemm call executes under qemu-aarch64, Debian 12's arm64 OpenBLAS (0.3.21,
# libopenblas0-pthread), one thread, the kernels OpenBLAS picks for the emulated core (CPU: a qemu -cpu model;
# OpenBLAS reads the core's MIDR: cortex-a53 -> cortexa53, cortex-a72 -> cortexa72, neoverse-n1 -> neoversen1).
# Counted as count.sh counts the own kernels (every executed translated block's length, minus the same run
# without the call). The arm64 packages are downloaded once with apt-get into .build/aarch64/openblas, using
# apt lists of their own there (the system's apt state and dpkg architectures are left alone); nothing is
# installed.
#   Tests/aarch64/count-openblas.sh CPU M K N
set -euo pipefail
cd "$(dirname "$0")"
out=$(cd ../.. && pwd)/.build/aarch64/openblas
root=$out/root
lib=$root/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0
if [ ! -f "$lib" ]; then
    mkdir -p "$out/lists/partial" "$out/cache/archives/partial" "$out/debs"
    apt_opts=(-o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o "Dir::State::Lists=$out/lists" -o APT::Sandbox::User=root
              -o "Dir::Cache=$out/cache")
    apt-get "${apt_opts[@]}" update >/dev/null
    (cd "$out/debs" && apt-get "${apt_opts[@]}" download libopenblas0-pthread:arm64 libgfortran5:arm64 >/dev/null)
    for d in "$out"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
fi
bin=$out/count_blas
if [ ! -x "$bin" ] || [ count_blas.c -nt "$bin" ]; then
    aarch64-linux-gnu-gcc -O2 -o "$bin" count_blas.c -ldl
fi
count() {
    local log
    log=$(mktemp)
    OPENBLAS_NUM_THREADS=1 QEMU_LD_PREFIX=/usr/aarch64-linux-gnu LD_LIBRARY_PATH=$root/usr/lib/aarch64-linux-gnu \
        qemu-aarch64 -cpu "$1" -d in_asm,exec,nochain -D "$log" "$bin" "$lib" "${@:2}" >/dev/null
    python3 sum_trace.py "$log"
    rm -f "$log"
}
base=$(count "$1" 0 "$2" "$3" "$4")
with=$(count "$1" 1 "$2" "$3" "$4")
echo $((with - base))
