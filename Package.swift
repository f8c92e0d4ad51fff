// swift-tools-version:6.2
//
// vlac: a toolchain that compiles HyperVLA robot policies into verified flat files and runs them.
// Layout and dependency direction: Docs/Development.md. Dependencies point down this list only.

import PackageDescription

/// Settings every Swift target gets.
let commonSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The format and the runtime read untrusted bytes: their unsafe code is marked and confined.
let strictSettings: [SwiftSetting] = commonSettings + [.strictMemorySafety()]

let package = Package(
    name: "vlac",
    products: [
        .executable(name: "vlac", targets: ["vlac"]),
        .library(name: "VLAFormat", targets: ["VLAFormat"]),
        .library(name: "VLARuntime", targets: ["VLARuntime"]),
        // The robot-side runtime as a C shared library (libvlart.so) with Sources/VLARuntimeC/include/vlart.h.
        .library(name: "vlart", type: .dynamic, targets: ["VLARuntimeC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev, libprotobuf-c-dev, libturbojpeg0-dev).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CProtobufC", path: "Sources/CProtobufC"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),

        // SHA-256 block compression on the x86 SHA extensions, chosen at run time by VLAFormat's SHA256
        // (Sources/CVLASHA256/include/vla_sha256.h).
        .target(name: "CVLASHA256"),

        // The .vla file: layout, verifying zero-copy reader, deterministic writer. No Foundation.
        .target(name: "VLAFormat", dependencies: ["CVLASHA256"], swiftSettings: strictSettings),

        // The matrix-product kernels in C: one copy per instruction set (AVX-512, AVX2 + FMA, portable), chosen at
        // run time, bit-identical results (Sources/CVLAKernels/include/vla_kernels.h).
        .target(name: "CVLAKernels"),

        // Op set, kernels, interpreter, arena, image and action processing. No Foundation.
        .target(name: "VLARuntime", dependencies: ["VLAFormat", "COpenBLAS", "CVLAKernels"], swiftSettings: strictSettings),

        // The C ABI over VLARuntime (include/vlart.h). No Foundation. All of it is unsafe by nature (C pointers),
        // so it lives in *+Unsafe.swift files without the strict-memory-safety annotations.
        .target(name: "VLARuntimeC", dependencies: ["VLARuntime", "VLAFormat"], exclude: ["include"], swiftSettings: commonSettings),

        // Generated protobuf-c code for the ONNX subset in Schemas/onnx.proto (scripts/gen-proto.sh).
        .target(name: "CONNX", dependencies: ["CProtobufC"]),

        // The one strict JSON reader (offsets in errors, depth limit, duplicate keys refused, numbers as text, a
        // budget on what it builds) for safetensors headers, index and config files and tokenizer.json. No
        // Foundation, no dependencies: VLACheckpoint and VLATokenizer both use it and neither depends on the other.
        .target(name: "VLAJSON", swiftSettings: strictSettings),

        // Checkpoint readers behind one tensor-store API.
        .target(name: "VLACheckpoint", dependencies: ["VLAFormat", "VLAJSON", "CZlib", "CProtobufC", "CONNX"], swiftSettings: commonSettings),

        // Generated protobuf-c code for Schemas/sentencepiece_model.proto (scripts/gen-proto.sh).
        .target(name: "CSentencePieceProto", dependencies: ["CProtobufC"]),

        // SentencePiece unigram and WordPiece tokenizers; no I/O of their own.
        .target(
            name: "VLATokenizer", dependencies: ["VLAJSON", "CProtobufC", "CSentencePieceProto"], swiftSettings: commonSettings),

        // T5 encoder, BERT encoder, DINOv2 built as programs of the op set, from Hugging Face directories.
        .target(name: "VLAModels", dependencies: ["VLAFormat", "VLACheckpoint", "VLAJSON"], swiftSettings: commonSettings),

        // HyperVLA compilation: partial evaluation, memory planning, emission of policies, shared blobs, manifest.
        .target(
            name: "VLACompiler", dependencies: ["VLAModels", "VLATokenizer", "VLARuntime", "VLAFormat", "VLAJSON"],
            swiftSettings: commonSettings),

        // Counts heap allocations per thread by interposing the malloc family (Sources/CAllocationCounter/include/
        // allocation_counter.h): `vlac bench` reports allocations per step with it, and the runtime tests prove
        // that `step` allocates nothing.
        .target(name: "CAllocationCounter"),

        // The subcommands, as a library so tests can run them in-process.
        .target(
            name: "VLACommands",
            dependencies: [
                "VLAFormat", "VLARuntime", "VLACheckpoint", "VLATokenizer", "VLAModels", "VLACompiler", "VLAJSON", "CZlib",
                // JPEG frames for run, bench and encode (libjpeg-turbo's TurboJPEG API).
                "CTurboJPEG",
                // `vlac bench` counts heap allocations per step with the interposed counter.
                "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: commonSettings
        ),
        .executableTarget(
            name: "vlac",
            dependencies: ["VLACommands", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: commonSettings
        ),

        // Benchmarks (Docs/Benchmarks.md): the DINOv2-base forward and the own-kernel/OpenBLAS crossover.
        .target(name: "CPeakFlops", path: "Benchmarks/CPeakFlops"),
        .executableTarget(
            name: "vlac-kernel-bench", dependencies: ["VLARuntime", "VLAFormat", "CPeakFlops", "CVLAKernels", "COpenBLAS"],
            path: "Benchmarks/KernelBench", swiftSettings: commonSettings
        ),

        // Examples: small programs that show an API and that `make demo` runs.
        .executableTarget(name: "write-example", dependencies: ["VLAFormat"], path: "Examples/WriteExample"),
        // A tiny §8.0 policy written directly with the writer API, for the C robot loop example (Docs/C-API.md);
        // real policies come from `vlac compile` (`make demo`).
        .executableTarget(name: "write-demo-policy", dependencies: ["VLAFormat", "VLATestSupport"], path: "Examples/DemoPolicy"),

        // Shared test helpers: sample documents and raw-byte patching.
        .target(name: "VLATestSupport", dependencies: ["VLAFormat", "VLARuntime"], path: "Tests/VLATestSupport", swiftSettings: commonSettings),
        .testTarget(name: "VLAFormatTests", dependencies: ["VLAFormat", "VLATestSupport"], swiftSettings: commonSettings),
        .testTarget(name: "VLAJSONTests", dependencies: ["VLAJSON"], swiftSettings: commonSettings),
        .testTarget(name: "VLACheckpointTests", dependencies: ["VLACheckpoint", "CZlib"], swiftSettings: commonSettings),
        .testTarget(
            name: "VLAModelsTests",
            dependencies: ["VLAModels", "VLAFormat", "VLARuntime", "VLACheckpoint", "VLAJSON"],
            swiftSettings: commonSettings
        ),
        .testTarget(
            name: "VLACompilerTests",
            dependencies: ["VLACompiler", "VLAModels", "VLARuntime", "VLAFormat", "VLACheckpoint", "VLATestSupport", "VLAJSON"],
            swiftSettings: commonSettings
        ),
        .testTarget(name: "VLATokenizerTests", dependencies: ["VLATokenizer"], swiftSettings: commonSettings),
        // The hypervla-tiny demo model and its Flax goldens, read with vlac's checkpoint readers.
        .testTarget(
            name: "HyperVLAExampleTests", dependencies: ["VLACheckpoint", "VLAModels", "VLARuntime", "VLATokenizer", "VLAJSON"],
            swiftSettings: commonSettings
        ),
        .testTarget(
            name: "VLARuntimeTests", dependencies: ["VLARuntime", "VLARuntimeC", "VLAFormat", "VLATestSupport", "CAllocationCounter", "CVLAKernels"],
            swiftSettings: commonSettings
        ),
        // The runtime on compiled hypervla-tiny policies against the Flax reference's golden episodes.
        .testTarget(
            name: "VLARuntimeParityTests",
            dependencies: [
                "VLARuntime", "VLAFormat", "VLACheckpoint", "VLACompiler", "VLARuntimeC", "CAllocationCounter", "VLATestSupport",
            ],
            swiftSettings: commonSettings
        ),
        .testTarget(
            name: "VLACommandsTests",
            dependencies: [
                "VLACommands", "VLAFormat", "VLARuntime", "VLATestSupport", "VLATokenizer", "VLACheckpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["Snapshots"],
            swiftSettings: commonSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
