import Foundation

/// A plain-text table with columns padded to their widest cell; numbers right-aligned.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns to right-align.
    var rightAligned: Set<Int> = []

    init(_ headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "  ") -> String {
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell -> String in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }
            return indent + padded.joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}

/// Number formatting shared by every command.
enum Format {
    /// 1234567 → "1,234,567".
    static func count(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, ch) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (value < 0 ? "-" : "") + String(out.reversed())
    }

    /// Bytes with a binary unit: "54.2 KiB".
    static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = Double(value)
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 { scaled /= 1024; unit += 1 }
        return unit == 0 ? "\(value) B" : fixed(scaled, 1) + " " + units[unit]
    }

    /// A number with `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }

    static func ratio(_ value: Double) -> String { fixed(value, 2) + "×" }

    /// A change in percentage points with its sign, "+0.50 pp" or "-1.91 pp" (no change reads +0.00, never -0.00).
    static func signedPoints(_ fraction: Double) -> String {
        String(format: "%+.2f pp", fraction * 100 + 0.0)
    }
}
