import Foundation
import LRMCompress
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMPipeline

@Suite("Per-layer rank and dtype")
struct LayerAllocationTests {
    /// Measured ‖W − Ŵ‖²/‖W‖² of a built (uncalibrated) layer against the option's prediction.
    @Test("an option's predicted error is the error of the layer as written, with and without zero points (plain metric, no calibration)",
          arguments: [false, true])
    func predictedError(zeroPoints: Bool) throws {
        let (search, model) = try SizeSearchTests().setUp(zeroPoints: zeroPoints)
        var copy = search
        let tables = try copy.allocation()
        for name in ["h1", "h2"] {
            guard case let .dense(kernel, _, _) = try #require(model.layers.first { $0.name == name }).operation else { continue }
            let w = kernel.floats()
            let norm = w.reduce(0.0) { $0 + Double($1) * Double($1) }
            let options = try #require(tables.tables[name])
            #expect(Set(options.map(\.dtype)) == [.float32, .float16, .int8, .int4])
            for option in options where option.rank.map({ [2, 8, 16].contains($0) }) ?? true {
                var choice = tables.choose(lambda: 0)
                choice[name] = option
                let c = search.candidate(choice)
                let built = try search.build(c.ranks, storage: c.storage, calibrated: false).model
                let layer = try #require(built.layers.first { $0.name == name })
                let stored: [Float]
                switch layer.operation {
                case let .factorizedDense(us, vt, _, _, f):
                    #expect(f.rank == option.rank)
                    #expect(us.dtype == option.dtype)
                    // Integer factors carry zero points exactly when the search's options ask for them.
                    #expect(option.dtype.isFloatingPoint || (us.quantization?.zeroPoints != nil) == zeroPoints)
                    stored = try Matrix.product(Matrix(rows: f.inFeatures, columns: f.rank, values: us.floats()),
                                                Matrix(rows: f.rank, columns: f.outFeatures, values: vt.floats())).values
                case let .dense(k, _, _):
                    #expect(option.rank == nil)
                    #expect(k.dtype == option.dtype)
                    stored = k.floats()
                default:
                    Issue.record("unexpected layer kind"); continue
                }
                let measured = zip(stored, w).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / norm
                // Rounding noise and truncation are close to orthogonal: 20% (or 1e-6 absolute for f32/f16).
                #expect(abs(measured - option.error) <= max(0.2 * option.error, 1e-6), "\(name) \(option)")
            }
        }
    }

    @Test("the choice for λ has the least predicted error of every combination no larger (brute force)")
    func lagrangianOptimal() throws {
        var (search, _) = try SizeSearchTests().setUp()
        let tables = try search.allocation()
        let names = tables.tables.keys.sorted()
        let lists = names.map { tables.tables[$0]! }
        #expect(names == ["h1", "h2", "out"])
        for lambda in [1e-7, 1e-5, 1e-4] {
            let choice = tables.choose(lambda: lambda)
            let (budget, error) = (LayerAllocation.bytes(choice), LayerAllocation.error(choice))
            var better = 0
            for a in lists[0] {
                for b in lists[1] where a.bytes + b.bytes <= budget {
                    for c in lists[2] where a.bytes + b.bytes + c.bytes <= budget && a.error + b.error + c.error < error - 1e-12 { better += 1 }
                }
            }
            #expect(better == 0, "λ \(lambda)")
        }
        // Larger λ: never more bytes.
        let sizes = [1e-9, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3].map { LayerAllocation.bytes(tables.choose(lambda: $0)) }
        #expect(sizes == sizes.sorted(by: >))
        #expect(sizes.first! > sizes.last!)
    }

    /// h1's kernel has one large entry in every column: with one scale per column, i4 codes round its
    /// other entries to zero, while h2 (no outliers) loses little in i4. A per-layer choice should
    /// spend its bytes on h1's precision.
    @Test("layers that round differently get different dtypes, and the file holds them")
    func mixedDTypes() throws {
        var (search, model) = try SizeSearchTests().setUp(outliers: true)
        let tables = try search.allocation()
        // At a budget where the uniform i4 model fits, the chosen h1 keeps a wider dtype than h2.
        let uniform = try #require(try search.targetSize(Int(Double(try SizeSearch.fileSize(model)) * 0.25)))
        let mixed = search.log.filter { !$0.storage.layers.isEmpty }
        #expect(!mixed.isEmpty)
        // Across the whole range of λ, h1 is never stored in fewer bits than h2, and sometimes in more.
        func bits(_ dtype: DType) -> Int { dtype == .int4 ? 4 : dtype.byteCount * 8 }
        var wider = 0
        for exponent in stride(from: -10.0, through: 0, by: 0.25) {
            let choice = tables.choose(lambda: pow(10, exponent))
            let h1 = try #require(choice["h1"]), h2 = try #require(choice["h2"])
            #expect(bits(h1.dtype) >= bits(h2.dtype), "λ 1e\(exponent): h1 \(h1), h2 \(h2)")
            if bits(h1.dtype) > bits(h2.dtype) { wider += 1 }
        }
        #expect(wider > 0)
        // What the chosen candidate says is what is written.
        if !uniform.storage.layers.isEmpty {
            let built = try search.build(uniform.ranks, storage: uniform.storage, calibrated: true).model
            for layer in built.layers {
                guard let dtype = uniform.storage.layers[layer.name] else { continue }
                switch layer.operation {
                case let .factorizedDense(us, vt, _, _, _): #expect(us.dtype == dtype && vt.dtype == dtype)
                case let .dense(k, _, _): #expect(k.dtype == dtype)
                default: break
                }
            }
            #expect(try SizeSearch.fileSize(built) == uniform.bytes)
        }
    }

    @Test("with per-layer choice a size target is at least as accurate on validation as without, and fits")
    func perLayerNoWorse() throws {
        var (withChoice, model) = try SizeSearchTests().setUp(outliers: true)
        var without = withChoice
        without.perLayer = false
        for fraction in [0.12, 0.2, 0.3] {
            let budget = Int(Double(try SizeSearch.fileSize(model)) * fraction)
            let a = try #require(try withChoice.targetSize(budget)), b = try #require(try without.targetSize(budget))
            #expect(a.bytes <= budget && b.bytes <= budget)
            #expect((a.score?.accuracy ?? 0) >= (b.score?.accuracy ?? 1))
            print("budget \(budget): per-layer \(a.storage) \(a.ranks) \(a.bytes) B \(a.score?.accuracy ?? 0); uniform \(b.storage) \(b.ranks) \(b.bytes) B \(b.score?.accuracy ?? 0)")
        }
    }
}
