import COpenBLAS

/// Process-wide threading settings of OpenBLAS.
enum Threading {
    /// Asks OpenBLAS to run each call on the calling thread: the interpreter splits products between its own
    /// threads, and two thread pools on two cores would only fight.
    static func useSingleThreadedBLAS() {
        openblas_set_num_threads(1)
    }

    /// Lets OpenBLAS use `n` threads for the following calls (``RuntimeOptions/openBLASThreads``).
    static func setBLASThreads(_ n: Int) {
        openblas_set_num_threads(Int32(clamping: n))
    }
}
