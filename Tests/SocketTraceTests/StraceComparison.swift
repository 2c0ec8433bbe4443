import Foundation

/// Makes strace's output and sockettrace's comparable: drops the pid
/// prefixes, replaces what differs between two runs of the same program
/// (pointers, ephemeral ports, pids, the padding before `=`), joins
/// `<unfinished ...>` with its `<... resumed>` line, and keeps the lines
/// as a sorted list (the order of lines from different processes is timing).
enum StraceComparison {
    static func normalize(_ text: String, port: Int) -> [String] {
        var pending: [String: String] = [:]
        var lines: [String] = []
        for raw in text.split(separator: "\n").map(String.init) {
            var line = raw
            var pid = ""
            if let match = line.firstMatch(of: /^(\[pid +(\d+)\] |(\d+) +)/) {
                pid = String(match.output.2 ?? match.output.3 ?? "")
                line = String(line[match.range.upperBound...])
            }
            if line.hasSuffix(" <unfinished ...>") {
                pending[pid] = String(line.dropLast(" <unfinished ...>".count))
                continue
            }
            if let match = line.firstMatch(of: /^<\.\.\. [a-z0-9_]+ resumed>/), let start = pending.removeValue(forKey: pid) {
                line = start + line[match.range.upperBound...]
            }
            lines.append(scrub(line, port: port))
        }
        return lines.sorted()
    }

    static func scrub(_ line: String, port: Int) -> String {
        var text = line
        text.replace(/0x[0-9a-f]{6,}/, with: "PTR")
        text.replace(/htons\((\d+)\)/) { match in
            guard let value = Int(match.output.1) else { return String(match.output.0) }
            if value >= 32768 { return "htons(EPHEMERAL)" }
            if value >= port && value < port + 10 { return "htons(PORT+\(value - port))" }
            return String(match.output.0)
        }
        text.replace(/pid=\d+/, with: "pid=PID")
        text.replace(/si_utime=\d+, si_stime=\d+/, with: "si_utime=T, si_stime=T")
        text.replace(/\) +=/, with: ") =")
        return text
    }

    /// The lines only one side has, or nil when both have the same lines.
    static func difference(_ expected: [String], _ actual: [String]) -> String? {
        var missing = expected
        var extra: [String] = []
        for line in actual {
            if let index = missing.firstIndex(of: line) { missing.remove(at: index) } else { extra.append(line) }
        }
        if missing.isEmpty && extra.isEmpty { return nil }
        return "only in strace:\n" + missing.joined(separator: "\n") + "\nonly in sockettrace:\n" + extra.joined(separator: "\n")
    }
}
