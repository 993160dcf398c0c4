import Testing
@testable import LRMFormat

@Suite("Finite values")
struct FiniteValuesTests {
    /// Every class of float: zeros, subnormals, the extremes, infinities, quiet and signaling NaNs of both signs.
    static let specials: [Float] = [
        0, -0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, 1, -1,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity, .nan, -.nan, .signalingNaN,
        Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFFF_FFFF), Float(bitPattern: 0x7F7F_FFFF),
    ]

    @Test("agrees with isFinite on every class of value, at every position around a block's edges")
    func agreesWithIsFinite() {
        #expect(FiniteValues.all([Float]()))
        for special in Self.specials {
            for count in [1, 7, 16383, 16384, 16385, 40000] {
                for position in Set([0, count / 2, count - 1, min(16383, count - 1), min(16384, count - 1)]) {
                    var values = (0..<count).map { Float($0 % 97) - 48.5 }
                    values[position] = special
                    #expect(FiniteValues.all(values) == values.allSatisfy(\.isFinite),
                            "\(special) (bits \(String(special.bitPattern, radix: 16))) at \(position) of \(count)")
                }
            }
        }
    }
}
