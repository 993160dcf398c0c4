/// One step of long work, for a progress display: which phase, how far along, and a short message.
/// Phases: `read`, `calibration`, `spectra`, `factorize`, `search` (one event per candidate), `confirm` (one per
/// candidate a search re-judges on the confirmation records), `refine` (one per fine-tuned candidate of `--finetune`'s
/// refinement), `evaluation` (per batch of samples), `sweep` (per point).
public struct ProgressEvent: Sendable, Equatable {
    public var phase: String
    /// Steps done (samples, candidates, points).
    public var done: Int
    /// Steps in all, when known.
    public var total: Int?
    public var message: String

    public init(phase: String, done: Int, total: Int? = nil, message: String) {
        self.phase = phase
        self.done = done
        self.total = total
        self.message = message
    }
}

/// Receives progress events; called on the thread doing the work.
public typealias ProgressHandler = @Sendable (ProgressEvent) -> Void
