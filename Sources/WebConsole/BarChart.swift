import Foundation

/// A bar chart as inline SVG, drawn on the server (no chart library, nothing fetched): each bar
/// is a link to the list of tickets it counts, and has its figure as a tooltip.
struct BarChart {
    struct Bar {
        let label: String
        let value: Int
        let link: String
        /// A CSS class for the bar's colour (`ok`, `soon`, `late`, or empty for the default).
        var tone = ""
    }

    let bars: [Bar]
    /// What the chart shows, for screen readers.
    let title: String
    var width = 720
    var height = 180

    /// The chart's SVG markup; every text in it is escaped.
    var svg: String {
        let (top, bottom, left) = (12, 34, 36)
        let plotHeight = Double(height - top - bottom)
        let maximum = max(1, bars.map(\.value).max() ?? 1)
        let slot = Double(width - left) / Double(max(bars.count, 1))
        let barWidth = min(48, max(2, slot * 0.7))
        // Label every bar when there is room; otherwise about eight of them.
        let labelEvery = slot >= 40 ? 1 : max(1, Int((Double(bars.count) / 8).rounded(.up)))
        var parts = [
            #"<svg class="chart" viewBox="0 0 \#(width) \#(height)" role="img" aria-label="\#(Self.escaped(title))" xmlns="http://www.w3.org/2000/svg">"#,
            #"<text class="axis" x="\#(left - 4)" y="\#(top + 4)" text-anchor="end">\#(maximum)</text>"#,
            #"<line class="axis" x1="\#(left)" y1="\#(height - bottom)" x2="\#(width)" y2="\#(height - bottom)"/>"#,
        ]
        for (index, bar) in bars.enumerated() {
            let barHeight = plotHeight * Double(bar.value) / Double(maximum)
            let x = Double(left) + Double(index) * slot + (slot - barWidth) / 2
            let y = Double(height - bottom) - barHeight
            parts.append(
                #"<a href="\#(Self.escaped(bar.link))"><rect class="bar \#(bar.tone)" x="\#(Self.number(x))" y="\#(Self.number(y))" width="\#(Self.number(barWidth))" height="\#(Self.number(max(barHeight, 1)))"><title>\#(Self.escaped(bar.label)): \#(bar.value)</title></rect></a>"#
            )
            // Every labelEvery-th bar, and the last one when that leaves room beside the one before.
            let last = index == bars.count - 1 && index % labelEvery >= labelEvery / 2
            if index % labelEvery == 0 || last {
                parts.append(
                    #"<text class="label" x="\#(Self.number(x + barWidth / 2))" y="\#(height - bottom + 14)" text-anchor="middle">\#(Self.escaped(bar.label))</text>"#
                )
            }
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// `text` safe inside an SVG element or a quoted attribute.
    static func escaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
