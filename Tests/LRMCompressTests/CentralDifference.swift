/// (loss(v + h) − loss(v − h)) / 2h for one value `v` the loss reads: `set` puts a value in its place, and `v` is put
/// back afterwards. The fine-tuning gradient tests compare each analytic gradient with this.
func centralDifference(at value: Float, step h: Float, set: (Float) -> Void, loss: () throws -> Double) rethrows -> Double {
    set(value + h)
    let plus = try loss()
    set(value - h)
    let minus = try loss()
    set(value)
    return (plus - minus) / Double(2 * h)
}
