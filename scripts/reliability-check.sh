#!/usr/bin/env bash
# Runs the audit's reproducers (issue 16; default folder ../shared/reliability, or the folder given) through the
# release vlac under a 4 GB address-space limit and a 60 s timeout, and prints, per file, the command's exit
# status, wall time, peak memory and the last line it printed. SECURITY.md's reproducer table comes from it.
#   scripts/reliability-check.sh [FOLDER]      (needs: make release)
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/reliability}
vlac=.build/release/vlac
[ -x "$vlac" ] || { echo "build it first: make release" >&2; exit 64; }
frame=$(mktemp --suffix .ppm)
trap 'rm -f "$frame"' EXIT
{ printf 'P6\n8 8\n255\n'; head -c 192 /dev/zero | tr '\0' '\200'; } > "$frame"
printf '%-26s %-8s %4s %8s %9s  %s\n' file command rc seconds peak_MB "last line"
for f in "$dir"/*; do
    name=$(basename "$f")
    case "$name" in
        *.vla) cmds=(verify run) ;;
        *.pt|*.npz|*.msgpack|*.safetensors|*.onnx|*.npy) cmds=(inspect) ;;
        *) continue ;;
    esac
    for c in "${cmds[@]}"; do
        args=("$c" "$f"); [ "$c" = run ] && args+=(--image "$frame")
        out=$( (ulimit -v 4000000; /usr/bin/time -f "TIME %e %M" timeout 60 "$vlac" "${args[@]}") 2>&1 )
        rc=$?
        read -r secs kb <<< "$(grep '^TIME' <<< "$out" | tail -1 | cut -d' ' -f2-)"
        last=$(grep -v -e '^TIME' -e '^Command exited' <<< "$out" | grep -v '^\s*$' | tail -1 | cut -c1-110)
        printf '%-26s %-8s %4s %8s %9s  %s\n' "$name" "$c" "$rc" "$secs" "$(( ${kb:-0} / 1024 ))" "$last"
    done
done
