import Foundation
import Testing
@testable import VLARuntime

/// vlac's own exp, tanh and erf against float64 libm over dense sweeps; the bounds are the ones Docs/Ops.md states.
@Suite struct VectorMathTests {
    typealias V = SIMD16<Float>

    /// Evaluates `f` on `count` evenly spaced points of `range` and returns the worst (absolute, relative) error.
    static func sweep(_ range: ClosedRange<Float>, count: Int, _ f: (V) -> V, _ reference: (Double) -> Double) -> (Double, Double) {
        var worstAbs = 0.0, worstRel = 0.0
        let step = (range.upperBound - range.lowerBound) / Float(count - 1)
        var i = 0
        while i < count {
            var x = V()
            for l in 0..<16 { x[l] = min(range.upperBound, range.lowerBound + Float(i + l) * step) }
            let y = f(x)
            for l in 0..<16 {
                let want = reference(Double(x[l]))
                let err = abs(Double(y[l]) - want)
                worstAbs = max(worstAbs, err)
                if want != 0 { worstRel = max(worstRel, err / abs(want)) }
            }
            i += 16
        }
        return (worstAbs, worstRel)
    }

    @Test func expRelativeError() {
        let (_, rel) = Self.sweep(-87...88, count: 1 << 20, VectorMath.exp, Foundation.exp)
        #expect(rel <= 4 * 0x1p-24, "exp relative error \(rel)")
        print("exp: worst relative error \(rel) on [-87, 88]")
        let (_, small) = Self.sweep(-1...1, count: 1 << 18, VectorMath.exp, Foundation.exp)
        #expect(small <= 4 * 0x1p-24, "exp relative error near 0: \(small)")
    }

    @Test func expLimits() {
        let y = VectorMath.exp(V(-200, -87.4, 0, 88.8, 1000, .infinity, -.infinity, .nan, 1, 2, 3, 4, 5, 6, 7, 8))
        #expect(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == .infinity && y[4] == .infinity)
        #expect(y[5] == .infinity && y[6] == 0 && y[7].isNaN)
    }

    @Test func tanhAbsoluteError() {
        let (abs1, _) = Self.sweep(-20...20, count: 1 << 20, VectorMath.tanh, Foundation.tanh)
        #expect(abs1 <= 2e-7, "tanh absolute error \(abs1)")
        print("tanh: worst absolute error \(abs1) on [-20, 20]")
        let (abs2, rel2) = Self.sweep(-0.5...0.5, count: 1 << 18, VectorMath.tanh, Foundation.tanh)
        #expect(abs2 <= 2e-7 && rel2 <= 4 * 0x1p-24, "tanh near 0: absolute \(abs2), relative \(rel2)")
    }

    @Test func erfAbsoluteError() {
        let (abs1, _) = Self.sweep(-8...8, count: 1 << 20, VectorMath.erf, Foundation.erf)
        #expect(abs1 <= 1e-7, "erf absolute error \(abs1)")
        let (abs2, rel2) = Self.sweep(-0.6...0.6, count: 1 << 18, VectorMath.erf, Foundation.erf)
        #expect(abs2 <= 1.2e-7 && rel2 <= 4 * 0x1p-24, "erf near 0: absolute \(abs2), relative \(rel2)")
        // Across each interval switch (|x| = k/2 + 1/4) and the clamp at 4, densely.
        for k in 0..<8 {
            let mid = Float(k) / 2 + 0.25
            let (absK, _) = Self.sweep((mid - 1e-3)...(mid + 1e-3), count: 1 << 14, VectorMath.erf, Foundation.erf)
            #expect(absK <= 1e-7, "erf absolute error near \(mid): \(absK)")
        }
        print("erf: worst absolute error \(abs1) on [-8, 8]; \(abs2) absolute, \(rel2) relative on [-0.6, 0.6]")
    }

    /// erf is odd with erf(±0) = ±0, reaches ±1 exactly (so GELU gives x for large x), and keeps NaN.
    @Test func erfLimits() {
        let y = VectorMath.erf(V(0, -0.0, 3.9, 4, 5, 1e30, .infinity, -.infinity, .nan, -4, 1e-30, -1e-30, 0.25, -0.25, 3.85, .leastNonzeroMagnitude))
        #expect(y[0] == 0 && y[0].sign == .plus && y[1] == 0 && y[1].sign == .minus)
        #expect(y[3] == 1 && y[4] == 1 && y[5] == 1 && y[6] == 1 && y[7] == -1 && y[8].isNaN && y[9] == -1)
        #expect(y[2] == Float(Foundation.erf(Double(Float(3.9)))))  // 1 − 2⁻²⁴, the nearest float
        let tiny = Foundation.erf(Double(Float(1e-30)))  // ≈ 1.128·x: relative accuracy holds down to the tiny
        #expect(abs(Double(y[10]) - tiny) <= 4 * 0x1p-24 * tiny && y[11] == -y[10])
        #expect(y[12] == -y[13] && abs(Double(y[12]) - Foundation.erf(0.25)) <= 3e-8)
        #expect(y[15] > 0)  // the smallest subnormal: erf(x) ≈ 1.128·x rounds to x
        // Exactly ±1 from |x| = 3.92 on (§8.2), densely up to past the clamp at 4.
        var x = V((0..<16).map { Float(3.92) + Float($0) * 1e-4 })
        var allOne = true
        while x[0] < 4.5 {
            let e = VectorMath.erf(x), m = VectorMath.erf(-x)
            allOne = allOne && (0..<16).allSatisfy { e[$0] == 1 && m[$0] == -1 }
            x += 16e-4
        }
        #expect(allOne)
    }
}
