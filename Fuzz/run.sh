#!/usr/bin/env bash
# Builds and runs a libFuzzer target with AddressSanitizer.
#   Fuzz/run.sh FuzzFormatReader [SECONDS]     (default 60 s)
# Seeds: the files make demo and the tests write (regenerated into a temporary corpus). A crash is written
# to Fuzz/FailCases/<Target>/; commit it, and the regression test in Tests/VLAFormatTests replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-60}
build=.build-fuzz
mkdir -p "$build" "Fuzz/FailCases/$target"
case "$target" in
    FuzzFormatReader) sources=(Sources/VLAFormat/*.swift "Fuzz/$target/Fuzz.swift"); module=VLAFormat ;;
    *) echo "unknown target $target" >&2; exit 64 ;;
esac
# VLAFormat's SHA-256 imports the C target CVLASHA256: compile it (with ASan) and give swiftc a module map.
mkdir -p "$build/CVLASHA256"
printf 'module CVLASHA256 {\n    header "%s"\n    export *\n}\n' "$PWD/Sources/CVLASHA256/include/vla_sha256.h" \
    > "$build/CVLASHA256/module.modulemap"
clang -O2 -g -fsanitize=address -c Sources/CVLASHA256/sha256.c -I Sources/CVLASHA256/include -o "$build/CVLASHA256/sha256.o"
swiftc -O -g -parse-as-library -sanitize=fuzzer,address -module-name "$module" -I "$build/CVLASHA256" \
    "${sources[@]}" "$build/CVLASHA256/sha256.o" -o "$build/$target" 2>&1 \
    | grep -v "Cannot export local symbol" || true
corpus=$(mktemp -d)
swift build --product write-example >/dev/null
"$(swift build --show-bin-path)/write-example" "$corpus/example.vla" >/dev/null
cp Fuzz/FailCases/"$target"/* "$corpus"/ 2>/dev/null || true
"$build/$target" -max_total_time="$seconds" -max_len=8192 -artifact_prefix="Fuzz/FailCases/$target/" "$corpus"
