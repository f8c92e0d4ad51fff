#if canImport(Glibc)
import Glibc
#else
#error("VLARuntime is built and tested on Linux (Glibc) only")
#endif

/// Heap memory whose allocation may fail without ending the process.
///
/// `UnsafeMutableRawPointer.allocate` and array growth abort when `malloc` returns NULL, so sizes that come
/// from a file (the arena, scratch, converted weights) are allocated here instead and a refusal becomes an
/// error (``OwnedBuffers/allocate(bytes:_:)``).
@unsafe enum FailableAllocation {
    /// `bytes` bytes aligned to 64, or nil when the system refuses them. Release with ``free(_:)``.
    static func aligned(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes > 0 else { return nil }
        var p: UnsafeMutableRawPointer? = nil
        guard unsafe posix_memalign(&p, 64, bytes) == 0 else { return nil }
        return unsafe p
    }

    /// Releases memory from ``aligned(bytes:)``.
    static func free(_ p: UnsafeMutableRawPointer) {
        unsafe Glibc.free(p)
    }
}
