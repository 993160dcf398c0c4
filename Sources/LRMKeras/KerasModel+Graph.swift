import LRMFormat

/// Mapping a functional model with branches and merges (``KerasGraph``) onto lrm's one ordered list of layers, with
/// format 1.4's slots: the layers in a topological order (``schedule(_:readers:isMerge:)``); after a layer whose output is needed later than by
/// the next layer, a `store` of it in a slot; before a layer whose input is not the current sample, a `load` of that
/// input's slot; a merge becomes a `merge` of the current sample (its first input, or for an order-free merge
/// whichever input is current) with the slots of the others. Slot numbers are reused once their last reader has run.
///
/// Each layer is mapped as in a chain (`add(_:next:)`), so a BatchNormalization folds into the convolution or Dense
/// just before it exactly when that layer's output goes to it alone (otherwise a `store` stands between them and it
/// stays a scale-shift); it is never folded into a later layer (the next layer in Keras's list may be on another branch).
/// Slots hold samples in Keras's own shapes: after 1-D layers (run as 2-D over a height of 1) the `[1, steps, channels]`
/// view is reshaped back before a `store` or a `merge`, and dropped at a `load`.
extension ContainerModelBuilder {
    mutating func addGraph(_ graph: KerasGraph) throws(KerasImportError) {
        let kerasLayers = model.layers
        guard graph.inputs.count == kerasLayers.count, graph.inputs.joined().allSatisfy(kerasLayers.indices.contains),
              kerasLayers.indices.contains(graph.output) else {
            throw KerasImportError(.invalidConfig, file: source, "the model's connections do not match its \(kerasLayers.count) layers")
        }
        func isMerge(_ index: Int) -> KerasMerge? {
            if case .merge(let merge, _) = kerasLayers[index].config { return merge }
            return nil
        }
        // Who reads each layer's output (a layer that takes an output twice is listed twice).
        var readers = [[Int]](repeating: [], count: kerasLayers.count)
        for (index, sources) in graph.inputs.enumerated() { for source in sources { readers[source].append(index) } }
        let order = try schedule(graph, readers: readers, isMerge: isMerge)
        var position = [Int](repeating: 0, count: kerasLayers.count)
        for (at, index) in order.enumerated() { position[index] = at }
        var lastRead = readers.map { $0.map { position[$0] }.max() ?? -1 }
        lastRead[graph.output] = Int.max
        /// Whether the output of `index` (at `at` in the order) needs a slot: read by another layer than the next one,
        /// or by the next one twice or other than as its current sample (a later input of an order-dependent merge), or
        /// it is the model's output but not the last layer.
        func needsSlot(_ index: Int, at: Int) -> Bool {
            if index == graph.output && at != order.count - 1 { return true }
            guard at + 1 < order.count else { return false }
            let next = order[at + 1]
            guard readers[index].allSatisfy({ $0 == next }) else { return true }
            guard readers[index].count == 1 else { return readers[index].count > 1 }
            if graph.inputs[next].first == index { return false }
            return isMerge(next)?.isCommutative != true
        }
        var slotOf: [Int: Int] = [:]
        var free: [Int] = []
        var nextSlot = 0
        var current: Int?
        for (at, index) in order.enumerated() {
            let layer = kerasLayers[index]
            if layer.config.dataFormat == .channelsFirst {
                throw fail(layer, "channels-first layers in a model with branches are not imported; save the model channels-last")
            }
            var sources = graph.inputs[index]
            if let merge = isMerge(index), merge.isCommutative, let current, let first = sources.firstIndex(of: current) {
                sources.swapAt(0, first)
            }
            if let first = sources.first, first != current {
                // The current samples are dropped: a 1-D layers' [1, steps, channels] view of them needs no way back.
                sequenceView = false
                guard let slot = slotOf[first] else {
                    throw KerasImportError(.invalidConfig, file: source, location: "layer '\(layer.name)' (\(layer.className))",
                                           "its input '\(kerasLayers[first].name)' was not kept for it")
                }
                layers.append(Layer(name: uniqueName("\(layer.name)/load"), operation: .load(slot: slot)))
            }
            if case let .merge(merge, axis) = layer.config {
                // Slots hold Keras's own shapes ([steps, channels] after 1-D layers): the current samples too.
                if sequenceView { leaveSequence(before: layer.name) }
                if merge == .concatenate {
                    let rank = currentShape().count
                    guard axis == -1 || axis == rank else {
                        throw fail(layer, "concatenates on axis \(axis), only the last axis (-1 or \(rank)) is supported")
                    }
                }
                let slots = sources.dropFirst().map { slotOf[$0] ?? -1 }
                guard !slots.contains(-1) else {
                    throw KerasImportError(.invalidConfig, file: source, location: "layer '\(layer.name)' (\(layer.className))",
                                           "an input of the merge was not kept for it")
                }
                layers.append(Layer(name: layer.name, operation: .merge(Self.mergeMode(merge), slots: slots, activation: .linear)))
            } else {
                try refuseOversizedSamples()
                try add(layer, next: [])
            }
            current = index
            // Slots whose last reader this layer was are free again.
            for source in Set(sources) where lastRead[source] == at {
                if let slot = slotOf.removeValue(forKey: source) { free.append(slot) }
            }
            if needsSlot(index, at: at) {
                if sequenceView { leaveSequence(before: uniqueName("\(layer.name)/store")) }
                let slot = free.popLast() ?? nextSlot
                if slot == nextSlot { nextSlot += 1 }
                slotOf[index] = slot
                layers.append(Layer(name: uniqueName("\(layer.name)/store"), operation: .store(slot: slot)))
            }
        }
        if current != graph.output, let slot = slotOf[graph.output] {
            layers.append(Layer(name: uniqueName("\(kerasLayers[graph.output].name)/output"), operation: .load(slot: slot)))
        }
    }

    /// The order the layers run in: a topological order that, after each layer, takes next a layer whose current sample
    /// it is (its first input, or any input of an order-free merge) when one is ready, so that chains stay together
    /// (a convolution is followed by its BatchNormalization, which then folds into it) and fewer slots are needed;
    /// otherwise the ready layer first in Keras's order. Where a layer's output goes to several such layers (a fork),
    /// a branch that ends as the first input of an order-dependent merge (`Concatenate([a, b])`'s `a`, `Subtract`'s
    /// first) runs after the others: the merge then follows it and takes it as its current sample, where running it
    /// first would store it and load it back before the merge (an extra copy of the sample).
    func schedule(_ graph: KerasGraph, readers: [[Int]], isMerge: (Int) -> KerasMerge?) throws(KerasImportError) -> [Int] {
        let count = graph.inputs.count
        /// Whether the chain from `start` (each layer the only reader of the one before) ends as the first input of an
        /// order-dependent merge.
        func endsAsFirstOfOrderedMerge(_ start: Int) -> Bool {
            var node = start
            for _ in 0..<count {
                guard readers[node].count == 1, let reader = readers[node].first else { return false }
                if let merge = isMerge(reader) { return !merge.isCommutative && graph.inputs[reader].first == node }
                node = reader
            }
            return false
        }
        var waiting = graph.inputs.map { Set($0).count }
        var ready = Set((0..<count).filter { waiting[$0] == 0 })
        var order: [Int] = []
        while order.count < count {
            let candidates = ready.sorted()
            guard var pick = candidates.first else {
                throw KerasImportError(.invalidConfig, file: source, "the model's layers take inputs in a cycle")
            }
            if let last = order.last {
                let followers = candidates.filter { candidate in
                    let inputs = graph.inputs[candidate]
                    return inputs.first == last || (isMerge(candidate)?.isCommutative == true && inputs.contains(last))
                }
                if let follower = followers.first(where: { !endsAsFirstOfOrderedMerge($0) }) ?? followers.first { pick = follower }
            }
            ready.remove(pick)
            order.append(pick)
            for reader in Set(readers[pick]) {
                waiting[reader] -= 1
                if waiting[reader] == 0 { ready.insert(reader) }
            }
        }
        return order
    }

    static func mergeMode(_ merge: KerasMerge) -> MergeMode {
        switch merge {
        case .add: .add
        case .subtract: .subtract
        case .multiply: .multiply
        case .average: .average
        case .maximum: .maximum
        case .minimum: .minimum
        case .concatenate: .concatenate
        }
    }

    /// `name`, or with a number appended when a layer is already called that (a Keras layer named `x/store`).
    func uniqueName(_ name: String) -> String {
        let taken = Set(layers.map(\.name)) .union(model.layers.map(\.name))
        guard taken.contains(name) else { return name }
        var number = 2
        while taken.contains("\(name)_\(number)") { number += 1 }
        return "\(name)_\(number)"
    }
}
