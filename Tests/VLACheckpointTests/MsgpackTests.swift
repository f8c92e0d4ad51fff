import Testing
import VLACheckpoint

@Suite struct MsgpackTests {
    @Test func flaxLayoutMatchesNumPy() throws {
        let ckpt = try Checkpoint(path: Support.fixture("flax.msgpack"))
        #expect(ckpt.format == .msgpack)
        Support.expectMatches(ckpt, try #require(Support.reference["flax.msgpack"]))
        let k = try #require(ckpt["params/Dense_0/kernel"])
        #expect(k.data.storage === ckpt.files[0].bytes.storage)
    }

    @Test func everyPrefixFails() throws {
        Support.expectEveryPrefixFails(try Support.bytes(Support.fixture("flax.msgpack")), path: "flax.msgpack", format: .msgpack)
    }

    @Test func tenThousandSeededMutationsNeverTrap() throws {
        let (ok, bad) = Support.mutate(try Support.bytes(Support.fixture("flax.msgpack")), path: "flax.msgpack", format: .msgpack, count: 10_000, seed: 21)
        #expect(ok + bad == 10_000)
        #expect(bad > 0)
    }

    static let bad: [(String, [UInt8], CheckpointError.Code, String)] = [
        ("map count past end", [0xDF, 0xFF, 0xFF, 0xFF, 0xFF], .truncated, "cannot fit"),
        ("deep nesting", [UInt8](repeating: 0x81, count: 200).enumerated().flatMap { _ in [0x81, 0xA1, 0x61] } + [0xC0], .limitExceeded, "nesting"),
        ("ndarray lies about size", [0x81, 0xA1, 0x77, 0xC7, 0x11, 0x01, 0x93, 0x91, 0x04, 0xA7] + Array("float32".utf8) + [0xC4, 0x04, 0, 0, 0, 0], .malformed, "needs 16"),
        ("bin length past end", [0x81, 0xA1, 0x77, 0xC6, 0x7F, 0xFF, 0xFF, 0xFF], .truncated, ""),
        ("complex", [0x81, 0xA1, 0x77, 0xD4, 0x02, 0x00], .unsupportedDType, "complex"),
        ("chunked", [0x81, 0xA1, 0x77, 0x81, 0xB9] + Array("__msgpack_chunked_array__".utf8) + [0xC3], .unsupportedFormat, "chunked"),
    ]

    @Test(arguments: bad.indices)
    func badFilesGiveNamedErrors(_ i: Int) {
        let (label, bytes, code, mention) = Self.bad[i]
        do {
            _ = try Checkpoint(parsing: ByteStorage(copying: bytes).view, path: "bad.msgpack", format: .msgpack)
            Issue.record("\(label): accepted")
        } catch let e as CheckpointError {
            #expect(e.code == code, "\(label): \(e)")
            #expect(e.description.contains(mention) && e.offset != nil, "\(label): \(e)")
        } catch { Issue.record("\(label): \(error)") }
    }
}
