import Foundation
import Testing
import VLAFormat
import VLARuntime
@testable import VLARuntimeC
import VLATestSupport

/// The C ABI (vlart.h) under misuse and hostile files: every case is a status and a message, never a trap.
@Suite struct CABIMisuseTests {
    static func message() -> String {
        var buf = [CChar](repeating: 0, count: 1024)
        let n = Int(vla_last_error_message(&buf, UInt(buf.count)))
        return String(decoding: buf.prefix(min(n, buf.count - 1)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func open(_ path: String, shared: String) -> (Int32, OpaquePointer?) {
        var handle: OpaquePointer?
        let status = path.withCString { p in
            shared.withCString { d in
                var dirs: [UnsafePointer<CChar>?] = [d]
                return dirs.withUnsafeMutableBufferPointer { vla_policy_open(p, $0.baseAddress, 1, &handle) }
            }
        }
        return (status, handle)
    }

    static func openDemo() throws -> OpaquePointer? {
        let (folder, _) = try RuntimeFixtures.demoFolder(withReset: true)
        // The open policy has its files mapped, so the folder can go as soon as it is open.
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, handle) = open(folder + "/policies/policy.vla", shared: folder + "/shared")
        #expect(status == vlaOK, "\(message())")
        return handle
    }

    /// `size_t` sizes are compared unsigned: `(size_t)-1` as action_capacity is a large buffer, not −1, and as
    /// a frame side it is out of range with its real value in the message.
    @Test func sizeTValuesAreUnsigned() throws {
        let policy = try Self.openDemo()
        defer { vla_policy_close(policy) }
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        defer { vla_session_destroy(session) }
        let frame = RuntimeFixtures.frame(height: 48, width: 64)
        var action = [Float](repeating: 0, count: 7)
        frame.withUnsafeBufferPointer { f in
            #expect(vla_session_reset(session, f.baseAddress, 48, 64, UInt(f.count)) == vlaOK)
            #expect(vla_session_step(session, f.baseAddress, 48, 64, UInt(f.count), &action, UInt.max) == vlaOK, "\(Self.message())")
            #expect(vla_session_step(session, f.baseAddress, UInt.max, 64, UInt(f.count), &action, 7) == vlaInvalidArgument)
            #expect(Self.message().contains("frame size 18446744073709551615×64 is outside 1...16384"))
            #expect(vla_session_step(session, f.baseAddress, 48, 64, UInt(f.count), &action, 6) == vlaBufferTooSmall)
            #expect(Self.message().contains("action_capacity 6 is below action_dim 7"))
        }
        #expect(action.allSatisfy { $0.isFinite } && action != [Float](repeating: 0, count: 7))
        var chunk = [Float](repeating: 0, count: 28)
        #expect(vla_session_chunk(session, 0, &chunk, UInt.max) == vlaOK)
        #expect(vla_last_error_message(nil, UInt.max) > 0)
    }

    @Test func stepBeforeResetIsAState() throws {
        let policy = try Self.openDemo()
        defer { vla_policy_close(policy) }
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        defer { vla_session_destroy(session) }
        let pixels = [UInt8](repeating: 100, count: 224 * 224 * 3)
        var action = [Float](repeating: 0, count: 7)
        #expect(vla_session_step_preprocessed(session, pixels, UInt(pixels.count), &action, 7) == vlaState)
        #expect(Self.message().contains("call reset with the episode's first frame before step"))
    }

    /// Closed and destroyed handles, and a handle of the other kind, are refused without being dereferenced.
    @Test func deadAndForeignHandles() throws {
        let policy = try Self.openDemo()
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        let pixels = [UInt8](repeating: 100, count: 224 * 224 * 3)
        var action = [Float](repeating: 0, count: 7)
        // A policy handle where a session is expected.
        #expect(vla_session_step_preprocessed(policy, pixels, UInt(pixels.count), &action, 7) == vlaInvalidArgument)
        #expect(Self.message().contains("session is not a live handle"))
        vla_session_destroy(session)
        #expect(vla_session_step_preprocessed(session, pixels, UInt(pixels.count), &action, 7) == vlaInvalidArgument)
        #expect(Self.message() == "vla_session_step_preprocessed: session is not a live handle (closed or destroyed already, or not a session)")
        vla_session_destroy(session)  // twice: ignored, with a message
        #expect(Self.message().contains("vla_session_destroy: session is not a live handle"))
        vla_policy_close(policy)
        var info = [UInt8](repeating: 0, count: 64)
        #expect(vla_policy_info(policy, &info) == vlaInvalidArgument)
        var again: OpaquePointer?
        #expect(vla_session_create(policy, 1, &again) == vlaInvalidArgument)
        #expect(again == nil)
    }

    /// A second call on a session that another thread is inside is refused with VLA_ERR_BUSY (the flag set by
    /// hand here stands for the other thread's call in flight).
    @Test func concurrentUseIsBusy() throws {
        let policy = try Self.openDemo()
        defer { vla_policy_close(policy) }
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        defer { vla_session_destroy(session) }
        let handle = try #require(sessionHandle(session))
        #expect(handle.enter())
        let pixels = [UInt8](repeating: 100, count: 224 * 224 * 3)
        var action = [Float](repeating: 0, count: 7)
        #expect(vla_session_reset(session, pixels, 224, 224, UInt(pixels.count)) == vlaBusy)
        #expect(Self.message().contains("another thread is inside a call on this session"))
        handle.leave()
        #expect(vla_session_reset(session, pixels, 224, 224, UInt(pixels.count)) == vlaOK)
        #expect(vla_session_step_preprocessed(session, pixels, UInt(pixels.count), &action, 7) == vlaOK)
    }

    /// The arena limit: a policy asking for 16 GiB (arena16g.vla's kind) is refused by vla_session_create at the
    /// default limit; vla_session_create_with_options sets another limit.
    @Test func arenaLimitThroughTheCABI() throws {
        let (folder, path) = try HostileRuntimeTests.editedDemo { $0.arenaSize = 1 << 34 }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, big) = Self.open(path, shared: folder + "/shared")
        #expect(status == vlaOK)
        defer { vla_policy_close(big) }
        var session: OpaquePointer?
        #expect(vla_session_create(big, 1, &session) == vlaLimitExceeded)
        #expect(session == nil)
        #expect(Self.message().contains("the policy's session arena is 17179869184 bytes, over the limit of 1073741824"))

        let policy = try Self.openDemo()
        defer { vla_policy_close(policy) }
        var options = SessionOptions(structSize: 16, threads: 1, maxArenaBytes: 4096)
        #expect(vla_session_create_with_options(policy, &options, &session) == vlaLimitExceeded)
        options.maxArenaBytes = 1 << 30
        #expect(vla_session_create_with_options(policy, &options, &session) == vlaOK, "\(Self.message())")
        vla_session_destroy(session)
        options.structSize = 8
        #expect(vla_session_create_with_options(policy, &options, &session) == vlaInvalidArgument)
        #expect(Self.message().contains("struct_size is 8"))
    }

    /// nan-passes-selftest.vla's kind: the self-test reports failure and a step is VLA_ERR_NON_FINITE_ACTION with
    /// the action buffer untouched.
    @Test func nonFiniteActionThroughTheCABI() throws {
        let (folder, path) = try HostileRuntimeTests.editedDemo { doc in
            try HostileRuntimeTests.replaceInline(&doc, "policy/head_b", with: .nan)
            try HostileRuntimeTests.replaceInline(&doc, "test/step_chunk", with: .nan)
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (status, policy) = Self.open(path, shared: folder + "/shared")
        #expect(status == vlaOK)
        defer { vla_policy_close(policy) }
        var passed: Int32 = -1
        #expect(vla_policy_self_test(policy, &passed) == vlaOK)
        #expect(passed == 0)
        #expect(Self.message().contains("output values are NaN or infinite"))
        var session: OpaquePointer?
        #expect(vla_session_create(policy, 1, &session) == vlaOK)
        defer { vla_session_destroy(session) }
        let pixels = [UInt8](repeating: 100, count: 224 * 224 * 3)
        var action = [Float](repeating: 42, count: 7)
        #expect(vla_session_reset(session, pixels, 224, 224, UInt(pixels.count)) == vlaOK)
        #expect(vla_session_step_preprocessed(session, pixels, UInt(pixels.count), &action, 7) == vlaNonFiniteAction)
        #expect(Self.message().contains("non-finite action"))
        #expect(action == [Float](repeating: 42, count: 7))
    }
}
