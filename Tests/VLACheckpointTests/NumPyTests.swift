import Testing
import VLACheckpoint

/// Zip surgery for bad-input tests: finds central-directory records by entry name.
enum ZipPatch {
    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 { (0 ..< 4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }
    static func put32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) { for k in 0 ..< 4 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }

    /// Offset of the central directory record of `name`.
    static func centralRecord(_ b: [UInt8], _ name: String) -> Int? {
        let n = Array(name.utf8)
        var i = 0
        while i + 46 + n.count <= b.count {
            if le32(b, i) == 0x0201_4B50, Int(b[i + 28]) | Int(b[i + 29]) << 8 == n.count, Array(b[i + 46 ..< i + 46 + n.count]) == n { return i }
            i += 1
        }
        return nil
    }

    /// Writes the CRC-32 of stored entry `name`'s bytes into its central directory record (after a
    /// patch, so the patched bytes reach the reader instead of the CRC check).
    static func resealCRC(_ b: inout [UInt8], _ name: String) {
        guard let r = centralRecord(b, name) else { return }
        let lh = Int(le32(b, r + 42))
        let start = lh + 30 + (Int(b[lh + 26]) | Int(b[lh + 27]) << 8) + (Int(b[lh + 28]) | Int(b[lh + 29]) << 8)
        put32(&b, r + 16, Craft.crc(Array(b[start ..< start + Int(le32(b, r + 20))])))
    }

    /// Replaces every occurrence of `from` with `to` (same length).
    static func replaceAll(_ b: inout [UInt8], _ from: String, _ to: String) {
        let f = Array(from.utf8), t = Array(to.utf8)
        var i = 0
        while i + f.count <= b.count {
            if Array(b[i ..< i + f.count]) == f { b.replaceSubrange(i ..< i + f.count, with: t); i += f.count } else { i += 1 }
        }
    }
}

@Suite struct NumPyTests {
    static let npyFiles = ["f32", "big_f32", "fortran_f32", "fortran_big_f64", "scalar", "bool"].flatMap { k in (1 ... 3).map { "\(k).v\($0).npy" } }

    @Test(arguments: npyFiles)
    func npyMatchesNumPy(_ name: String) throws {
        let ckpt = try Checkpoint(path: Support.fixture(name))
        #expect(ckpt.format == .npy)
        let ref = try #require(Support.reference[name])
        Support.expectMatches(ckpt, ref)
        #expect(ckpt.files[0].sha256().hex == ref.sha256)
    }

    @Test(arguments: ["stored.npz", "compressed.npz", "descriptors-zip64.npz", "zip64-records.npz"])
    func npzMatchesNumPy(_ name: String) throws {
        let ckpt = try Checkpoint(path: Support.fixture(name))
        #expect(ckpt.format == .npz)
        Support.expectMatches(ckpt, try #require(Support.reference[name]))
    }

    @Test func storedNpzTensorsAreViewsOfTheMappedFile() throws {
        let ckpt = try Checkpoint(path: Support.fixture("stored.npz"))
        let t = try #require(ckpt["f32"])
        #expect(t.data.storage === ckpt.files[0].bytes.storage)
        let big = try #require(ckpt["big_f32"])
        #expect(big.data.storage !== ckpt.files[0].bytes.storage)  // byte-swapped copy
    }

    @Test(arguments: ["f32.v1.npy", "fortran_big_f64.v3.npy", "stored.npz", "compressed.npz", "descriptors-zip64.npz", "zip64-records.npz"])
    func everyPrefixFails(_ name: String) throws {
        let bytes = try Support.bytes(Support.fixture(name))
        Support.expectEveryPrefixFails(bytes, path: name, format: name.hasSuffix(".npy") ? .npy : .npz, stride: 61)
    }

    @Test(arguments: [("f32.v1.npy", UInt64(11)), ("compressed.npz", 12), ("descriptors-zip64.npz", 13), ("zip64-records.npz", 14)])
    func tenThousandSeededMutationsNeverTrap(_ name: String, _ seed: UInt64) throws {
        let bytes = try Support.bytes(Support.fixture(name))
        let (ok, bad) = Support.mutate(bytes, path: name, format: name.hasSuffix(".npy") ? .npy : .npz, count: Support.mutationCount(10_000), seed: seed)
        #expect(ok + bad == Support.mutationCount(10_000))
        #expect(bad > 0)
    }

    func expectError(_ bytes: [UInt8], _ code: CheckpointError.Code, _ mention: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Checkpoint(parsing: ByteStorage(copying: bytes).view, path: "bad.npz", format: .npz)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch let e as CheckpointError {
            #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(mention), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.hasPrefix("bad.npz: ") && e.offset != nil, "\(e)", sourceLocation: sourceLocation)
        } catch { Issue.record("\(error)", sourceLocation: sourceLocation) }
    }

    @Test func dotDotEntryNamesAreRefused() throws {
        var b = try Support.bytes(Support.fixture("stored.npz"))
        ZipPatch.replaceAll(&b, "f32.npy", "../.npy")
        expectError(b, .unsafePath, #"zip entry "../.npy""#)
    }

    @Test func deflateBombDeclaredSizeOverRatioIsRefused() throws {
        var b = try Support.bytes(Support.fixture("compressed.npz"))
        let r = try #require(ZipPatch.centralRecord(b, "zeros.npy"))
        ZipPatch.put32(&b, r + 24, 0x7FFF_FFF0)
        expectError(b, .limitExceeded, "deflate bomb")
    }

    @Test func entryInflatingPastItsDeclaredSizeIsRefused() throws {
        var b = try Support.bytes(Support.fixture("compressed.npz"))
        let r = try #require(ZipPatch.centralRecord(b, "zeros.npy"))
        ZipPatch.put32(&b, r + 24, ZipPatch.le32(b, r + 24) - 100)
        expectError(b, .decompression, "more than its declared")
    }

    @Test func entryInflatingShortOfItsDeclaredSizeIsRefused() throws {
        var b = try Support.bytes(Support.fixture("compressed.npz"))
        let r = try #require(ZipPatch.centralRecord(b, "zeros.npy"))
        ZipPatch.put32(&b, r + 24, ZipPatch.le32(b, r + 24) + 100)
        expectError(b, .decompression, "fewer than its declared")
    }

    @Test func wrongCRCIsRefused() throws {
        var b = try Support.bytes(Support.fixture("compressed.npz"))
        let r = try #require(ZipPatch.centralRecord(b, "zeros.npy"))
        ZipPatch.put32(&b, r + 16, ZipPatch.le32(b, r + 16) ^ 1)
        expectError(b, .decompression, "CRC-32")
    }

    @Test func localHeaderOffsetPastTheEndIsRefused() throws {
        var b = try Support.bytes(Support.fixture("stored.npz"))
        let r = try #require(ZipPatch.centralRecord(b, "i64.npy"))
        ZipPatch.put32(&b, r + 42, 0xFFFF_FFF0)
        // 0xFFFFFFF0 is not the ZIP64 marker, so it is a plain (too large) offset.
        expectError(b, .outOfBounds, #"zip entry "i64.npy""#)
    }

    @Test func overlappingEntriesAreRefused() throws {
        var b = try Support.bytes(Support.fixture("stored.npz"))
        let a = try #require(ZipPatch.centralRecord(b, "f32.npy"))
        let c = try #require(ZipPatch.centralRecord(b, "f64.npy"))
        ZipPatch.put32(&b, c + 42, ZipPatch.le32(b, a + 42))
        expectError(b, .outOfBounds, "")
    }

    @Test func lyingNpyShapeIsRefusedWithTheEntryName() throws {
        var b = try Support.bytes(Support.fixture("stored.npz"))
        ZipPatch.replaceAll(&b, "'shape': (3, 5)", "'shape': (3, 9)")
        ZipPatch.resealCRC(&b, "f32.npy")
        expectError(b, .truncated, #"entry "f32.npy": array "f32""#)
    }
}
