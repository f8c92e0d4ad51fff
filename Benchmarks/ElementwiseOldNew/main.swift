// Swift VectorMath before/after (run.sh): ns per element of the GELU (erf) and exp on SIMD16 values, swiftc -O for
// the baseline x86-64 (no FMA instruction: the new code's fma is a libm fmaf call per lane), interleaved rounds.
#if canImport(Glibc)
import Glibc
#endif
typealias V = SIMD16<Float>
func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
let n = 257 * 3072 / 16
var xs = [V](repeating: V(), count: n)
var seed: UInt32 = 1
for i in 0..<n { for l in 0..<16 { seed = seed &* 1664525 &+ 1013904223; xs[i][l] = Float(Int32(seed >> 8) - (1 << 23)) / Float(1 << 21) } }
var ys = xs
@inline(never) func run(_ f: (V) -> V) -> Double {
    var best = 1e9
    for _ in 0..<3 {
        let t0 = now()
        xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { y in for i in 0..<n { y[i] = f(x[i]) } } }
        best = min(best, now() - t0)
    }
    return best * 1e9 / Double(n * 16)
}
var t: [[Double]] = [[], [], [], []]
for _ in 0..<5 {
    t[0].append(run { 0.5 * $0 * (1 + OldVectorMath.erf($0 * 0.707_106_781_186_547_524_4)) })
    t[1].append(run { 0.5 * $0 * (1 + VectorMath.erf($0 * 0.707_106_781_186_547_524_4)) })
    t[2].append(run { OldVectorMath.exp($0) })
    t[3].append(run { VectorMath.exp($0) })
}
let m = t.map { ($0.sorted()[2] * 100).rounded() / 100 }  // medians of 5 rounds
print("Swift gelu_erf old \(m[0]) new \(m[1]) ns/element; exp old \(m[2]) new \(m[3]) ns/element")
