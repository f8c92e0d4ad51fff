/// Byte-level constants of the .vla format.
///
/// > Note: The authoritative description is `Schemas/vla-format.md`; every constant here is named there.
///
/// ```
/// offset  size  field
/// 0       8     magic  89 56 4C 41 0D 0A 1A 0A   ("\x89VLA\r\n\x1a\n")
/// 8       2     major version (u16)
/// 10      2     minor version (u16)
/// 12      4     flags (u32): bits 0-15 required, bits 16-31 optional
/// 16      8     file size in bytes, including the trailing digest (u64)
/// 24      8     section table offset (u64)
/// 32      4     section count (u32)
/// 36      4     header size = 64 (u32)
/// 40      24    reserved, zero
/// ...           sections, section table
/// size-32 32    SHA-256 of bytes [0, size-32)
/// ```
public enum Layout {
    /// The eight magic bytes at offset 0.
    public static let magic: [UInt8] = [0x89, 0x56, 0x4C, 0x41, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The major version this library reads and writes. A file with another major is refused.
    public static let majorVersion: UInt16 = 1
    /// The highest minor version this library writes. The writer writes the lowest minor that expresses the
    /// document (``VLADocument/minimumMinorVersion``): 0 unless it uses a 1.1, 1.2, 1.3 or 1.4 feature. Files with a higher
    /// minor are read (see the compatibility policy).
    public static let minorVersion: UInt16 = 4
    /// The most rows (the summed axis K) of a `linear_i8` or `linear_bf16` weight: 127·127·131,072 < 2³¹, so an
    /// int32 accumulator cannot overflow (format 1.2).
    public static let maxReducedPrecisionDepth = 131_072
    /// Size of the fixed header.
    public static let headerSize = 64
    /// Size of one section table entry.
    public static let sectionEntrySize = 32
    /// Size of the trailing SHA-256 digest.
    public static let digestSize = 32
    /// Alignment of every inline tensor payload and of the DATA section.
    public static let payloadAlignment = 64
    /// Alignment of arena offsets.
    public static let arenaAlignment = 64
    /// Maximum tensor rank.
    public static let maxRank = 6
    /// Size of one tensor table entry.
    public static let tensorEntrySize = 64
    /// Size of one program entry.
    public static let programEntrySize = 32
    /// Size of one op record.
    public static let opRecordSize = 16
    /// A u32 field value meaning "none".
    public static let none: UInt32 = 0xFFFF_FFFF

    /// Header flag: this file is a shared blob (tensors referenced by policies), not a policy.
    public static let flagSharedBlob: UInt32 = 1 << 0
    /// Header flag (1.3): METADATA offset 4 holds the squash scale (`bound · tanh(x / scale)`); without it that
    /// word is zero and the scale is the bound. Required: a reader that does not know it would squash wrongly.
    public static let flagSquashScale: UInt32 = 1 << 1
    /// Flags this version understands among the required flags (bits 0-15).
    public static let knownRequiredFlags: UInt32 = flagSharedBlob | flagSquashScale
    /// The required-flag mask: an unknown bit here makes the file unreadable.
    public static let requiredFlagMask: UInt32 = 0x0000_FFFF
}

/// Hard limits, enforced by the verifier before anything is allocated or trusted.
///
/// A file over any limit is rejected with `FormatError.Code.limitExceeded`.
public struct FormatLimits: Sendable, Equatable {
    /// Largest file the verifier accepts (policies are KB–MB; a DINOv2-base blob is about 350 MB).
    public var maxFileSize: UInt64 = 1 << 36
    /// Most sections.
    public var maxSections: UInt32 = 64
    /// Most tensors in one file.
    public var maxTensors: UInt32 = 1 << 16
    /// Largest single dimension.
    public var maxDimension: UInt32 = 1 << 30
    /// Largest tensor payload in bytes.
    public var maxTensorBytes: UInt64 = 1 << 34
    /// Longest string (names, instruction) in bytes.
    public var maxStringBytes: UInt32 = 1 << 16
    /// Largest string table.
    public var maxStringTableBytes: UInt64 = 1 << 24
    /// Most programs.
    public var maxPrograms: UInt32 = 16
    /// Most ops over all programs.
    public var maxOps: UInt32 = 1 << 16
    /// Most u32 words in the operand pool.
    public var maxPoolWords: UInt32 = 1 << 20
    /// Most operands (inputs + outputs + attributes) of one op.
    public var maxOperandsPerOp: UInt32 = 256
    /// Largest arena in bytes.
    public var maxArenaBytes: UInt64 = 1 << 34
    /// Most shared-blob references.
    public var maxSharedRefs: UInt32 = 64
    /// Most provenance entries (sources plus options).
    public var maxProvenanceEntries: UInt32 = 4096
    /// Most test vectors.
    public var maxTestVectors: UInt32 = 64
    /// Largest action dimension.
    public var maxActionDim: UInt32 = 64
    /// Longest action horizon.
    public var maxHorizon: UInt32 = 64
    /// Longest side of the image contract (height or width). Real policies take 224×224.
    public var maxImageSide: UInt32 = 4096
    /// Most pixels (height × width) of the image contract: 2048², so one f32 frame is at most 48 MiB.
    public var maxImagePixels: UInt64 = 1 << 22
    /// Largest |mean| of the image contract (the mean of `x / 255`, which is in [0, 1]).
    public var maxImageMean: Float = 1000
    /// The image contract's std is in `minImageStd...maxImageStd`, so a normalized pixel stays within ±10⁶.
    public var minImageStd: Float = 1e-3
    /// See ``minImageStd``.
    public var maxImageStd: Float = 1000
    /// Largest |mean| of an action dim that is unnormalized (normalization `mean_std`, mask 1).
    public var maxActionMean: Float = 1e6
    /// The std of an unnormalized action dim is in `minActionStd...maxActionStd` (a normal f32, never 0,
    /// negative or subnormal).
    public var minActionStd: Float = 1e-6
    /// See ``minActionStd``.
    public var maxActionStd: Float = 1e6
    /// Most work of one run of one program, in FLOP-equivalents (``OpWork``; calls count their callee's work
    /// once blobs are resolved): 2³⁹ ≈ 5.5·10¹¹, about 12 times the full-size HyperVLA step (DINOv2-base at
    /// 224×224 with its calls, 4.7·10¹⁰ by this estimate).
    public var maxProgramWork: UInt64 = 1 << 39
    /// Most work of all test vectors together (what `vlac verify` runs), in the same units: 2³⁹, about 6 times
    /// a full-size policy's `reset` and `step` vectors (4.7·10¹⁰ each).
    public var maxTestVectorWork: UInt64 = 1 << 39

    /// The limits this version of vlac enforces.
    public static let `default` = FormatLimits()

    /// Creates the default limits.
    public init() {}
}

/// The kind of a section, as stored in the section table.
public struct SectionKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The u32 stored in the section table.
    public var rawValue: UInt32
    /// Wraps a raw kind (known or not).
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// UTF-8 strings referenced by (offset, length) pairs.
    public static let strings = SectionKind(rawValue: 1)
    /// The tensor table.
    public static let tensors = SectionKind(rawValue: 2)
    /// Inline tensor payloads, 64-byte aligned.
    public static let data = SectionKind(rawValue: 3)
    /// Typed metadata: instruction, model identity, action and image contracts.
    public static let metadata = SectionKind(rawValue: 4)
    /// Programs, op records and the operand pool, with the arena size.
    public static let programs = SectionKind(rawValue: 5)
    /// Source hashes, compiler version and options.
    public static let provenance = SectionKind(rawValue: 6)
    /// Inputs and expected outputs of programs.
    public static let testVectors = SectionKind(rawValue: 7)
    /// Shared blobs referenced by SHA-256.
    public static let sharedRefs = SectionKind(rawValue: 8)

    /// Every kind this version knows.
    public static let known: [SectionKind] = [
        .strings, .tensors, .data, .metadata, .programs, .provenance, .testVectors, .sharedRefs,
    ]

    /// The name used by `vlac dump`.
    public var description: String {
        switch rawValue {
        case 1: "strings"
        case 2: "tensors"
        case 3: "data"
        case 4: "metadata"
        case 5: "programs"
        case 6: "provenance"
        case 7: "test_vectors"
        case 8: "shared_refs"
        default: "unknown(\(rawValue))"
        }
    }
}
