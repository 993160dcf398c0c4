import Foundation
import LRMFormat
import Testing
import LRMLinearAlgebra
@testable import LRMVerify

@Suite("Layer fidelity of convolutions")
struct LayerFidelityTests {
    static func random(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() })
    }

    /// K[i, j, ci, o] = Σ_r first·second, written from the spec's definition of each form (section 3.5),
    /// independently of `LayerFidelity.convolutionKernel`.
    static func kernel(first: Tensor, second: Tensor, form: ConvFactorizationForm, shape: [Int]) -> [Float] {
        let (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3])
        let a = first.floats(), b = second.floats(), k = first.shape[3]
        var kernel = [Float](repeating: 0, count: kh * kw * cin * cout)
        for i in 0..<kh { for j in 0..<kw { for ci in 0..<cin { for o in 0..<cout {
            var sum: Float = 0
            for r in 0..<k {
                switch form {
                case .channel: sum += a[((i * kw + j) * cin + ci) * k + r] * b[r * cout + o]
                case .spatial: sum += a[(i * cin + ci) * k + r] * b[(j * k + r) * cout + o]
                }
            }
            kernel[((i * kw + j) * cin + ci) * cout + o] = sum
        } } } }
        return kernel
    }

    /// A factorized 3×2 convolution (4 → 5 channels, rank 3) in `form`, and its plain counterpart whose kernel is the
    /// product of the halves plus `perturbation` times a seeded random kernel.
    static func pair(form: ConvFactorizationForm, perturbation: Float) -> (candidate: Model, reference: Model, perturbation: [Float]) {
        var rng = SeededGenerator(seed: 12)
        let shape = [3, 2, 4, 5], rank = 3
        let first = form == .channel ? random([3, 2, 4, rank], &rng) : random([3, 1, 4, rank], &rng)
        let second = form == .channel ? random([1, 1, rank, 5], &rng) : random([1, 2, rank, 5], &rng)
        let bias = random([5], &rng)
        let noise = (0..<120).map { _ in perturbation * rng.nextSymmetricFloat() }
        let product = kernel(first: first, second: second, form: form, shape: shape)
        let matrix = form == .channel ? (24, 5) : (12, 10)
        let record = Factorization(inFeatures: matrix.0, outFeatures: matrix.1, rank: rank, retainedEnergy: 1, relativeError: 0,
                                   policy: "rank", policyParameter: 3, method: "gesdd-f32", singularValues: [3, 2, 1])
        let input = InputSpec(shape: [6, 6, 4], layout: .hwc)
        let candidate = Model(name: "c", input: input, layers: [
            Layer(name: "conv", operation: .factorizedConv2D(first: first, second: second, bias: bias, activation: .relu, form: form,
                                                             geometry: ConvGeometry(padding: .same), factorization: record)),
        ])
        let reference = Model(name: "r", input: input, layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: shape, floats: zip(product, noise).map { $0 + $1 }), bias: bias,
                                                   activation: .relu, geometry: ConvGeometry(padding: .same))),
        ])
        return (candidate, reference, zip(product, noise).map { $0 + $1 })
    }

    @Test("a factorized convolution's two halves are measured as the kernel they make together, in both forms",
          arguments: [ConvFactorizationForm.channel, .spatial])
    func reconstruction(_ form: ConvFactorizationForm) throws {
        let (candidate, reference, _) = Self.pair(form: form, perturbation: 0)
        let layers = try LayerFidelity.compare(candidate: candidate, reference: reference)
        let layer = try #require(layers.first)
        #expect(layers.count == 1 && layer.kind == "factorized_conv2d" && layer.form == form && layer.rank == 3)
        #expect(layer.kernelShape == [3, 2, 4, 5])
        #expect(layer.inFeatures == (form == .channel ? 24 : 12) && layer.outFeatures == (form == .channel ? 5 : 10))
        // The same products summed in another order: float32 rounding only.
        #expect(layer.relativeError < 1e-6, "measured \(layer.relativeError)")
        #expect(layer.biasMaxDifference == 0)
        #expect(layer.agreesWithRecord == true)
        // Stored: first, second and bias in float32.
        let expectedBytes = 4 * (form == .channel ? 3 * 2 * 4 * 3 + 3 * 5 + 5 : 3 * 4 * 3 + 2 * 3 * 5 + 5)
        #expect(layer.storedBytes == expectedBytes)
        #expect(layer.shapeText == "3×2×4→5" && layer.formText == (form == .channel ? "channel 24×5" : "spatial 12×10"))
    }

    @Test("a record is not checked against a reference whose layer is itself factorized (its kernel is not the W the record describes); no metadata check, so no FAIL from it",
          arguments: [ConvFactorizationForm.channel, .spatial])
    func factorizedReference(_ form: ConvFactorizationForm) throws {
        // The candidate's record says e = 0 against a kernel 0.3 away: against a plain reference it disagrees (measuredError);
        // against the candidate itself as the reference (a factorized layer) it is left unchecked.
        let (candidate, reference, _) = Self.pair(form: form, perturbation: 0.3)
        let plain = try #require(try LayerFidelity.compare(candidate: candidate, reference: reference).first)
        #expect(plain.agreesWithRecord == false && plain.recordCheck == "disagrees" && plain.recordNotChecked == nil)
        let layer = try #require(try LayerFidelity.compare(candidate: candidate, reference: candidate).first)
        #expect(layer.agreesWithRecord == nil && layer.recordDisagreement == nil && layer.recordCheck == "not_checked")
        #expect(layer.recordNotChecked?.contains("the reference is itself compressed") == true)
        #expect(layer.recordedRelativeError == 0 && layer.relativeError == 0)
        // Its measured figures are against the reference's own truncation, and are marked so.
        #expect(layer.referenceLayerFactorized && !plain.referenceLayerFactorized)
        #expect(layer.measuredErrorText == "0.0000*" && layer.measuredEnergyText == "1.0000*" && !plain.measuredErrorText.hasSuffix("*"))
        #expect(Verifier.layerChecks(minEnergy: nil, layers: [layer]).isEmpty)
        // --min-energy is still measured against the reference, and says that reference is itself factorized.
        let energy = Verifier.layerChecks(minEnergy: 0.5, layers: [layer])
        #expect(energy.count == 1 && energy[0].passed && energy[0].detail.contains("the reference's layer is itself factorized"), "\(energy)")
        guard case let .object(members) = layer.json else { Issue.record("not an object"); return }
        #expect(members.contains { $0.0 == "record_check" && $0.1 == .string("not_checked") })
        #expect(members.contains { $0.0 == "reference_layer_factorized" && $0.1 == .bool(true) })
        #expect(!members.contains { $0.0 == "agrees_with_record" })
    }

    /// The pair's candidate with its record marked `+from-stored(what)` and, when `digest` is given, that SHA-256 recorded
    /// for its kernel in `conversion.from_stored_sha256`.
    static func marked(_ candidate: Model, _ what: String, digest: String?) throws -> Model {
        var model = candidate
        guard case let .factorizedConv2D(first, second, bias, activation, form, geometry, f) = model.layers[0].operation else {
            throw VerificationError(.layerMismatch, "setup")
        }
        var record = f
        record.method += "+from-stored(\(what))"
        model.layers[0].operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: activation, form: form,
                                                      geometry: geometry, factorization: record)
        if let digest { model.metadata[MetadataKey.conversionFromStoredSHA256] = Factorization.fromStoredDigestsValue([model.layers[0].name: digest]) }
        return model
    }

    @Test("a record marked +from-stored(WHAT) (factorized from a .lrm's changed whole kernel) is checked only against a reference whose kernel has the SHA-256 the file records for it; against another, be it stored alike, or without a recorded SHA-256 (an older file), it is not checked, with the reason (was: checked whenever the reference's storage matched WHAT, a false FAIL or a false agrees)")
    func recordFromAStoredKernel() throws {
        // The record says e = 0 against a kernel 0.3 away: wherever it is checked it disagrees.
        let (candidate, reference, kernel) = Self.pair(form: .channel, perturbation: 0.3)
        let own = KernelDigest.sha256(kernel), other = KernelDigest.sha256(kernel.map { -$0 })
        var fineTunedReference = reference
        fineTunedReference.metadata[MetadataKey.finetuneEpochs] = .int(3)
        // (what, digest, reference, checked): the reference's storage and metadata no longer decide, the kernel's SHA-256 does.
        let cases: [(String, String?, Model, Bool)] = [
            ("fine-tuned", own, reference, true), ("i8", own, reference, true), ("i8, fine-tuned", own, fineTunedReference, true),
            ("fine-tuned", other, fineTunedReference, false), ("i8", other, reference, false), ("fine-tuned", nil, fineTunedReference, false),
        ]
        for (what, digest, against, checked) in cases {
            let layer = try #require(try LayerFidelity.compare(candidate: try Self.marked(candidate, what, digest: digest), reference: against).first)
            if checked {
                #expect(layer.recordCheck == "disagrees" && layer.recordNotChecked == nil, "\(what)")
            } else {
                #expect(layer.recordCheck == "not_checked" && layer.agreesWithRecord == nil, "\(what)")
                #expect(layer.recordNotChecked == LayerFidelity.storedKernelReason(what, recorded: digest != nil), "\(what): \(layer.recordNotChecked ?? "")")
                #expect(Verifier.layerChecks(minEnergy: nil, layers: [layer]).isEmpty)
                #expect(layer.recordedRelativeError == 0 && layer.relativeError > 0.05, "still measured against the reference")
            }
        }
        #expect(LayerFidelity.storedKernelReason("i8", recorded: false).contains("does not record that kernel's SHA-256"))
        guard case let .factorizedConv2D(_, _, _, _, _, _, f) = try Self.marked(candidate, "i4, fine-tuned", digest: nil).layers[0].operation else { return }
        #expect(f.fromStoredKernel == "i4, fine-tuned" && !f.movedAfterTruncation)
    }

    @Test("a +from-stored(f16) or (bf16) record whose SHA-256 is that of the reference's kernel rounded to that dtype (the original model's, for a file converted from one that stored it so) is checked against that rounded kernel, the measured columns staying against the kernel as it is (was: not checked); not when fine-tuned or rounded to the other dtype", arguments: [DType.float16, .bfloat16])
    func recordFromARoundedKernel(_ dtype: DType) throws {
        // The candidate's halves make the reference's kernel w; its record is of w rounded to dtype, the kernel it "started from".
        let (candidate, reference, w) = Self.pair(form: .channel, perturbation: 0)
        let rounded = Tensor(shape: [3, 2, 4, 5], floats: w, dtype: dtype).floats()
        var difference = 0.0, norm = 0.0
        for (a, b) in zip(w, rounded) { difference += Double(a - b) * Double(a - b); norm += Double(b) * Double(b) }
        let e = (difference / norm).squareRoot()
        #expect(e > 2e-4, "the rounding must be larger than the check's tolerance for this test to tell the kernels apart: \(e)")
        func model(_ what: String, digest: String) throws -> Model {
            var model = try Self.marked(candidate, what, digest: digest)
            guard case let .factorizedConv2D(first, second, bias, activation, form, geometry, f) = model.layers[0].operation else {
                throw VerificationError(.layerMismatch, "setup")
            }
            var record = f
            (record.relativeError, record.retainedEnergy) = (e, 1 - e * e)
            model.layers[0].operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: activation, form: form,
                                                          geometry: geometry, factorization: record)
            return model
        }
        let layer = try #require(try LayerFidelity.compare(candidate: try model(dtype.name, digest: KernelDigest.sha256(rounded)), reference: reference).first)
        #expect(layer.recordCheck == "agrees" && layer.recordCheckedRounded == dtype, "\(layer.recordDisagreement ?? "") \(layer.recordNotChecked ?? "")")
        #expect(layer.relativeError < 1e-5, "measured against the reference's kernel as it is: \(layer.relativeError)")
        #expect(layer.recordNote == LayerFidelity.roundedReferenceNote(dtype))
        #expect(layer.json["record_check_rounding"]?.string == dtype.name && layer.json["record_check"]?.string == "agrees")
        // The same record against the kernel as it is (its SHA-256 recorded): checked there, and e is not the measured 0.
        let unrounded = try #require(try LayerFidelity.compare(candidate: try model(dtype.name, digest: KernelDigest.sha256(w)), reference: reference).first)
        #expect(unrounded.recordCheck == "disagrees" && unrounded.recordCheckedRounded == nil)
        // Fine-tuned since, or marked with the other 16-bit float: no rounding of the reference is that kernel.
        let other: DType = dtype == .float16 ? .bfloat16 : .float16
        for what in ["\(dtype.name), fine-tuned", other.name] {
            let layer = try #require(try LayerFidelity.compare(candidate: try model(what, digest: KernelDigest.sha256(rounded)), reference: reference).first)
            #expect(layer.recordCheck == "not_checked" && layer.recordCheckedRounded == nil, "\(what)")
            #expect(layer.recordNotChecked == LayerFidelity.storedKernelReason(what, rounded: what == other.name ? other : nil), "\(what): \(layer.recordNotChecked ?? "")")
        }
        #expect(LayerFidelity.storedKernelReason(other.name, rounded: other).contains("nor is it once rounded to \(other.name)"))
    }

    @Test("a kernel's SHA-256 is of its values as little-endian binary32, in order")
    func kernelDigest() {
        // python3 -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<3f', 1, -2, 0.5)).hexdigest())"
        // and of numpy.arange(40000, dtype=float32) / float32(3) as "<f4" bytes.
        #expect(KernelDigest.sha256([1, -2, 0.5]) == "2ce4bdb6b34a50ac7092eb9fee94337a27498e9eb9bae44192f15b88831b2422")
        #expect(KernelDigest.sha256(Tensor(shape: [3], floats: [1, -2, 0.5], dtype: .float16)) == KernelDigest.sha256([1, -2, 0.5]))
        // Across the 16,384-value chunks the bytes are hashed in: the same as one pass would give.
        let long = (0..<40_000).map { Float($0) / 3 }
        #expect(KernelDigest.sha256(long) == "7c3b25cf4db82af2f7fbffb2ca0a8de78a277400a47a991f3877198096483653")
    }

    @Test("the error of a factorized convolution is ‖Ŵ − W‖/‖W‖ over the whole kernel, and a record that says otherwise disagrees",
          arguments: [ConvFactorizationForm.channel, .spatial])
    func measuredError(_ form: ConvFactorizationForm) throws {
        let (candidate, reference, kernel) = Self.pair(form: form, perturbation: 0.3)
        let (_, exact, _) = Self.pair(form: form, perturbation: 0)
        guard case let .conv2D(clean, _, _, _) = exact.layers[0].operation else { Issue.record("not a conv"); return }
        var difference = 0.0, norm = 0.0
        for (w, p) in zip(kernel, clean.floats()) {
            difference += Double(w - p) * Double(w - p)
            norm += Double(w) * Double(w)
        }
        let expected = (difference / norm).squareRoot()
        let layer = try #require(try LayerFidelity.compare(candidate: candidate, reference: reference).first)
        #expect(expected > 0.05)
        #expect(abs(layer.relativeError - expected) < 1e-5, "measured \(layer.relativeError), expected \(expected)")
        #expect(abs(layer.retainedEnergy - (1 - expected * expected)) < 1e-5)
        #expect(layer.agreesWithRecord == false, "the record says e = 0")
        let checks = Verifier.layerChecks(minEnergy: 0.999, layers: [layer])
        #expect(checks.contains { $0.name == "min-energy conv" && !$0.passed })
        #expect(checks.contains { $0.name == "metadata conv" && !$0.passed })
    }

    @Test("a plain record's energy must be 1 − e² unless the factors were refitted or fine-tuned after the truncation; the check says which figure disagreed")
    func energyOfATruncation() throws {
        // W = 6×4 with a rank-2 factor pair that is not W's best approximation, recorded as a plain truncation with
        // W's own spectrum: its energy is not 1 − e² of those factors.
        var rng = SeededGenerator(seed: 13)
        let w = (0..<24).map { _ in rng.nextSymmetricFloat() }, us = (0..<12).map { _ in rng.nextSymmetricFloat() }
        let vt = (0..<8).map { _ in rng.nextSymmetricFloat() }
        var difference = 0.0, norm = 0.0
        for i in 0..<6 { for j in 0..<4 {
            let v = (0..<2).reduce(0.0) { $0 + Double(us[i * 2 + $1]) * Double(vt[$1 * 4 + j]) }
            difference += (v - Double(w[i * 4 + j])) * (v - Double(w[i * 4 + j]))
            norm += Double(w[i * 4 + j]) * Double(w[i * 4 + j])
        } }
        let error = (difference / norm).squareRoot()
        let sigma = try SVD.singularValues(of: try Matrix(rows: 6, columns: 4, values: w), precision: .double)
        let energy = (sigma[0] * sigma[0] + sigma[1] * sigma[1]) / norm
        let record = Factorization(inFeatures: 6, outFeatures: 4, rank: 2, retainedEnergy: energy, relativeError: error, policy: "rank",
                                   policyParameter: 2, method: "gesdd-f32", singularValues: sigma)
        let input = InputSpec(shape: [6])
        let candidate = Model(name: "c", input: input, layers: [
            Layer(name: "d", operation: .factorizedDense(us: Tensor(shape: [6, 2], floats: us), vt: Tensor(shape: [2, 4], floats: vt), bias: nil,
                                                         activation: .linear, factorization: record)),
        ])
        let reference = Model(name: "r", input: input, layers: [
            Layer(name: "d", operation: .dense(kernel: Tensor(shape: [6, 4], floats: w), bias: nil, activation: .linear)),
        ])
        let layer = try #require(try LayerFidelity.compare(candidate: candidate, reference: reference).first)
        #expect(abs(layer.relativeError - error) < 1e-6)
        #expect(abs((1 - error * error) - energy) > 0.01, "the test needs an energy that disagrees")
        #expect(layer.agreesWithRecord == false && !layer.recordedEnergyIsTruncations)
        let checks = Verifier.layerChecks(minEnergy: nil, layers: [layer])
        #expect(checks.count == 1 && checks.first?.detail.contains("retained energy") == true, "\(checks)")
    }

    /// The `truncation(…)` layer's factors moved off the truncation as a refit or fine-tuning moves them (U·Σ's rows
    /// mixed a little, still rank 4), its record's method ending in `suffix`, its error measured from the moved factors
    /// and its energy and singular values the truncation's unless given.
    static func moved(suffix: String, energy: Double? = nil, singularValues: [Double]? = nil, error: Double? = nil)
        throws -> (candidate: Model, reference: Model) {
        let truncation = Self.truncation(dtype: .float32, zeroPoints: false)
        guard case let .factorizedDense(us, vt, _, _, f) = truncation.candidate.layers[0].operation,
              case let .dense(kernel, _, _) = truncation.reference.layers[0].operation else { throw VerificationError(.layerMismatch, "setup") }
        var rng = SeededGenerator(seed: 31)
        let a = us.floats().map { $0 + 0.4 * rng.nextSymmetricFloat() }, b = vt.floats()
        let (rows, rank, columns) = (us.shape[0], us.shape[1], vt.shape[1])
        let w = kernel.floats()
        var difference = 0.0, norm = 0.0
        for i in 0..<rows { for j in 0..<columns {
            let v = (0..<rank).reduce(0.0) { $0 + Double(a[i * rank + $1]) * Double(b[$1 * columns + j]) }
            difference += (v - Double(w[i * columns + j])) * (v - Double(w[i * columns + j]))
            norm += Double(w[i * columns + j]) * Double(w[i * columns + j])
        } }
        var record = f
        record.method = f.method + suffix
        record.relativeError = error ?? (difference / norm).squareRoot()
        if let energy { record.retainedEnergy = energy }
        if let singularValues { record.singularValues = singularValues }
        var candidate = truncation.candidate
        candidate.layers[0].operation = .factorizedDense(us: Tensor(shape: [rows, rank], floats: a), vt: vt, bias: nil, activation: .linear,
                                                         factorization: record)
        return (candidate, truncation.reference)
    }

    @Test("refitted or fine-tuned factors: the error must be the measured one, 1 − e² at most the recorded energy, and the record's spectrum the reference kernel's",
          arguments: ["+refit", "+finetune", "+refit+finetune"])
    func movedFactors(suffix: String) throws {
        let honest = try Self.moved(suffix: suffix)
        let layer = try #require(try LayerFidelity.compare(candidate: honest.candidate, reference: honest.reference).first)
        let truncation = Self.truncation(dtype: .float32, zeroPoints: false)
        #expect(layer.retainedEnergy < truncation.energy - 0.01, "the factors must have moved well off the truncation: 1 − e² \(layer.retainedEnergy)")
        #expect(layer.agreesWithRecord == true, "\(layer.recordDisagreement ?? "")")
        #expect(layer.recordedEnergyIsTruncations)
        #expect(Verifier.layerChecks(minEnergy: nil, layers: [layer]).isEmpty)
        let json = layer.json.serialized()
        #expect(json.contains("\"recorded_energy_is_truncations\":true") || json.contains("\"recorded_energy_is_truncations\": true"), "\(json)")

        func disagreement(_ files: (candidate: Model, reference: Model)) throws -> String? {
            let layer = try #require(try LayerFidelity.compare(candidate: files.candidate, reference: files.reference).first)
            #expect(layer.agreesWithRecord == (layer.recordDisagreement == nil))
            return layer.recordDisagreement
        }
        let sigma = [6.0, 5, 4, 3.5, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5]
        // Singular values scaled up together with the energy they keep (which then still matches them and ‖W‖²
        // only if the kernel were larger): the spectrum is not the reference's.
        let scaled = try disagreement(try Self.moved(suffix: suffix, singularValues: sigma.map { $0 * 1.02 }))
        #expect(scaled != nil, "singular values 2% above the reference's were accepted")
        // The leading values swapped for others of the same energy: Σᵢ≤ₖ σᵢ² and the total stay, the values do not.
        var reshuffled = sigma
        (reshuffled[0], reshuffled[1]) = ((36.0 + 25 - 30.25).squareRoot(), 5.5)
        let values = try #require(try disagreement(try Self.moved(suffix: suffix, singularValues: reshuffled)))
        #expect(values.contains("singular value σ1"), "\(values)")
        // An energy above what its singular values keep of the reference's kernel.
        let high = try #require(try disagreement(try Self.moved(suffix: suffix, energy: min(1, truncation.energy + 0.05))))
        #expect(high.contains("singular values keep"), "\(high)")
        // An energy below 1 − e² of the stored factors: no rank-4 matrix beats the truncation.
        let low = try #require(try disagreement(try Self.moved(suffix: suffix, energy: layer.retainedEnergy - 0.05)))
        #expect(low.contains("no rank-4 matrix can exceed"), "\(low)")
        // The error is still the factors' as stored.
        let error = try #require(try disagreement(try Self.moved(suffix: suffix, error: layer.relativeError + 0.01)))
        #expect(error.contains("measured relative error"), "\(error)")
        // Re-stored since in another storage: the record holds the stored product's own singular values, which are
        // not compared; the Eckart–Young bound still is.
        #expect(try disagreement(try Self.moved(suffix: suffix + "+restored(f16)", singularValues: sigma.map { $0 * 1.02 })) == nil)
        #expect(try disagreement(try Self.moved(suffix: suffix + "+restored(f16)", energy: layer.retainedEnergy - 0.05)) != nil)
    }

    @Test("a randomized sketch's singular values may be lower than the reference kernel's, not higher")
    func sketchedSpectrum() throws {
        let sigma = [6.0, 5, 4, 3.5, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5]
        // Sketched: only the leading 6 known, the 5th and 6th underestimated; the energy is of the first 4 (exact).
        let sketch = Array(sigma.prefix(4)) + [1.15, 1.0]
        let lower = try Self.moved(suffix: "+refit", singularValues: sketch)
        var candidate = lower.candidate
        guard case let .factorizedDense(us, vt, _, _, f) = candidate.layers[0].operation else { Issue.record("setup"); return }
        var record = f
        record.method = "randomized+refit"
        candidate.layers[0].operation = .factorizedDense(us: us, vt: vt, bias: nil, activation: .linear, factorization: record)
        #expect(try LayerFidelity.compare(candidate: candidate, reference: lower.reference).first?.agreesWithRecord == true)
        record.singularValues = Array(sigma.prefix(4)) + [1.4, 1.0]
        candidate.layers[0].operation = .factorizedDense(us: us, vt: vt, bias: nil, activation: .linear, factorization: record)
        let higher = try #require(try LayerFidelity.compare(candidate: candidate, reference: lower.reference).first)
        #expect(higher.agreesWithRecord == false && higher.recordDisagreement?.contains("σ5") == true, "\(higher.recordDisagreement ?? "")")
        // The exact methods' are held both ways.
        record.method = "gesdd-f32+refit"
        record.singularValues = sketch
        candidate.layers[0].operation = .factorizedDense(us: us, vt: vt, bias: nil, activation: .linear, factorization: record)
        #expect(try LayerFidelity.compare(candidate: candidate, reference: lower.reference).first?.agreesWithRecord == false)
    }

    @Test("a refitted convolution's record is checked against the reference kernel's spectrum in its form's matrix",
          arguments: [ConvFactorizationForm.channel, .spatial])
    func movedConvolution(_ form: ConvFactorizationForm) throws {
        // The reference kernel of `pair`, its spectrum in the form's matrix, and the halves moved off the truncation.
        let (candidate, reference, kernel) = Self.pair(form: form, perturbation: 0.3)
        guard case let .factorizedConv2D(first, second, bias, activation, _, geometry, _) = candidate.layers[0].operation else {
            Issue.record("not a factorized convolution"); return
        }
        let (rows, columns) = form == .channel ? (24, 5) : (12, 10)
        let matrix = try LayerFidelity.recordMatrix(kernel, shape: [3, 2, 4, 5], form: form, rows: rows, columns: columns, layer: "conv")
        let sigma = try SVD.singularValues(of: matrix, precision: .double)
        let total = kernel.reduce(0.0) { $0 + Double($1) * Double($1) }
        let product = Self.kernel(first: first, second: second, form: form, shape: [3, 2, 4, 5])
        let difference = zip(product, kernel).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        func layer(_ values: [Double]) throws -> LayerFidelity {
            let record = Factorization(inFeatures: rows, outFeatures: columns, rank: 3, retainedEnergy: values.prefix(3).reduce(0) { $0 + $1 * $1 } / total,
                                       relativeError: (difference / total).squareRoot(), policy: "rank", policyParameter: 3,
                                       method: "gesdd-f32+refit", singularValues: values)
            var moved = candidate
            moved.layers[0].operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: activation, form: form,
                                                          geometry: geometry, factorization: record)
            return try #require(try LayerFidelity.compare(candidate: moved, reference: reference).first)
        }
        let honest = try layer(sigma)
        #expect(honest.agreesWithRecord == true, "\(honest.recordDisagreement ?? "")")
        // The other form's spectrum (another matrix of the same kernel, same total energy) is not this record's.
        let otherForm: ConvFactorizationForm = form == .channel ? .spatial : .channel
        let (otherRows, otherColumns) = form == .channel ? (12, 10) : (24, 5)
        let other = try SVD.singularValues(of: try LayerFidelity.recordMatrix(kernel, shape: [3, 2, 4, 5], form: otherForm, rows: otherRows,
                                                                              columns: otherColumns, layer: "conv"), precision: .double)
        let wrong = try layer(Array(other.prefix(min(rows, columns))) + [Double](repeating: 0, count: max(0, min(rows, columns) - other.count)))
        #expect(wrong.agreesWithRecord == false, "the \(otherForm.name) form's spectrum was accepted for a \(form.name) record")
    }

    /// `count` orthonormal columns of length `length` (Gram–Schmidt on seeded random vectors), column-major.
    static func orthonormalColumns(_ length: Int, _ count: Int, _ rng: inout SeededGenerator) -> [[Double]] {
        var columns: [[Double]] = []
        while columns.count < count {
            var v = (0..<length).map { _ in Double(rng.nextSymmetricFloat()) }
            for c in columns {
                let dot = zip(v, c).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<length { v[i] -= dot * c[i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-6 { columns.append(v.map { $0 / norm }) }
        }
        return columns
    }

    /// W (24 × 12) with the known singular values `sigma`, and the factors of its rank-4 truncation stored as
    /// `dtype` codes (clipped scales, `zeroPoints` or not) or, for `.float32`, as floats: what a plain
    /// `--policy rank:4 --factor-dtype …` conversion writes, with its record (`energy` and `values` as given, the
    /// error measured from the stored factors).
    static func truncation(dtype: DType, zeroPoints: Bool, energy: Double? = nil, singularValues: [Double]? = nil)
        -> (candidate: Model, reference: Model, energy: Double, storedEnergy: Double) {
        var rng = SeededGenerator(seed: 21)
        let (rows, columns, rank) = (24, 12, 4)
        let sigma = [6.0, 5, 4, 3.5, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5]
        let left = orthonormalColumns(rows, columns, &rng), right = orthonormalColumns(columns, columns, &rng)
        var w = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns {
            w[i * columns + j] = Float((0..<columns).reduce(0.0) { $0 + left[$1][i] * sigma[$1] * right[$1][j] })
        } }
        var us = [Float](repeating: 0, count: rows * rank), vt = [Float](repeating: 0, count: rank * columns)
        for i in 0..<rows { for r in 0..<rank { us[i * rank + r] = Float(left[r][i] * sigma[r]) } }
        for r in 0..<rank { for j in 0..<columns { vt[r * columns + j] = Float(right[r][j]) } }
        func stored(_ values: [Float], _ shape: [Int]) -> Tensor {
            guard dtype == .int8 || dtype == .int4 else { return Tensor(shape: shape, floats: values, dtype: dtype) }
            return Tensor(quantized: QuantizedValues.rounding(values, shape: shape, dtype: dtype, scaleDType: .float16, clipSearch: true,
                                                              zeroPoints: zeroPoints))
        }
        let usTensor = stored(us, [rows, rank]), vtTensor = stored(vt, [rank, columns])
        let a = usTensor.floats(), b = vtTensor.floats()
        var difference = 0.0, norm = 0.0
        for i in 0..<rows { for j in 0..<columns {
            let v = (0..<rank).reduce(0.0) { $0 + Double(a[i * rank + $1]) * Double(b[$1 * columns + j]) }
            difference += (v - Double(w[i * columns + j])) * (v - Double(w[i * columns + j]))
            norm += Double(w[i * columns + j]) * Double(w[i * columns + j])
        } }
        let truncationEnergy = sigma.prefix(rank).reduce(0) { $0 + $1 * $1 } / sigma.reduce(0) { $0 + $1 * $1 }
        let record = Factorization(inFeatures: rows, outFeatures: columns, rank: rank, retainedEnergy: energy ?? truncationEnergy,
                                   relativeError: (difference / norm).squareRoot(), policy: "rank", policyParameter: Double(rank),
                                   method: "gesdd-f32", singularValues: singularValues ?? sigma)
        let input = InputSpec(shape: [rows])
        let candidate = Model(name: "c", input: input, layers: [
            Layer(name: "d", operation: .factorizedDense(us: usTensor, vt: vtTensor, bias: nil, activation: .linear, factorization: record)),
        ])
        let reference = Model(name: "r", input: input, layers: [
            Layer(name: "d", operation: .dense(kernel: Tensor(shape: [rows, columns], floats: w), bias: nil, activation: .linear)),
        ])
        return (candidate, reference, truncationEnergy, 1 - difference / norm)
    }

    @Test("a plain truncation stored as integer codes agrees with its record: the recorded energy is the truncation's, 1 − e² of the rounded factors is below it",
          arguments: [(DType.int4, false), (.int4, true), (.int8, false), (.int8, true)])
    func integerCodes(dtype: DType, zeroPoints: Bool) throws {
        let honest = Self.truncation(dtype: dtype, zeroPoints: zeroPoints)
        if dtype == .int4 {
            // What made every i4 file fail verify: rounding moves 1 − e² well past the energy tolerance.
            #expect(honest.storedEnergy < honest.energy && !LayerFidelity.agrees(honest.storedEnergy, honest.energy),
                    "energy \(honest.energy), stored \(honest.storedEnergy)")
        }
        let layer = try #require(try LayerFidelity.compare(candidate: honest.candidate, reference: honest.reference).first)
        #expect(layer.agreesWithRecord == true, "\(layer.recordDisagreement ?? "")")
        #expect(Verifier.layerChecks(minEnergy: nil, layers: [layer]).isEmpty)

        // A record claiming less than the stored factors keep (rank 2's energy): no rank-4 matrix beats the truncation.
        let rank2 = (36.0 + 25) / [6.0, 5, 4, 3.5, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5].reduce(0) { $0 + $1 * $1 }
        let understated = Self.truncation(dtype: dtype, zeroPoints: zeroPoints, energy: rank2)
        let low = try #require(try LayerFidelity.compare(candidate: understated.candidate, reference: understated.reference).first)
        #expect(low.agreesWithRecord == false)
        #expect(low.recordDisagreement?.contains("no rank-4 matrix can exceed") == true, "\(low.recordDisagreement ?? "")")
        // A record claiming more than its own spectrum keeps of the reference's kernel.
        let overstated = Self.truncation(dtype: dtype, zeroPoints: zeroPoints, energy: min(1, honest.energy + 0.05))
        let high = try #require(try LayerFidelity.compare(candidate: overstated.candidate, reference: overstated.reference).first)
        #expect(high.agreesWithRecord == false)
        let check = try #require(Verifier.layerChecks(minEnergy: nil, layers: [high]).first)
        #expect(check.name == "metadata d" && !check.passed && check.detail.contains("singular values keep"), "\(check.detail)")
        // Singular values that are not the reference kernel's (scaled up along with nothing else).
        let otherSpectrum = Self.truncation(dtype: dtype, zeroPoints: zeroPoints,
                                            singularValues: [6.0, 5, 4, 3.5, 1.2, 1.1, 1, 0.9, 0.8, 0.7, 0.6, 0.5].map { $0 * 1.1 })
        #expect(try LayerFidelity.compare(candidate: otherSpectrum.candidate, reference: otherSpectrum.reference).first?.agreesWithRecord == false)
    }

    @Test("float factors of a plain truncation are still held to 1 − e² both ways")
    func floatFactorsExact() throws {
        let honest = Self.truncation(dtype: .float32, zeroPoints: false)
        #expect(try LayerFidelity.compare(candidate: honest.candidate, reference: honest.reference).first?.agreesWithRecord == true)
        let overstated = Self.truncation(dtype: .float32, zeroPoints: false, energy: honest.energy + 0.01)
        let layer = try #require(try LayerFidelity.compare(candidate: overstated.candidate, reference: overstated.reference).first)
        #expect(layer.agreesWithRecord == false && layer.recordDisagreement?.contains("plain truncation") == true)
    }

    @Test("plain and depthwise convolutions are compared too; a convolution against a dense layer of the same name is refused")
    func plainAndMismatched() throws {
        var rng = SeededGenerator(seed: 3)
        let input = InputSpec(shape: [5, 5, 2], layout: .hwc)
        let conv = Self.random([3, 3, 2, 4], &rng), depthwise = Self.random([3, 3, 4, 2], &rng)
        let model = Model(name: "m", input: input, layers: [
            Layer(name: "c", operation: .conv2D(kernel: conv, bias: nil, activation: .linear, geometry: ConvGeometry(padding: .same))),
            Layer(name: "d", operation: .depthwiseConv2D(kernel: depthwise, bias: nil, activation: .linear, geometry: ConvGeometry(padding: .same))),
        ])
        let layers = try LayerFidelity.compare(candidate: model, reference: model)
        #expect(layers.map(\.kind) == ["conv2d", "depthwise_conv2d"])
        #expect(layers.map(\.relativeError) == [0, 0])
        #expect(layers[0].inFeatures == 18 && layers[0].outFeatures == 4 && layers[1].inFeatures == 9 && layers[1].outFeatures == 8)
        #expect(layers.allSatisfy { $0.rank == nil && $0.form == nil && $0.agreesWithRecord == nil })
        #expect(layers[1].shapeText == "3×3×4 depthwise, ×2")

        let dense = Model(name: "d", input: InputSpec(shape: [18]), layers: [
            Layer(name: "c", operation: .dense(kernel: Self.random([18, 4], &rng), bias: nil, activation: .linear)),
        ])
        #expect(throws: VerificationError.self) { try LayerFidelity.compare(candidate: model, reference: dense) }
        do {
            _ = try LayerFidelity.compare(candidate: model, reference: dense)
        } catch let error as VerificationError {
            #expect(error.kind == .layerMismatch && error.message.contains("'c' is a conv2d layer but the reference's is a dense layer"))
        }
    }

    @Test("halves whose shapes do not fit together are an error, not a trap")
    func badHalves() {
        var rng = SeededGenerator(seed: 4)
        #expect(throws: VerificationError.self) {
            try LayerFidelity.convolutionKernel(first: Self.random([3, 3, 2, 4], &rng), second: Self.random([1, 1, 5, 4], &rng), form: .channel)
        }
        #expect(throws: VerificationError.self) {
            try LayerFidelity.convolutionKernel(first: Self.random([3, 3, 2, 4], &rng), second: Self.random([1, 3, 4, 4], &rng), form: .spatial)
        }
    }

    @Test("two mapped files compared one layer at a time give what the loaded models give")
    func mappedFiles() throws {
        var rng = SeededGenerator(seed: 4)
        let (convCandidate, convReference, _) = Self.pair(form: .channel, perturbation: 0.05)
        // Beside the convolution: a dense layer in both, one only in the reference, and a weightless layer.
        let dense = Layer(name: "dense", operation: .dense(kernel: Self.random([5, 3], &rng), bias: nil, activation: .linear))
        let perturbed = Layer(name: "dense", operation: .dense(kernel: Self.random([5, 3], &rng), bias: nil, activation: .linear))
        var candidate = convCandidate, reference = convReference
        candidate.layers += [Layer(name: "pool", operation: .globalPool2D(.average)), dense]
        reference.layers += [Layer(name: "extra", operation: .activation(.relu)), Layer(name: "pool", operation: .globalPool2D(.average)), perturbed]
        let folder = NSTemporaryDirectory() + "lrm-fidelity-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try ContainerWriter.write(candidate, to: folder + "/c.lrm")
        try ContainerWriter.write(reference, to: folder + "/r.lrm")
        let loaded = try LayerFidelity.compare(candidate: try ContainerFile(path: folder + "/c.lrm").loadModel(),
                                               reference: try ContainerFile(path: folder + "/r.lrm").loadModel())
        let mapped = try LayerFidelity.compare(candidate: MappedModel(try ContainerFile(path: folder + "/c.lrm")),
                                               reference: MappedModel(try ContainerFile(path: folder + "/r.lrm")))
        #expect(loaded.count == 2)
        #expect(mapped.map(\.name) == loaded.map(\.name))
        #expect(mapped.map(\.relativeError) == loaded.map(\.relativeError))
        #expect(mapped.map(\.storedBytes) == loaded.map(\.storedBytes))
        #expect(loaded.allSatisfy { $0.relativeError > 0 })
    }
}

@Suite("Reference singular values for verify's record check")
struct ReferenceSpectrumTests {
    /// The comparison's tolerance for a singular value (``LayerFidelity/recordDisagreement``).
    static func within(_ a: [Double], _ b: [Double]) -> Bool {
        guard a.count == b.count, let largest = b.first else { return false }
        return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * largest + 1e-5 * $1 }
    }

    @Test("the Gram-matrix singular values verify uses agree with dgesdd's, far inside the record check's tolerance, for tall, wide, ill-conditioned and rank-deficient kernels",
          arguments: [(300, 40), (40, 300), (64, 64)])
    func gramAgreesWithGesdd(rows: Int, columns: Int) throws {
        var rng = SeededGenerator(seed: UInt64(rows * 1000 + columns))
        let random = try Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in rng.nextSymmetricFloat() })
        // Singular values 1 … 1e-6 (and zeros): A = U·diag(s)·Vᵀ from the random matrix's own singular vectors.
        let svd = try SVD.compute(random, precision: .double)
        let r = min(rows, columns)
        let s = (0..<r).map { $0 >= r - 3 ? 0 : pow(10, -6 * Double($0) / Double(r - 4)) }
        let scaled = try svd.u.scalingColumns(by: s.map { Float($0) })
        let graded = try Matrix.product(scaled, svd.vt)
        for matrix in [random, graded] {
            let reference = try SVD.singularValues(of: matrix, precision: .double)
            let values = try LayerFidelity.referenceSingularValues(matrix)
            #expect(values.count == r && Self.within(values, reference), "\(rows)×\(columns): \(values.prefix(4)) vs \(reference.prefix(4))")
        }
    }
}

extension LayerFidelityTests {
    @Test("conversion.from_stored_rounding: entries GROUP SCALE SCHEME NAME read back as written (a name with spaces kept whole); malformed entries skipped")
    func storedCodesLayouts() throws {
        let layouts = ["dense 2": StoredCodesLayout(groupSize: 16, scaleDType: .float32, zeroPoints: true),
                       "d": StoredCodesLayout(groupSize: 128, scaleDType: .float16, zeroPoints: false)]
        let value = Factorization.fromStoredLayoutsValue(layouts)
        #expect(value == .strings(["128 f16 symmetric d", "16 f32 asymmetric dense 2"]))
        #expect(Factorization.fromStoredLayouts(in: [MetadataKey.conversionFromStoredRounding: value]) == layouts)
        let bad: MetadataValue = .strings(["0 f16 symmetric a", "16 bf16 symmetric b", "16 f16 zero c", "016 f16 symmetric d", "16 f16 symmetric", "x f16 symmetric e"])
        #expect(Factorization.fromStoredLayouts(in: [MetadataKey.conversionFromStoredRounding: bad]).isEmpty)
        #expect(layouts["dense 2"]?.description(rows: 64) == "one f32 scale per 16 rows of a column, with zero points")
        #expect(layouts["d"]?.description(rows: 128) == "one f16 scale per column, symmetric")
    }
}

@Suite("Layer fidelity of transposed convolutions (format 1.5)")
struct TransposedFidelityTests {
    static func model(_ geometry: TransposedGeometry, activation: Activation = .relu) -> Model {
        var rng = SeededGenerator(seed: 3)
        let kernel = LayerFidelityTests.random([3, 3, 2, 2], &rng)
        return Model(name: "t", input: InputSpec(shape: [2, 3, 2], layout: .hwc), layers: [
            Layer(name: "up", operation: .conv2DTranspose(kernel: kernel, bias: nil, activation: activation, geometry: geometry)),
        ])
    }

    @Test("a conv2d_transpose is compared with the reference's by its kernel, and its strides, dilation, crop and output size are checked: another geometry is an operation mismatch naming both")
    func geometry() throws {
        let keras = TransposedGeometry(strideH: 2, strideW: 2, cropTop: 0, cropLeft: 0, outputH: 5, outputW: 7)
        let same = try LayerFidelity.compare(candidate: Self.model(keras), reference: Self.model(keras))
        #expect(same.count == 1 && same[0].operationMismatch == nil)
        var cropped = keras
        (cropped.cropTop, cropped.outputH) = (1, 4)
        let other = try LayerFidelity.compare(candidate: Self.model(cropped), reference: Self.model(keras))
        #expect(other.first?.operationMismatch == "strides 2×2, dilation 1×1, crop 1, 0, output 4×7, the reference's strides 2×2, "
                + "dilation 1×1, crop 0, 0, output 5×7")
        let activated = try LayerFidelity.compare(candidate: Self.model(keras, activation: .tanh), reference: Self.model(keras))
        #expect(activated.first?.operationMismatch == "activation tanh, the reference's relu")
    }
}
