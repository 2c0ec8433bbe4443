/// One self-contained HTML file (no scripts, no fetches): an SVG timeline
/// with a lane per thread, the first connection's sequence diagram as SVG,
/// expected vs observed per operation, the syscall summary and the text
/// timeline. Everything that came from the traced program is escaped.
public struct HTMLReport {
    let records: [TraceRecord]
    let header: TraceHeader?
    let timelineText: String

    public init(records: [TraceRecord], header: TraceHeader?, timelineText: String) {
        self.records = records
        self.header = header
        self.timelineText = timelineText
    }

    /// Escapes text for HTML and SVG content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    var calls: [SyscallInvocation] {
        records.compactMap { if case let .syscall(call) = $0 { return call }; return nil }
    }

    /// Processes' ends whose release of sockets the kernel was sampled in.
    var exits: [ProcessEvent] {
        records.compactMap { if case let .process(event) = $0, event.exitKernel != nil { return event }; return nil }
    }

    public func render() -> String {
        let e = Self.escape
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <title>sockettrace report</title>
        <style>
        body { font-family: sans-serif; margin: 2em; color: #222; }
        pre { font-size: 12px; background: #f6f6f6; padding: 1em; overflow-x: auto; }
        table { border-collapse: collapse; font-size: 13px; margin-bottom: 1.5em; }
        td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
        th { background: #eee; }
        .matched { color: #176b1c; } .proven { color: #2f6f8f; } .unverified { color: #777; } .sibling { color: #a15c00; } .extra { color: #a15c00; }
        svg text { font-family: sans-serif; font-size: 11px; }
        </style></head><body>
        <h1>sockettrace report</h1>

        """
        if let header {
            html += "<p>Command: <code>\(e(header.command.joined(separator: " ")))</code><br>"
            html += "Host \(e(header.host)), kernel \(e(header.kernelRelease)), kernel observation: \(e(header.kernelObservation))"
            if let note = header.kernelObservationNote { html += " (\(e(note)))" }
            html += "</p>\n"
        }
        html += "<h2>Timeline</h2>\n" + timelineSVG()
        if let diagram = SequenceDiagram.build(records: records, choice: nil) {
            html += "<h2>Connection #\(diagram.connection.id): \(e(diagram.connection.title))</h2>\n" + sequenceSVG(diagram)
        }
        html += "<h2>Expected vs observed kernel chains</h2>\n" + operationTable()
        html += "<h2>System calls</h2>\n" + summaryTable()
        html += "<h2>Trace</h2>\n<pre>" + e(timelineText) + "</pre>\n</body></html>\n"
        return html
    }

    /// Lanes per thread; a bar per syscall, coloured by its verdict, with
    /// the call's text as its tooltip.
    func timelineSVG() -> String {
        let e = Self.escape
        let calls = self.calls
        guard let first = calls.map(\.startTime).min(), let last = calls.compactMap(\.endTime).max() else { return "<p>No system calls.</p>\n" }
        var lanes: [Int32] = []
        for call in calls where !lanes.contains(call.tid) { lanes.append(call.tid) }
        let width = 1000.0, left = 130.0, laneHeight = 26.0
        let span = max(Double(last.nanoseconds &- first.nanoseconds), 1)
        func x(_ time: MonotonicTime) -> Double { left + (width - left - 10) * Double(time.nanoseconds &- first.nanoseconds) / span }
        var names: [Int32: String] = [:]
        for record in records {
            if case let .process(event) = record, let name = event.name, event.kind != .exited { names[event.tid] = name }
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(Double(lanes.count) * laneHeight + 30))\">\n"
        for (index, tid) in lanes.enumerated() {
            let y = Double(index) * laneHeight + 5
            svg += "<text x=\"4\" y=\"\(y + 15)\">\(e(names[tid] ?? "?"))[\(tid)]</text>\n"
            svg += "<line x1=\"\(left)\" y1=\"\(y + 11)\" x2=\"\(width - 10)\" y2=\"\(y + 11)\" stroke=\"#ddd\"/>\n"
        }
        for call in calls {
            guard let lane = lanes.firstIndex(of: call.tid) else { continue }
            let y = Double(lane) * laneHeight + 5
            let start = x(call.startTime), end = x(call.endTime ?? call.startTime)
            let colour: String
            switch call.kernel?.verdict {
            case .matches?: colour = "#3c9d41"
            case .unverified?: colour = "#8fae6a"
            case .extraFrames?, .differs?, .outOfOrder?: colour = "#d08a16"
            case .unrelated?: colour = "#b83b3b"
            case nil: colour = call.result?.failed == true ? "#c65353" : "#5b7fb8"
            }
            var tip = call.entryText + call.exitText + ") = " + call.returnText
            let userChain = TextTimeline.userChain(call)
            if !userChain.isEmpty { tip += "\nin " + userChain.joined(separator: " → ") }
            if let operation = call.kernel?.operation {
                // Only events sampled (a listen's state change) is not "not observed" (audit 27 M4).
                let unaligned = call.kernel?.source == .observed ? " (no chain sampled on its path, only events, whose stacks are not aligned; the model's chain unverified)"
                    : " (not observed; the model's chain unverified)"
                tip += "\n" + operation + (call.kernel?.verdict.map { ": " + $0.rawValue } ?? unaligned)
            }
            svg += "<rect x=\"\(String(format: "%.1f", start))\" y=\"\(y + 3)\" width=\"\(String(format: "%.1f", max(end - start, 2)))\" height=\"16\" fill=\"\(colour)\"><title>\(e(tip))</title></rect>\n"
        }
        // The program's own functions (--functions): a thin bar over the calls made in them, deeper ones lower.
        for call in FunctionSpan.spans(in: records) where !call.inherited {
            guard let event = call.exit, let lane = lanes.firstIndex(of: event.tid) else { continue }
            let entry = call.entry
            let y = Double(lane) * laneHeight + 1 + Double(min(entry.depth, 3))
            let start = max(left, x(entry.time)), end = min(width - 10, x(event.time))
            svg += "<rect x=\"\(String(format: "%.1f", start))\" y=\"\(y)\" width=\"\(String(format: "%.1f", max(end - start, 1)))\" height=\"1.5\" fill=\"#2a8a9a\"><title>\(e(entry.text + " → " + event.text))</title></rect>\n"
        }
        let seconds = span / 1e9
        svg += "<text x=\"\(left)\" y=\"\(Double(lanes.count) * laneHeight + 22)\">0</text>"
        svg += "<text x=\"\(width - 80)\" y=\"\(Double(lanes.count) * laneHeight + 22)\">\(e(TextTimeline.duration(seconds)))</text>\n"
        return svg + "</svg>\n"
    }

    func sequenceSVG(_ diagram: SequenceDiagram) -> String {
        let e = Self.escape
        let columns: [SequenceDiagram.Participant: Double] = [.client: 110, .clientKernel: 370, .serverKernel: 630, .server: 890]
        let rowHeight = 24.0
        let height = Double(diagram.steps.count) * rowHeight + 70
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"\(Int(height))\">\n"
        svg += "<defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"8\" refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333\"/></marker></defs>\n"
        for participant in SequenceDiagram.Participant.allCases {
            let x = columns[participant]!
            svg += "<rect x=\"\(x - 90)\" y=\"5\" width=\"180\" height=\"24\" fill=\"#eef\" stroke=\"#557\"/>"
            svg += "<text x=\"\(x)\" y=\"21\" text-anchor=\"middle\">\(e(diagram.names[participant] ?? participant.rawValue))</text>\n"
            svg += "<line x1=\"\(x)\" y1=\"29\" x2=\"\(x)\" y2=\"\(height - 5)\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n"
        }
        for (index, step) in diagram.steps.enumerated() {
            let y = 50 + Double(index) * rowHeight
            switch step {
            case let .message(from, to, text, reply, _):
                let x1 = columns[from]!, x2 = columns[to]!
                svg += "<line x1=\"\(x1)\" y1=\"\(y)\" x2=\"\(x2)\" y2=\"\(y)\" stroke=\"#333\" marker-end=\"url(#arrow)\"\(reply ? " stroke-dasharray=\"5 3\"" : "")/>"
                svg += "<text x=\"\((x1 + x2) / 2)\" y=\"\(y - 4)\" text-anchor=\"middle\">\(e(text))</text>\n"
            case let .note(over, text):
                let xs = over.map { columns[$0]! }
                let x = (xs.min()! + xs.max()!) / 2
                svg += "<rect x=\"\(x - 130)\" y=\"\(y - 14)\" width=\"260\" height=\"18\" fill=\"#ffd\" stroke=\"#cc9\"/>"
                svg += "<text x=\"\(x)\" y=\"\(y - 1)\" text-anchor=\"middle\">\(e(text))</text>\n"
            case let .delay(text):
                svg += "<text x=\"500\" y=\"\(y - 1)\" text-anchor=\"middle\" fill=\"#888\">… \(e(text)) …</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    func operationTable() -> String {
        let e = Self.escape
        let summaries = OperationSummary.summarize(calls, exits: exits)
        if summaries.isEmpty { return "<p>No socket operation with a model in this trace.</p>\n" }
        var html = ""
        for summary in summaries {
            html += "<h3>\(e(summary.operation))</h3>\n<p>\(summary.calls) calls"
                + (summary.exits > 0 ? " (\(summary.exits) of them a process's exit)" : "")
                + ", \(summary.observedCalls) with kernel samples, \(summary.chains) chains aligned"
            if !summary.verdicts.isEmpty {
                html += ": " + summary.verdicts.sorted { $0.key < $1.key }.map { "\(e($0.key)) \($0.value)" }.joined(separator: ", ")
            }
            html += "</p>\n"
            if summary.functions.isEmpty {
                html += "<p>No chain of this operation was aligned: none of its sampled tracepoints fired with a chain on its path (one sampled as an event, with --event-stacks, is shown but not aligned).</p>\n"
                continue
            }
            let statuses = ChainAlignment.Status.allCases
            html += "<table><tr><th>layer</th><th>function</th>" + statuses.map { "<th>\(e($0.label))</th>" }.joined()
                + "<th>\(e(OperationSummary.FunctionCounts.inlinedBesideLabel))</th></tr>\n"
            for function in summary.functions {
                let kind: String
                if function.count(.matched) > 0 { kind = "matched" }
                else if function.count(.sibling) + function.count(.notOnPath) + function.count(.outOfOrder) > 0 { kind = "sibling" }
                else if function.count(.unverified) + function.count(.beside) + function.inlinedBeside > 0 { kind = "unverified" }
                else { kind = "proven" }
                html += "<tr class=\"\(kind)\"><td>\(function.layer.rawValue)</td><td>\(e(function.function))</td>"
                    + statuses.map { "<td>\(function.count($0))</td>" }.joined() + "<td>\(function.inlinedBeside)</td></tr>\n"
            }
            for (frame, count) in summary.extraFrames.sorted(by: { $0.key < $1.key }) {
                html += "<tr class=\"extra\"><td>extra</td><td>\(e(frame))</td><td colspan=\"\(statuses.count + 1)\">seen \(count), not in the model</td></tr>\n"
            }
            html += "</table>\n"
        }
        return html
    }

    func summaryTable() -> String {
        let table = SummaryTable(output: TraceOutput(fd: -1))
        for call in calls { table.handle(.syscallExited(call)) }
        return "<pre>" + Self.escape(table.render()) + "</pre>\n"
    }
}

import Foundation
