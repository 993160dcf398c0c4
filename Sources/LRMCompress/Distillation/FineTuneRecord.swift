/// A distillation fine-tuning as the file's metadata records it (`finetune.*`).
public struct FineTuneRecord: Sendable, Equatable {
    /// Epochs run (after early stopping).
    public var epochs: Int
    /// Seed of the minibatch order.
    public var seed: UInt64
    /// Data set and split, e.g. "mnist train".
    public var data: String
    /// Training samples fine-tuned on.
    public var samples: Int
    /// The loss, e.g. "kl(T=2)·T² + 0.5·cross-entropy".
    public var loss: String
    /// Adam's step size.
    public var learningRate: Double
    /// How the step size changed over the steps ("constant", "cosine").
    public var schedule: String
    /// How the training images were varied, e.g. "shift ≤ 2 px, left-right flip" (nil: not at all).
    public var augmentation: String?
    /// How weights stored as integer codes were trained, "straight-through" (nil: no weight trained is stored as codes).
    public var rounding: String?

    public init(epochs: Int, seed: UInt64, data: String, samples: Int, loss: String, learningRate: Double, schedule: String = "constant",
                augmentation: String? = nil, rounding: String? = nil) {
        self.augmentation = augmentation
        self.rounding = rounding
        self.epochs = epochs
        self.seed = seed
        self.data = data
        self.samples = samples
        self.loss = loss
        self.learningRate = learningRate
        self.schedule = schedule
    }
}
