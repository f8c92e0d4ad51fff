import Testing
import VLAFormat
import VLARuntime
@testable import VLARuntimeC
import VLATestSupport

/// The C ABI's frame descriptions (`vla_frame_t`), version functions and policy strings: camera layouts give
/// the packed-RGB actions bit for bit, and every bad input is a status and a message.
@Suite struct CABIFrameTests {
    /// A frame of `layout` holding the same RGB values as the packed `rgb` frame; padding bytes are 0xEE and
    /// the fourth byte of RGBA/BGRA pixels is 0x55, so reading either would change the action.
    static func repack(_ rgb: [UInt8], height: Int, width: Int, pixel: FrameLayout.Pixel, stride: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: (height - 1) * stride + width * pixel.bytes)
        for y in 0..<height {
            for x in 0..<width {
                let p = (y * width + x) * 3, q = y * stride + x * pixel.bytes
                if pixel.bytes == 4 { out[q + 3] = 0x55 }
                out[q + pixel.red] = rgb[p]
                out[q + pixel.green] = rgb[p + 1]
                out[q + pixel.blue] = rgb[p + 2]
            }
        }
        return out
    }

    static func stepFrame(_ session: OpaquePointer?, _ bytes: [UInt8], height: Int, width: Int, stride: Int, format: Int32,
                          reset: Bool = false) -> (Int32, [Float]) {
        var action = [Float](repeating: 0, count: 7)
        let status = bytes.withUnsafeBufferPointer { b in
            var f = FrameDescription(data: b.baseAddress, byteCount: UInt(b.count), height: UInt(height), width: UInt(width),
                                     rowStride: UInt(stride), pixelFormat: format)
            return reset ? vla_session_reset_frame(session, &f) : vla_session_step_frame(session, &f, &action, 7)
        }
        return (status, action)
    }

    static func session() throws -> (OpaquePointer?, OpaquePointer?) {
        let policy = try CABIMisuseTests.openDemo()
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        return (policy, session)
    }

    /// (pixel format, `VLA_PIXEL_*`, row stride: 0 is packed).
    static let layouts: [(FrameLayout.Pixel, Int32, Int)] = [
        (.rgb, 0, 0), (.rgb, 0, 64 * 3 + 5), (.bgr, 1, 0), (.rgba, 2, 0), (.bgra, 3, 64 * 4 + 64), (.bgr, 1, 256),
    ]

    @Test(arguments: 0..<6) func cameraLayoutsGiveTheRGBActionsBitForBit(_ index: Int) throws {
        let (pixel, format, stride) = Self.layouts[index]
        let (policy, a) = try Self.session()
        var b: OpaquePointer?
        #expect(vla_session_create(policy, 1, &b) == vlaOK)
        vla_policy_close(policy)
        defer { vla_session_destroy(a); vla_session_destroy(b) }
        let (h, w) = (48, 64)
        for t in 0..<3 {
            var rgb = RuntimeFixtures.frame(height: h, width: w)
            for i in 0..<rgb.count { rgb[i] = rgb[i] &+ UInt8(t * 17) }
            let bytes = Self.repack(rgb, height: h, width: w, pixel: pixel, stride: stride == 0 ? w * pixel.bytes : stride)
            var expected = [Float](repeating: 0, count: 7)
            let status = rgb.withUnsafeBufferPointer { f in
                t == 0 ? vla_session_reset(a, f.baseAddress, UInt(h), UInt(w), UInt(f.count))
                    : vla_session_step(a, f.baseAddress, UInt(h), UInt(w), UInt(f.count), &expected, 7)
            }
            #expect(status == vlaOK, "\(CABIMisuseTests.message())")
            let (got, action) = Self.stepFrame(b, bytes, height: h, width: w, stride: stride, format: format, reset: t == 0)
            #expect(got == vlaOK, "\(CABIMisuseTests.message())")
            if t > 0 {
                #expect(action.map(\.bitPattern) == expected.map(\.bitPattern), "\(pixel) stride \(stride), step \(t)")
                #expect(expected != [Float](repeating: 0, count: 7))
            }
        }
    }

    /// Gray frames are read as red = green = blue.
    @Test func grayIsThreeEqualChannels() throws {
        let (policy, a) = try Self.session()
        var b: OpaquePointer?
        #expect(vla_session_create(policy, 1, &b) == vlaOK)
        vla_policy_close(policy)
        defer { vla_session_destroy(a); vla_session_destroy(b) }
        let gray = (0..<(30 * 40)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let rgb = gray.flatMap { [$0, $0, $0] }
        var expected = [Float](repeating: 0, count: 7)
        _ = rgb.withUnsafeBufferPointer { vla_session_reset(a, $0.baseAddress, 30, 40, UInt($0.count)) }
        _ = rgb.withUnsafeBufferPointer { vla_session_step(a, $0.baseAddress, 30, 40, UInt($0.count), &expected, 7) }
        #expect(Self.stepFrame(b, gray, height: 30, width: 40, stride: 0, format: 4, reset: true).0 == vlaOK)
        let (status, action) = Self.stepFrame(b, gray, height: 30, width: 40, stride: 0, format: 4)
        #expect(status == vlaOK, "\(CABIMisuseTests.message())")
        #expect(action.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// (byte count change, height, width, stride, format, expected message part).
    static let badFrames: [(Int, UInt, UInt, UInt, Int32, String)] = [
        (0, 48, 64, 64 * 4 - 1, 3, "row stride 255 bytes is smaller than a row: 64 BGRA pixels are 256 bytes"),
        (0, 48, 64, 0, 5, "frame->pixel_format 5 is not a VLA_PIXEL_* value"),
        (0, 48, 64, 0, -1, "frame->pixel_format -1 is not a VLA_PIXEL_* value"),
        (0, 48, 64, UInt(Int.max) / 2, 3, "overflows the address space"),
        (0, 48, 64, UInt.max, 3, "frame->row_stride 18446744073709551615 or byte_count"),
        (-1, 48, 64, 0, 3, "frame buffer has 12287 bytes, a 48×64 BGRA frame with a row stride of 256 bytes needs 12288"),
        (0, 0, 64, 0, 3, "frame size 0×64 is outside 1...16384"),
        (0, 48, UInt.max, 0, 3, "frame size 48×18446744073709551615 is outside 1...16384"),
    ]

    @Test(arguments: 0..<8) func badFramesAreStatuses(_ index: Int) throws {
        let (delta, h, w, stride, format, needle) = Self.badFrames[index]
        let (policy, session) = try Self.session()
        vla_policy_close(policy)
        defer { vla_session_destroy(session) }
        let bytes = [UInt8](repeating: 9, count: 48 * 64 * 4 + delta)
        for reset in [true, false] {
            var action = [Float](repeating: -1, count: 7)
            let status = bytes.withUnsafeBufferPointer { b in
                var f = FrameDescription(data: b.baseAddress, byteCount: UInt(b.count), height: h, width: w, rowStride: stride, pixelFormat: format)
                return reset ? vla_session_reset_frame(session, &f) : vla_session_step_frame(session, &f, &action, 7)
            }
            #expect(status == vlaInvalidArgument)
            #expect(CABIMisuseTests.message().contains(needle), "\(CABIMisuseTests.message())")
            #expect(action == [Float](repeating: -1, count: 7))
        }
    }

    @Test func nullFramesDataAndActions() throws {
        let (policy, session) = try Self.session()
        defer { vla_session_destroy(session); vla_policy_close(policy) }
        var action = [Float](repeating: 0, count: 7)
        #expect(vla_session_step_frame(session, nil, &action, 7) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message() == "vla_session_step_frame: frame is NULL")
        #expect(vla_session_reset_frame(session, nil) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message() == "vla_session_reset_frame: frame is NULL")
        var f = FrameDescription(data: nil, byteCount: 12, height: 2, width: 2, rowStride: 0, pixelFormat: 0)
        #expect(vla_session_reset_frame(session, &f) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message() == "vla_session_reset_frame: frame->data is NULL")
        let bytes = [UInt8](repeating: 1, count: 12)
        bytes.withUnsafeBufferPointer { b in
            var g = FrameDescription(data: b.baseAddress, byteCount: 12, height: 2, width: 2, rowStride: 0, pixelFormat: 0)
            #expect(vla_session_step_frame(session, &g, nil, 7) == vlaInvalidArgument)
            #expect(CABIMisuseTests.message() == "vla_session_step_frame: action is NULL")
            #expect(vla_session_step_frame(session, &g, &action, 6) == vlaBufferTooSmall)
            #expect(vla_session_step_frame(nil, &g, &action, 7) == vlaInvalidArgument)
            #expect(CABIMisuseTests.message() == "vla_session_step_frame: session is NULL")
            #expect(vla_session_reset_frame(policy, &g) == vlaInvalidArgument)
            #expect(CABIMisuseTests.message().contains("session is not a live handle"))
        }
    }

    @Test func versionsAndTheirMismatches() {
        #expect(vla_runtime_version() == 10000)
        #expect(vla_runtime_check_version(1, 0) == vlaOK)
        #expect(vla_runtime_check_version(2, 0) == vlaVersion)
        #expect(CABIMisuseTests.message().contains("vlart.h 2.0, the loaded libvlart is 1.0.0: major versions differ"))
        #expect(vla_runtime_check_version(0, 9) == vlaVersion)
        #expect(vla_runtime_check_version(1, 1) == vlaVersion)
        #expect(CABIMisuseTests.message().contains("older than the header"))
        #expect(vla_runtime_check_version(UInt32.max, UInt32.max) == vlaVersion)
    }

    static func string(_ policy: OpaquePointer?, _ field: Int32) -> (Int32, String) {
        var length: UInt = 0
        var buf = [CChar](repeating: 0, count: 256)
        let status = vla_policy_string(policy, field, &buf, UInt(buf.count), &length)
        return (status, String(decoding: buf.prefix(Int(min(length, 255))).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    @Test func policyStrings() throws {
        let policy = try CABIMisuseTests.openDemo()
        defer { vla_policy_close(policy) }
        let file = try #require(lookup(policy, as: Policy.self))
        let m = file.metadata
        #expect(Self.string(policy, 0) == (vlaOK, m.instruction))
        #expect(Self.string(policy, 1) == (vlaOK, m.action.robot.description))
        #expect(Self.string(policy, 2).1 == (m.image.crop == .none ? "none" : "central \(m.image.cropArea)"))
        #expect(Self.string(policy, 3) == (vlaOK, "fp32"))
        #expect(Self.string(policy, 4) == (vlaOK, m.model.name))
        let hash = Self.string(policy, 5).1
        #expect(hash.count == 64 && hash == m.model.digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined())
        #expect(Self.string(policy, 6) == (vlaOK, "\(file.file.header.major).\(file.file.header.minor)"))
        #expect(Self.string(policy, 7) == (vlaOK, file.file.provenance.compiler))

        var length: UInt = 0
        #expect(vla_policy_string(policy, 5, nil, 0, &length) == vlaOK && length == 64)
        var small = [CChar](repeating: 7, count: 64)
        length = 0
        #expect(vla_policy_string(policy, 5, &small, 64, &length) == vlaBufferTooSmall)
        #expect(length == 64 && small.allSatisfy { $0 == 7 })
        #expect(CABIMisuseTests.message().contains("model_sha256 has 64 bytes and a NUL, len is 64"))
        #expect(vla_policy_string(policy, 8, &small, 64, &length) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message().contains("field 8 is not a VLA_FIELD_* value (0...7)"))
        #expect(vla_policy_string(policy, -1, &small, 64, &length) == vlaInvalidArgument)
        #expect(vla_policy_string(policy, 0, &small, 64, nil) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message() == "vla_policy_string: length is NULL")
        #expect(vla_policy_string(policy, 0, nil, 5, &length) == vlaInvalidArgument)
        #expect(vla_policy_string(nil, 0, &small, 64, &length) == vlaInvalidArgument)
        #expect(CABIMisuseTests.message() == "vla_policy_string: policy is NULL")
    }
}

/// The Swift counterpart: `FrameLayout` checks and the preprocessor reading a layout.
@Suite struct FrameLayoutTests {
    @Test func layoutChecks() throws {
        #expect(throws: RuntimeError.self) { try FrameLayout(height: 0, width: 4) }
        #expect(throws: RuntimeError.self) { try FrameLayout(height: 4, width: 4, rowStride: 11, pixel: .rgb) }
        let l = try FrameLayout(height: 3, width: 4, rowStride: 20, pixel: .bgra)
        #expect(l.minimumByteCount == 2 * 20 + 16)
        #expect(!l.isPackedRGB)
        #expect(try FrameLayout(height: 3, width: 4).isPackedRGB)
        do {
            try l.check(byteCount: 55)
            Issue.record("a short buffer was accepted")
        } catch {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains("frame buffer has 55 bytes, a 3×4 BGRA frame with a row stride of 20 bytes needs 56"))
        }
    }
}
