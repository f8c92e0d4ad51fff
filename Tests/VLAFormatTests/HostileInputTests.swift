import Testing
import VLAFormat
import VLATestSupport

/// Every reader of untrusted bytes: prefixes, random mutations, hand-made attacks. An error, never a crash.
@Suite struct HostileInputTests {
    static let files: (policy: [UInt8], blob: [UInt8]) = {
        do { return try SampleDocuments.policyAndBlob() } catch { fatalError("sample documents must serialize: \(error)") }
    }()

    /// Every proper prefix of a valid file is refused as `truncated` (shared with the format 1.1 samples' tests).
    static func expectEveryPrefixTruncated(_ bytes: [UInt8]) {
        for n in 0..<bytes.count {
            do {
                _ = try VLAFile(bytes: Array(bytes[0..<n]))
                Issue.record("prefix of \(n) bytes was accepted")
            } catch {
                #expect(error.code == .truncated, "prefix \(n): \(error)")
            }
        }
    }

    @Test(arguments: ["policy", "blob"])
    func everyPrefixIsRejectedAsTruncated(which: String) {
        HostileInputTests.expectEveryPrefixTruncated(which == "policy" ? Self.files.policy : Self.files.blob)
    }

    /// 10,000 seeded mutations of each sample: 1–8 random bytes set to random values, then either left as
    /// they are (the digest must catch them) or re-sealed with a fresh digest (the structure checks must
    /// catch them or the file must read cleanly and re-serialize to a file that verifies).
    @Test(arguments: [("policy", UInt64(0x5eed_0001)), ("blob", UInt64(0x5eed_0002))])
    func seededMutationsNeverCrash(which: String, seed: UInt64) throws {
        let original = which == "policy" ? Self.files.policy : Self.files.blob
        var rng = SplitMix64(seed: seed)
        var outcomes: [String: Int] = [:]
        for round in 0..<10_000 {
            var raw = RawFile(original)
            let flips = 1 + Int(rng.next() % 8)
            let limit = round % 2 == 0 ? raw.bytes.count : raw.bytes.count - 32
            for _ in 0..<flips {
                raw.bytes[Int(rng.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: rng.next())
            }
            let resealed = round % 2 == 1
            if resealed { raw.reseal() }
            do {
                let file = try VLAFile(bytes: raw.bytes)
                outcomes["read", default: 0] += 1
                // A file that reads cleanly is internally consistent: writing it back gives a valid file.
                _ = try VLAFile(bytes: VLAWriter.serialize(file.document()))
            } catch {
                if !resealed && raw.bytes != original {
                    let allowed: Set<FormatError.Code> = [.digestMismatch, .badMagic, .unsupportedVersion, .truncated, .invalidValue, .limitExceeded]
                    #expect(allowed.contains(error.code), "unsealed mutation \(round) gave \(error)")
                }
                outcomes[error.code.description, default: 0] += 1
            }
        }
        // The resealed half must reach the structural checks, not stop at the digest.
        #expect(outcomes.keys.count > 5, "outcomes: \(outcomes)")
    }

    // MARK: Hand-made hostile files

    static func patched(_ bytes: [UInt8] = files.policy, reseal: Bool = true, _ change: (inout RawFile) -> Void) -> [UInt8] {
        var raw = RawFile(bytes)
        change(&raw)
        if reseal { raw.reseal() }
        return raw.bytes
    }

    static func expectRejected(_ bytes: [UInt8], _ code: FormatError.Code, mentioning words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try VLAFile(bytes: bytes)
            Issue.record("accepted a hostile file (wanted \(code))", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.offset != nil, "no byte offset in \(error)", sourceLocation: sourceLocation)
            for word in words {
                #expect(error.message.contains(word), "\"\(word)\" missing from \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func notAVLAFile() {
        Self.expectRejected(Array("PK\u{3}\u{4} this is a zip".utf8) + [UInt8](repeating: 0, count: 100), .badMagic)
    }

    @Test func newerMajorVersionNamesBothVersions() {
        let bytes = Self.patched(reseal: false) { $0.setU16(8, 2) }
        Self.expectRejected(bytes, .unsupportedVersion, mentioning: ["2.0", "1.x"])
    }

    @Test func newerMinorVersionIsRead() throws {
        let bytes = Self.patched { $0.setU16(10, 7) }
        let file = try VLAFile(bytes: bytes)
        #expect(file.header.minor == 7)
    }

    @Test func flippedPayloadByteFailsTheDigest() {
        let bytes = Self.patched(reseal: false) { $0.bytes[$0.bytes.count - 100] ^= 0x10 }
        Self.expectRejected(bytes, .digestMismatch)
    }

    @Test func trailingGarbageAfterTheDigest() {
        Self.expectRejected(Self.files.policy + [0], .invalidValue, mentioning: ["says the file has"])
    }

    @Test func unknownRequiredFlag() {
        Self.expectRejected(Self.patched { $0.setU32(12, 0x8) }, .invalidValue, mentioning: ["flag"])
    }

    @Test func sectionOffsetPastTheEnd() {
        let bytes = Self.patched { raw in raw.setU64(raw.sectionEntry(.tensors)! + 8, UInt64(raw.bytes.count) + 64) }
        Self.expectRejected(bytes, .outOfBounds)
    }

    @Test func sectionLengthOf2To63Wraps() {
        let bytes = Self.patched { raw in raw.setU64(raw.sectionEntry(.data)! + 16, 1 << 63) }
        Self.expectRejected(bytes, .outOfBounds)
        let wrap = Self.patched { raw in raw.setU64(raw.sectionEntry(.data)! + 16, UInt64.max - 32) }
        Self.expectRejected(wrap, .outOfBounds)
    }

    @Test func overlappingSections() {
        let bytes = Self.patched { raw in
            let tensors = raw.section(.tensors)!
            raw.setU64(raw.sectionEntry(.metadata)! + 8, UInt64(tensors.offset + 8))
        }
        Self.expectRejected(bytes, .overlap)
    }

    @Test func hugeSectionCount() {
        Self.expectRejected(Self.patched { $0.setU32(32, 0xFFFF_FFFF) }, .limitExceeded)
    }

    @Test func hugeTensorCountIsRejectedBeforeAllocating() {
        let bytes = Self.patched { raw in raw.setU32(raw.section(.tensors)!.offset, 0x7FFF_FFFF) }
        Self.expectRejected(bytes, .limitExceeded)
        let within = Self.patched { raw in raw.setU32(raw.section(.tensors)!.offset, 60_000) }
        Self.expectRejected(within, .truncated)
    }

    @Test func unknownRequiredSectionKind() {
        let bytes = Self.patched { raw in raw.setU32(raw.sectionEntry(.testVectors)!, 99) }
        Self.expectRejected(bytes, .badSection, mentioning: ["unknown kind 99", "required"])
    }

    @Test func unknownOptionalSectionIsSkipped() throws {
        let bytes = Self.patched { raw in
            let e = raw.sectionEntry(.testVectors)!
            raw.setU32(e, 99)
            raw.setU32(e + 4, 0)
        }
        let file = try VLAFile(bytes: bytes)
        #expect(file.testVectors.isEmpty)
        #expect(file.sections.contains { $0.kind.rawValue == 99 && !$0.isKnown })
    }

    @Test func missingRequiredSection() {
        // Rename the provenance entry to an unknown optional kind: provenance is then missing.
        let bytes = Self.patched { raw in
            let e = raw.sectionEntry(.provenance)!
            raw.setU32(e, 99)
            raw.setU32(e + 4, 0)
        }
        Self.expectRejected(bytes, .badSection, mentioning: ["provenance"])
    }

    @Test func misalignedPayload() {
        let bytes = Self.patched { raw in raw.setU64(raw.tensorEntry(0) + 40, 4) }
        Self.expectRejected(bytes, .misaligned, mentioning: ["reset/table"])
    }

    @Test func overlappingTensors() {
        let bytes = Self.patched { raw in
            let first = raw.u64(raw.tensorEntry(0) + 40)
            raw.setU64(raw.tensorEntry(1) + 40, first)
        }
        Self.expectRejected(bytes, .overlap)
    }

    @Test func payloadPastTheDataSection() {
        let bytes = Self.patched { raw in raw.setU64(raw.tensorEntry(0) + 40, UInt64((raw.section(.data)!.length + 63) / 64 * 64)) }
        Self.expectRejected(bytes, .outOfBounds)
    }

    @Test func byteLengthDisagreesWithShape() {
        Self.expectRejected(Self.patched { raw in raw.setU64(raw.tensorEntry(0) + 48, 4) }, .invalidValue, mentioning: ["byte length"])
    }

    @Test func dimensionsWhoseProductOverflows() {
        let bytes = Self.patched { raw in
            let e = raw.tensorEntry(0)
            raw.bytes[e + 9] = 6
            for axis in 0..<6 { raw.setU32(e + 16 + 4 * axis, 1 << 30) }
        }
        Self.expectRejected(bytes, .limitExceeded)
    }

    @Test func unknownDType() {
        Self.expectRejected(Self.patched { raw in raw.bytes[raw.tensorEntry(0) + 8] = 42 }, .invalidValue, mentioning: ["dtype 42"])
    }

    @Test func badUTF8InAName() {
        let bytes = Self.patched { raw in
            let strings = raw.section(.strings)!
            let nameOffset = Int(raw.u32(raw.tensorEntry(0)))
            raw.bytes[strings.offset + nameOffset] = 0xC3
            raw.bytes[strings.offset + nameOffset + 1] = 0x28
        }
        Self.expectRejected(bytes, .badString, mentioning: ["UTF-8"])
    }

    @Test func stringPastTheStringTable() {
        Self.expectRejected(Self.patched { raw in raw.setU32(raw.tensorEntry(0), 0xFFFF_FF00) }, .outOfBounds)
    }

    @Test func duplicateTensorNames() {
        let bytes = Self.patched { raw in
            raw.setU32(raw.tensorEntry(1), raw.u32(raw.tensorEntry(0)))
            raw.setU32(raw.tensorEntry(1) + 4, raw.u32(raw.tensorEntry(0) + 4))
        }
        Self.expectRejected(bytes, .badString, mentioning: ["repeats"])
    }

    @Test func arenaTensorPastTheArena() {
        // Tensor 2 is reset/embedded, an arena tensor.
        Self.expectRejected(Self.patched { raw in raw.setU64(raw.tensorEntry(2) + 40, 1 << 40) }, .outOfBounds, mentioning: ["arena"])
    }

    @Test func externalTensorNamingAMissingBlob() {
        // Tensor 8 is backbone/proj, external in blob 0.
        Self.expectRejected(Self.patched { raw in raw.setU32(raw.tensorEntry(8) + 56, 3) }, .badReference)
    }

    @Test func opWithAnUnknownCode() {
        let bytes = Self.patched { raw in
            let programs = raw.section(.programs)!
            let firstOp = programs.offset + 32 + 32 * Int(raw.u32(programs.offset))
            raw.setU16(firstOp, 900)
        }
        Self.expectRejected(bytes, .badOperation, mentioning: ["unknown op code 900"])
    }

    @Test func opWhoseShapesDoNotFit() {
        // Make the reset program's linear output (policy/generated, tensor 4) the wrong shape.
        let bytes = Self.patched { raw in raw.setU32(raw.tensorEntry(4) + 16 + 4, 5); raw.setU64(raw.tensorEntry(4) + 48, 60) }
        Self.expectRejected(bytes, .badOperation, mentioning: ["linear", "expected shape"])
    }

    @Test func opOperandOutOfRange() {
        let bytes = Self.patched { raw in
            let programs = raw.section(.programs)!
            let nPrograms = Int(raw.u32(programs.offset)), nOps = Int(raw.u32(programs.offset + 8))
            let pool = programs.offset + 32 + 32 * nPrograms + 16 * nOps
            let firstOperand = Int(raw.u32(programs.offset + 32 + 32 * nPrograms + 4))
            raw.setU32(pool + 4 * firstOperand, 7_000)
        }
        Self.expectRejected(bytes, .badReference, mentioning: ["7000"])
    }

    @Test func gatherIDOutsideTheTable() {
        // Tensor 1 is reset/ids (i32 [3]) feeding a gather over a 10-row table.
        let bytes = Self.patched { raw in
            let payload = raw.section(.data)!.offset + Int(raw.u64(raw.tensorEntry(1) + 40))
            raw.setU32(payload, 10)
        }
        Self.expectRejected(bytes, .badOperation, mentioning: ["outside the table"])
    }

    @Test func unknownContractValue() {
        let bytes = Self.patched { raw in raw.setU32(raw.section(.metadata)!.offset + 64 + 36, 77) }
        Self.expectRejected(bytes, .invalidValue, mentioning: ["77"])
    }

    /// Resize method 2 (`pad_lanczos3_antialias`, format 1.3) round-trips and makes the file 1.3; a value this
    /// version does not know (3) is refused by its value, as a 1.2 reader refuses 2.
    @Test func padResizeMethodIsFormat13AndUnknownResizeIsRefused() throws {
        var doc = try VLAFile(bytes: Self.files.policy).document()
        doc.metadata.image.resize = .padLanczos3Antialias
        #expect(doc.minimumMinorVersion == 3)
        let bytes = try VLAWriter.serialize(doc)
        let file = try VLAFile(bytes: bytes)
        #expect(file.header.minor == 3)
        #expect(file.metadata.image.resize == .padLanczos3Antialias)
        #expect(file.metadata.image.resize.description == "pad_lanczos3_antialias")
        let unknown = Self.patched(bytes) { raw in raw.setU32(raw.section(.metadata)!.offset + 112, 3) }
        Self.expectRejected(unknown, .invalidValue, mentioning: ["ResizeMethod value 3 is unknown"])
    }

    @Test func testVectorBindingToANonInput() {
        let bytes = Self.patched { raw in
            let tv = raw.section(.testVectors)!
            let bindings = tv.offset + 16 + 16 * Int(raw.u32(tv.offset))
            raw.setU32(bindings, 0)
        }
        Self.expectRejected(bytes, .badReference, mentioning: ["not an input"])
    }
}
