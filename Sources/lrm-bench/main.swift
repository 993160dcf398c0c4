import Foundation

// lrm-bench: benchmarks printed for the scripts in tools/ (never timed unit tests).
// Dispatch on the first argument; each benchmark family lives in its own file.
let arguments = Array(CommandLine.arguments.dropFirst())
let families = "blas, format, quant"

switch arguments.first {
case "blas":
    exit(BLASBenchmark.run(Array(arguments.dropFirst())))
case "format":
    exit(FormatBenchmark.run(Array(arguments.dropFirst())))
case "quant":
    exit(QuantBenchmark.run(Array(arguments.dropFirst())))
case "-h", "--help", "help":
    print("usage: lrm-bench <\(families)> …\n\n\(BLASBenchmark.usage)\n\(FormatBenchmark.usage)\n\(QuantBenchmark.usage)")
default:
    let problem = arguments.first.map { "unknown benchmark '\($0)'" } ?? "missing benchmark"
    FileHandle.standardError.write(Data("lrm-bench: \(problem); expected one of: \(families)\n".utf8))
    exit(64)
}
