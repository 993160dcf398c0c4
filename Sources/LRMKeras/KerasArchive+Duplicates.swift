import LRMHDF5
import LRMFormat
import ZIPFoundation

extension KerasArchive {
    /// Refuses an archive in which two members have the same name. Keras (Python's `zipfile`) reads the
    /// last of them and lrm's ZIP reader the first, so the two would load different models (a second
    /// `config.json` turned `relu` into `sigmoid` for Keras only); such an archive is never written by
    /// Keras, so it is refused rather than read either way.
    func refuseDuplicateMembers() throws(KerasImportError) {
        var seen: [String: Int] = [:]
        for entry in archive {
            seen[entry.path, default: 0] += 1
        }
        if let (name, count) = seen.filter({ $0.value > 1 }).min(by: { $0.key < $1.key }) {
            throw KerasImportError(.invalidArchive, file: path, location: escaped(name),
                                   "the archive holds \(count) members with this name (Keras would read the last, so the file is ambiguous); "
                                   + "expected each member once")
        }
    }
}
