#!/usr/bin/env bash
# Builds and runs the libFuzzer targets with AddressSanitizer (Docs/Development.md, "Fuzzing").
#   Fuzz/run.sh TARGET [SECONDS]     one target (default 60 s)
#   Fuzz/run.sh all [SECONDS]        every target, SECONDS each
#   Fuzz/run.sh list                 the target names
# Each target has a harness in Fuzz/Harness/, a dictionary in Fuzz/Dictionaries/ (format keywords and magic
# numbers, so mutations keep structure), and seeds: the committed files in Fuzz/Seeds/<TARGET>/, the test
# fixtures of its format, and the reproducers in ../shared/reliability/ when that folder exists. A crash is
# written to Fuzz/FailCases/<TARGET>/; turn it into a regression test next to the reader's other tests.
# Prints, per target: inputs executed, coverage (libFuzzer's cov/ft counters) and the corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(FuzzFormatReader FuzzSafetensors FuzzNpy FuzzNpz FuzzMsgpack FuzzONNX FuzzPyTorch FuzzTokenizerJSON FuzzSentencePiece FuzzPNG)
target=${1:?usage: Fuzz/run.sh TARGET|all|list [SECONDS]}
seconds=${2:-60}
if [ "$target" = list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
if [ "$target" = all ]; then
    failed=()
    for t in "${targets[@]}"; do "$0" "$t" "$seconds" || failed+=("$t"); done
    [ ${#failed[@]} = 0 ] || { echo "fuzz: findings in ${failed[*]} (Fuzz/FailCases/)" >&2; exit 1; }
    exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "unknown target $target (Fuzz/run.sh list)" >&2; exit 64 ;; esac

build=.build-fuzz
flags=(-O -g -parse-as-library -sanitize=fuzzer,address)
mkdir -p "$build/include" "Fuzz/FailCases/$target"

# C targets, compiled once with ASan and coverage, each with a module map swiftc can import.
c_module() {  # NAME HEADER SOURCE...
    local name=$1 header=$2; shift 2
    mkdir -p "$build/include/$name"
    printf 'module %s {\n    header "%s"\n    export *\n}\n' "$name" "$PWD/$header" > "$build/include/$name/module.modulemap"
    for src in "$@"; do
        local obj="$build/$name-$(basename "$src" .c).o"
        [ "$obj" -nt "$src" ] || clang -O2 -g -fsanitize=address,fuzzer-no-link -c "$src" -I "$(dirname "$header")" -o "$obj"
    done
}
# A Swift library module, rebuilt when any of its sources is newer than the archive.
swift_module() {  # NAME SOURCE...
    local name=$1; shift
    local lib="$build/lib$name.a" stale=0
    for src in "$@"; do [ "$lib" -nt "$src" ] || stale=1; done
    [ "$stale" = 0 ] && return
    echo "fuzz: building $name" >&2
    swiftc "${flags[@]}" -module-name "$name" -emit-library -static -emit-module \
        -emit-module-path "$build/$name.swiftmodule" -o "$lib" \
        -I "$build" "${includes[@]}" "$@" 2>&1 | grep -v "Cannot export local symbol" || true
    [ -f "$lib" ] || { echo "fuzz: building $name failed" >&2; exit 1; }
}
includes=(-I Sources/CZlib -I Sources/CProtobufC -I Sources/CTurboJPEG)
for m in CVLASHA256 CONNX CSentencePieceProto; do includes+=(-I "$build/include/$m"); done
c_module CVLASHA256 Sources/CVLASHA256/include/vla_sha256.h Sources/CVLASHA256/sha256.c
swift_module VLAFormat Sources/VLAFormat/*.swift

harness=("Fuzz/Harness/$target.swift")
links=("$build/libVLAFormat.a" "$build/CVLASHA256-sha256.o")
seeds=()
case "$target" in
    FuzzFormatReader) seeds=(Fuzz/Seeds/FuzzFormatReader/* ../shared/reliability/*.vla) ;;
    FuzzSafetensors|FuzzNpy|FuzzNpz|FuzzMsgpack|FuzzONNX|FuzzPyTorch)
        c_module CONNX Sources/CONNX/include/onnx.pb-c.h Sources/CONNX/onnx.pb-c.c
        swift_module VLAJSON Sources/VLAJSON/*.swift
        swift_module VLACheckpoint Sources/VLACheckpoint/*.swift
        harness+=(Fuzz/Harness/CheckpointHarness.swift)
        links=("$build/libVLACheckpoint.a" "$build/libVLAJSON.a" "${links[@]}" "$build/CONNX-onnx.pb-c.o" -lz -lprotobuf-c)
        case "$target" in
            FuzzSafetensors) seeds=(Tests/Fixtures/VLACheckpoint/*.safetensors) ;;
            FuzzNpy) seeds=(Tests/Fixtures/VLACheckpoint/*.npy) ;;
            FuzzNpz) seeds=(Tests/Fixtures/VLACheckpoint/*.npz ../shared/reliability/*.npz) ;;
            FuzzMsgpack) seeds=(Tests/Fixtures/VLACheckpoint/*.msgpack Examples/hypervla-tiny/model/*.msgpack ../shared/reliability/*.msgpack) ;;
            FuzzONNX) seeds=(Tests/Fixtures/VLACheckpoint/*.onnx) ;;
            FuzzPyTorch) seeds=(Tests/Fixtures/VLACheckpoint/*.pt ../shared/reliability/*.pt) ;;
        esac
        seeds+=(Fuzz/Seeds/"$target"/*) ;;
    FuzzTokenizerJSON|FuzzSentencePiece)
        c_module CSentencePieceProto Sources/CSentencePieceProto/include/sentencepiece_model.pb-c.h Sources/CSentencePieceProto/sentencepiece_model.pb-c.c
        swift_module VLAJSON Sources/VLAJSON/*.swift
        swift_module VLATokenizer Sources/VLATokenizer/*.swift
        links=("$build/libVLATokenizer.a" "$build/libVLAJSON.a" "$build/CSentencePieceProto-sentencepiece_model.pb-c.o" -lprotobuf-c)
        if [ "$target" = FuzzTokenizerJSON ]; then
            seeds=(Tests/Fixtures/VLATokenizer/*.json Examples/hypervla-tiny/text-encoder/tokenizer.json)
        else
            seeds=(Tests/Fixtures/VLATokenizer/*.model)
        fi
        seeds+=(Fuzz/Seeds/"$target"/*) ;;
    FuzzPNG)
        harness+=(Sources/VLACommands/PNGDecoder.swift Sources/VLACommands/PNGInflate+Unsafe.swift Sources/VLACommands/RGBImage.swift
            Sources/VLACommands/JPEGDecoder+Unsafe.swift)
        links=(-lz -lturbojpeg)
        seeds=(Tests/Fixtures/VLACommands/images/* Tests/Fixtures/VLAModels/dinov2-tiny/*.png Fuzz/Seeds/FuzzPNG/*) ;;
esac

binary="$build/$target"
swiftc "${flags[@]}" -module-name "$target" -I "$build" "${includes[@]}" "${harness[@]}" "${links[@]}" -o "$binary" 2>&1 \
    | grep -v "Cannot export local symbol" || true

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
if [ "$target" = FuzzFormatReader ]; then
    swift build --product write-example >/dev/null
    "$(swift build --show-bin-path)/write-example" "$corpus/example.vla" >/dev/null
fi
for s in "${seeds[@]}" Fuzz/FailCases/"$target"/*; do [ -f "$s" ] && cp "$s" "$corpus/" || true; done
dict=()
[ -f "Fuzz/Dictionaries/$target.dict" ] && dict=(-dict="Fuzz/Dictionaries/$target.dict")
echo "fuzz: $target for $seconds s, $(ls "$corpus" | wc -l) seeds" >&2
rc=0
"$binary" -max_total_time="$seconds" -max_len="${FUZZ_MAX_LEN:-65536}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
    -timeout="${FUZZ_TIMEOUT:-10}" -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="Fuzz/FailCases/$target/" "$corpus" > "$build/$target.log" 2>&1 || rc=$?
grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|stat::number_of_executed_units|stat::peak_rss|Test unit written" "$build/$target.log" || true
echo "fuzz: $target exit $rc, corpus $(ls "$corpus" | wc -l) files (full log: $build/$target.log)" >&2
exit "$rc"
