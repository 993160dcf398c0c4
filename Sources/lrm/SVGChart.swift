import Foundation

/// A small line/scatter chart rendered as inline SVG (no scripts, no external assets).
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
        var markers = false
        var line = true
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series] = []
    var logY = false
    var logX = false
    /// Vertical marker lines: (x, label).
    var verticalMarkers: [(Double, String)] = []
    /// Horizontal marker lines: (y, label).
    var horizontalMarkers: [(Double, String)] = []
    var width = 600.0
    var height = 300.0
    var yRange: ClosedRange<Double>?
    /// Put the vertical markers' labels at the bottom of the plot (when the curve runs along the top).
    var markerLabelsAtBottom = false
    /// Room left on each side of the data (and markers), as a fraction of their span (in log space on a log axis), so
    /// that the first and last points do not sit on the plot's edges: x, and y when there is no `yRange`.
    var xMargin = 0.0
    var yMargin = 0.0

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// "Nice" tick values covering lo…hi.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi + step * 1e-9 { values.append(v); v += step }
        return values
    }

    /// Ticks for a logarithmic axis over lo…hi (both positive): 1, 2 and 5 of each decade when at least three of them
    /// fall inside and there are at most `maxCount`; the powers of ten alone (every n-th when there are too many) when
    /// the range spans more decades than that; evenly spaced "nice" values (``ticks(_:_:count:)``) when it is too
    /// narrow for three (compression ratios from 1 to 1.4: 1, 1.1, 1.2, 1.3, 1.4, not a lone 1).
    static func logTicks(_ lo: Double, _ hi: Double, maxCount: Int = 8) -> [Double] {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let first = Int(floor(log10(lo))), last = Int(ceil(log10(hi)))
        func inside(_ v: Double) -> Bool { v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) }
        let oneTwoFive = (first...last).flatMap { e in [1.0, 2, 5].map { $0 * pow(10, Double(e)) } }.filter(inside)
        if oneTwoFive.count >= 3 && oneTwoFive.count <= maxCount { return oneTwoFive }
        if oneTwoFive.count > maxCount {
            let decades = (first...last).map { pow(10, Double($0)) }.filter(inside)
            let every = (decades.count + maxCount - 1) / maxCount
            return stride(from: 0, to: decades.count, by: every).map { decades[$0] }
        }
        let even = ticks(lo, hi)
        return (even.count >= 3 ? even : ticks(lo, hi, count: 8)).filter { $0 > 0 }
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e4 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
        if v == v.rounded() { return String(Int(v)) }
        return String(format: "%g", (v * 1000).rounded() / 1000)
    }

    func render() -> String {
        // A legend, when there is one, sits outside the plot on the right so it never hides data.
        let legendWidth = series.count > 1 ? 16.0 + 7.0 * Double(series.map(\.name.count).max() ?? 0) : 0
        let left = 64.0, right = 16.0 + legendWidth, top = 34.0, bottom = 48.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) && (!logX || $0.x > 0) }
        guard !all.isEmpty else { return "<p>(no data for \(SVGChart.escape(title)))</p>" }
        var xLo = all.map(\.x).min()!, xHi = all.map(\.x).max()!
        if xHi == xLo { xHi = xLo + 1 }
        for (x, _) in verticalMarkers { xLo = min(xLo, x); xHi = max(xHi, x) }
        var yLo: Double, yHi: Double
        if let yRange { (yLo, yHi) = (yRange.lowerBound, yRange.upperBound) } else {
            yLo = all.map(\.y).min()!; yHi = all.map(\.y).max()!
            for (y, _) in horizontalMarkers { yLo = min(yLo, y); yHi = max(yHi, y) }
        }
        if logY { yLo = pow(10, floor(log10(yLo))); yHi = pow(10, ceil(log10(yHi))) }
        if logX { xLo = max(xLo, 1e-12); xHi = max(xHi, xLo * 1.0001) }
        if yHi == yLo { yHi = yLo + 1 }
        if xMargin > 0 {
            if logX {
                let span = log10(xHi) - log10(xLo)
                (xLo, xHi) = (xLo / pow(10, xMargin * span), xHi * pow(10, xMargin * span))
            } else {
                let span = xHi - xLo
                (xLo, xHi) = (xLo - xMargin * span, xHi + xMargin * span)
            }
        }
        if yMargin > 0, yRange == nil, !logY {
            let span = yHi - yLo
            (yLo, yHi) = (yLo - yMargin * span, yHi + yMargin * span)
        }
        func px(_ x: Double) -> Double {
            logX ? left + (log10(x) - log10(xLo)) / (log10(xHi) - log10(xLo)) * plotW : left + (x - xLo) / (xHi - xLo) * plotW
        }
        func py(_ y: Double) -> Double {
            let t = logY ? (log10(y) - log10(yLo)) / (log10(yHi) - log10(yLo)) : (y - yLo) / (yHi - yLo)
            return top + (1 - t) * plotH
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<text x=\"\(left)\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(SVGChart.escape(title))</text>"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"#fafafa\" stroke=\"#999\"/>"
        let xTicks = logX ? SVGChart.logTicks(xLo, xHi, maxCount: 10) : SVGChart.ticks(xLo, xHi)
        for t in xTicks {
            let x = px(t)
            svg += "<line x1=\"\(x)\" y1=\"\(top + plotH)\" x2=\"\(x)\" y2=\"\(top + plotH + 4)\" stroke=\"#666\"/>"
            svg += "<text x=\"\(x)\" y=\"\(top + plotH + 16)\" text-anchor=\"middle\">\(SVGChart.label(t))</text>"
        }
        let yTicks = logY ? SVGChart.logTicks(yLo, yHi, maxCount: 7) : SVGChart.ticks(yLo, yHi)
        for t in yTicks {
            let y = py(t)
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(SVGChart.label(t))</text>"
        }
        svg += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(SVGChart.escape(xLabel))</text>"
        svg += "<text transform=\"translate(14,\(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(SVGChart.escape(yLabel))</text>"
        for (x, text) in verticalMarkers {
            svg += "<line x1=\"\(px(x))\" y1=\"\(top)\" x2=\"\(px(x))\" y2=\"\(top + plotH)\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>"
            let anchor = px(x) > left + plotW * 0.7 ? "end" : "start"
            let dx = anchor == "end" ? -4.0 : 4.0
            let labelY = markerLabelsAtBottom ? top + plotH - 6 : top + 12
            svg += "<text x=\"\(px(x) + dx)\" y=\"\(labelY)\" fill=\"#d62728\" text-anchor=\"\(anchor)\">\(SVGChart.escape(text))</text>"
        }
        for (y, text) in horizontalMarkers where (!logY || y > 0) {
            svg += "<line x1=\"\(left)\" y1=\"\(py(y))\" x2=\"\(left + plotW)\" y2=\"\(py(y))\" stroke=\"#2ca02c\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(left + plotW - 4)\" y=\"\(py(y) + 14)\" fill=\"#2ca02c\" text-anchor=\"end\">\(SVGChart.escape(text))</text>"
        }
        for s in series {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) && (!logX || $0.x > 0) }
            if s.line, pts.count > 1 {
                let path = pts.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\" points=\"\(path)\"/>"
            }
            if s.markers || pts.count == 1 {
                for p in pts { svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"/>", px(p.x), py(p.y), s.color) }
            }
        }
        if series.count > 1 {
            var y = top + 4
            let x = left + plotW + 12
            for s in series {
                svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"10\" height=\"10\" fill=\"\(s.color)\"/>"
                svg += "<text x=\"\(x + 14)\" y=\"\(y + 9)\">\(SVGChart.escape(s.name))</text>"
                y += 15
            }
        }
        svg += "</svg>"
        return svg
    }
}
