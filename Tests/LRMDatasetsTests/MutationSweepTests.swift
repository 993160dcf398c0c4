import Foundation
import Testing
@testable import LRMDatasets

/// Seeded random byte mutations of valid files: every outcome must be a clean read or a
/// `DatasetError`, never a crash, a hang or another error type.
@Suite("mutation sweep")
struct MutationSweepTests {
    static let rounds = 150

    /// Applies 1–4 random byte changes, or a truncation, to `bytes`.
    static func mutate(_ bytes: [UInt8], generator: inout SplitMix64) -> [UInt8] {
        var copy = bytes
        if generator.next(below: 5) == 0 {
            return Array(copy[..<Int(generator.next(below: UInt64(copy.count)))])
        }
        for _ in 0...generator.next(below: 4) {
            // Bias towards the header, where the interesting fields are.
            let limit = generator.next(below: 3) == 0 ? copy.count : min(copy.count, 24)
            copy[Int(generator.next(below: UInt64(limit)))] = UInt8(truncatingIfNeeded: generator.next())
        }
        return copy
    }

    /// Runs `body`; returns "ok", the `DatasetError` kind, or "foreign error …" for any other error.
    static func outcome(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "ok"
        } catch let error as DatasetError {
            return error.kind.rawValue
        } catch {
            return "foreign error \(error)"
        }
    }

    @Test("mutated IDX files (raw and gzip) never crash", arguments: [false, true])
    func idx(gzip: Bool) throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var images = TestFiles.idxImages(count: 3)
        var labels = TestFiles.idxLabels([1, 2, 3])
        if gzip {
            images = try Gzip.compress(images)
            labels = try Gzip.compress(labels)
        }
        var generator = SplitMix64(seed: gzip ? 2 : 1)
        var outcomes: [String: Int] = [:]
        let imagesURL = directory.appendingPathComponent("images")
        let labelsURL = directory.appendingPathComponent("labels")
        for round in 0..<Self.rounds {
            let mutateImages = round % 2 == 0
            try TestFiles.write(mutateImages ? Self.mutate(images, generator: &generator) : images, to: imagesURL)
            try TestFiles.write(mutateImages ? labels : Self.mutate(labels, generator: &generator), to: labelsURL)
            let result = Self.outcome {
                let dataset = try Dataset.openIDX(.mnist, split: .test, images: imagesURL, labels: labelsURL)
                try dataset.forEachBatch(size: 2, layout: .features) { _ in }
            }
            outcomes[result, default: 0] += 1
        }
        #expect(!outcomes.keys.contains { $0.hasPrefix("foreign") }, "\(outcomes)")
        #expect(outcomes.values.reduce(0, +) == Self.rounds)
        // The sweep must reach several different defects, not just one.
        #expect(outcomes.count >= 4, "\(outcomes)")
    }

    @Test("mutated CIFAR-100 files never crash")
    func cifar() throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let records = TestFiles.cifarRecords(count: 2, labelBytes: TestFiles.cifar100Labels)
        var generator = SplitMix64(seed: 3)
        let url = directory.appendingPathComponent("test.bin")
        var outcomes: [String: Int] = [:]
        for _ in 0..<Self.rounds {
            var mutated = Self.mutate(records, generator: &generator)
            // Also hit the second record's label bytes.
            if generator.next(below: 2) == 0 { mutated[min(mutated.count - 1, 3074)] = UInt8(truncatingIfNeeded: generator.next()) }
            try TestFiles.write(mutated, to: url)
            let result = Self.outcome {
                let dataset = try Dataset.openCIFAR(.cifar100, split: .test, files: [url])
                try dataset.forEachBatch(size: 1, layout: .hwc) { _ in }
            }
            outcomes[result, default: 0] += 1
        }
        #expect(!outcomes.keys.contains { $0.hasPrefix("foreign") }, "\(outcomes)")
        #expect(outcomes.count >= 3, "\(outcomes)")
    }
}
