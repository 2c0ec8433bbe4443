import Foundation

/// Reads the model's text formats (docs/model-format.md): `*.chain` files,
/// one operation each, and `probes.conf`, the probe sets. Every mistake is a
/// `ModelError` naming the file and the line.
public enum ModelParser {
    /// Loads `DIRECTORY/model/*.chain` and `DIRECTORY/probes.conf`.
    public static func load(directory: String) throws -> StackModel {
        let modelDirectory = directory + "/model"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: modelDirectory) else {
            throw ModelError(file: modelDirectory, line: 0, message: "no model directory here")
        }
        let paths = try loadPaths(modelDirectory + "/paths")
        var operations: [StackOperation] = []
        for name in names.sorted() where name.hasSuffix(".chain") {
            let path = modelDirectory + "/" + name
            let operation = try parseOperation(try read(path), file: path, paths: paths)
            if let other = operations.first(where: { $0.name == operation.name }) {
                throw ModelError(file: path, line: 1, message: "operation '\(operation.name)' is already defined in \(other.file)")
            }
            operations.append(operation)
        }
        if operations.isEmpty { throw ModelError(file: modelDirectory, line: 0, message: "no *.chain files") }
        for operation in operations {
            guard let whole = operation.within else { continue }
            guard let other = operations.first(where: { $0.name == whole }) else {
                throw ModelError(file: operation.file, line: 0, message: "`within \(whole)`: no such operation")
            }
            if other.softirq != operation.softirq || !Set(operation.syscalls).isSubset(of: Set(other.syscalls)) {
                throw ModelError(file: operation.file, line: 0, message: "`within \(whole)`: that operation is not made by the same syscalls")
            }
        }
        let probesPath = directory + "/probes.conf"
        let probes = try parseProbeSets(try read(probesPath), file: probesPath)
        return StackModel(operations: operations, probeSets: probes, directory: directory)
    }

    /// A line of a path, as a chain file's `use` puts it in place: a
    /// function, or a `branch` block's start or end (a path may hold
    /// branches, each closed in it).
    public struct PathStep: Sendable {
        public enum Kind: Sendable { case function(ModelFunction), branch, end }
        public let kind: Kind
        /// Where it is written, for errors.
        public let file: String
        public let line: Int
    }

    /// `model/paths/NAME.path`: function lines, `branch` blocks and `use
    /// OTHER` that operations share, written once (`use NAME` in a chain file).
    static func loadPaths(_ directory: String) throws -> [String: [PathStep]] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var texts: [String: (file: String, text: String)] = [:]
        for name in names where name.hasSuffix(".path") {
            texts[String(name.dropLast(".path".count))] = (directory + "/" + name, try read(directory + "/" + name))
        }
        var resolved: [String: [PathStep]] = [:]
        func resolve(_ name: String, from stack: [String]) throws -> [PathStep] {
            if let known = resolved[name] { return known }
            guard let (file, text) = texts[name] else { throw ModelError(file: directory, line: 0, message: "no path '\(name)'") }
            var steps: [PathStep] = []
            // The branches open here, by the line that opened each.
            var open: [Int] = []
            for (number, words) in lines(text) {
                switch words[0] {
                case "use":
                    guard words.count == 2 else { throw ModelError(file: file, line: number, message: "`use` takes one path name") }
                    guard !stack.contains(words[1]) else {
                        throw ModelError(file: file, line: number, message: "path '\(words[1])' uses itself (\((stack + [words[1]]).joined(separator: " -> ")))")
                    }
                    guard texts[words[1]] != nil else { throw ModelError(file: file, line: number, message: "no path '\(words[1])' in \(directory)") }
                    steps += try resolve(words[1], from: stack + [words[1]])
                case "branch":
                    guard words.count == 1 else { throw ModelError(file: file, line: number, message: "`branch` takes nothing after it") }
                    open.append(number)
                    steps.append(PathStep(kind: .branch, file: file, line: number))
                case "end":
                    guard words.count == 1 else { throw ModelError(file: file, line: number, message: "`end` takes nothing after it") }
                    guard open.popLast() != nil else { throw ModelError(file: file, line: number, message: "`end` without its `branch` in this path") }
                    steps.append(PathStep(kind: .end, file: file, line: number))
                default:
                    steps.append(PathStep(kind: .function(try parseFunction(words, file: file, line: number)), file: file, line: number))
                }
            }
            if let unclosed = open.last { throw ModelError(file: file, line: unclosed, message: "`branch` without its `end` in this path") }
            resolved[name] = steps
            return steps
        }
        for name in texts.keys.sorted() { _ = try resolve(name, from: [name]) }
        return resolved
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(file: path, line: 0, message: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelError(file: path, line: 0, message: "is not UTF-8 text")
        }
        return text
    }

    /// The meaningful lines: numbered, comments and blanks dropped, split into words.
    /// Split by bytes, not characters: the separators are ASCII, and the
    /// model's hundreds of lines are read at every start.
    static func lines(_ text: String) -> [(number: Int, words: [String])] {
        text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let content = raw.prefix { $0 != UInt8(ascii: "#") }
            let words = content.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") })
                .map { String(decoding: $0, as: UTF8.self) }
            return words.isEmpty ? nil : (index + 1, words)
        }
    }

    /// `[A-Za-z_][A-Za-z0-9_.]*` (checked by hand: a regex literal is
    /// compiled at each call, and every model line has a name).
    static func isFunctionName(_ text: String) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.dropFirst().allSatisfy { isLetter($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// `GROUP:EVENT`, each `[a-z0-9_]+` (by hand, as above).
    /// `address`'s words: the address families by the kernel's numbering.
    static let addressFamilies: [String: UInt64] = [
        "unspec": 0, "unix": AddressFamily.unix, "inet": AddressFamily.inet, "inet6": AddressFamily.inet6,
    ]

    static func isTracepointName(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { part in
            !part.isEmpty && part.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") }
        }
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    public static func parseOperation(_ text: String, file: String, paths: [String: [PathStep]] = [:]) throws -> StackOperation {
        var operation: StackOperation?
        enum Section { case header, entry(Int), body }
        var section = Section.header
        // The `branch` blocks open here, innermost last, each with the line
        // that opened it; and how many functions each open block (and the
        // section, at the bottom) has so far.
        var open: [(block: Int, line: Int)] = []
        var shownByLine = 0
        var functionsHere = [0]
        var blocks = 0
        func add(_ function: ModelFunction) {
            var function = function
            if !open.isEmpty { function.branch = open.map(\.block) }
            switch section {
            case .header: break
            case let .entry(index): operation!.entries[index].functions.append(function)
            case .body: operation!.body.append(function)
            }
            functionsHere[functionsHere.count - 1] += 1
        }
        // A block hangs from the function above it (the body's first one
        // from its entry's last: the count goes on from the entry).
        func openBranch(_ line: Int, _ fail: (String) -> ModelError) throws {
            if case .header = section { throw fail("`branch` goes under `entry SYSCALL...` or `body`") }
            guard functionsHere.last! > 0 else { throw fail("`branch` follows the function that makes the call (none above it here)") }
            blocks += 1
            open.append((blocks, line))
            functionsHere.append(0)
        }
        func closeBranch(_ fail: (String) -> ModelError) throws {
            guard !open.isEmpty else { throw fail("`end` without its `branch`") }
            guard functionsHere.last! > 0 else { throw fail("an empty `branch`") }
            open.removeLast()
            functionsHere.removeLast()
        }
        for (number, words) in lines(text) {
            func fail(_ message: String) -> ModelError { ModelError(file: file, line: number, message: message) }
            let key = words[0]
            if ["entry", "body"].contains(key), let unclosed = open.last {
                throw ModelError(file: file, line: unclosed.line, message: "`branch` without its `end` before `\(key)`")
            }
            if key == "operation" {
                guard operation == nil else { throw fail("a file describes one operation") }
                guard words.count == 2, isFunctionName(words[1]) else {
                    throw fail("`operation` takes one name of letters, digits and _")
                }
                operation = StackOperation(name: words[1], file: file)
                continue
            }
            guard operation != nil else { throw fail("the file must start with `operation NAME`") }
            switch key {
            case "title":
                operation!.title = words.dropFirst().joined(separator: " ")
            case "syscalls":
                for name in words.dropFirst() where Syscall(rawValue: name) == nil {
                    throw fail("unknown syscall '\(name)'")
                }
                operation!.syscalls = Array(words.dropFirst())
            case "sockets":
                guard words.count == 2, let kind = SocketKind(rawValue: words[1]) else {
                    throw fail("`sockets` is one of tcp, udp, tcp6, udp6, inet, inet6, unix, unix_stream, unix_dgram, tcp_listener, tcp_unconnected, tcp_fin_sent, tcp_connected, tcp_connecting, shared, any")
                }
                operation!.sockets = kind
            case "within":
                guard words.count == 2, isFunctionName(words[1]) else { throw fail("`within` names one operation") }
                operation!.within = words[1]
            case "result":
                guard words.count == 2, ErrnoName.names.values.contains(words[1]) else {
                    throw fail("`result` names one errno (ECONNREFUSED): the error of the failed calls this operation stands for")
                }
                operation!.result = words[1]
            case "argument":
                guard words.count >= 3, let index = Int(words[1]), (0..<6).contains(index) else {
                    throw fail("`argument` takes an argument's index (0-5) and the values it may have (`argument 1 1 2`: shutdown's how is SHUT_WR or SHUT_RDWR)")
                }
                var values: [UInt64] = []
                for word in words.dropFirst(2) {
                    guard let value = UInt64(word) else { throw fail("an argument's value is a number, not '\(word)'") }
                    values.append(value)
                }
                operation!.argument = ArgumentCondition(index: index, values: values)
            case "address":
                var families: [UInt64] = []
                for word in words.dropFirst() {
                    guard let family = Self.addressFamilies[word] else {
                        throw fail("`address` names the families of the address the calls give: unspec, inet, inet6 or unix, not '\(word)'")
                    }
                    families.append(family)
                }
                guard !families.isEmpty else { throw fail("`address` names at least one family (unspec, inet, inet6, unix)") }
                operation!.addressFamilies = families
            case "leaves":
                guard words.count == 2, let state = TCPState.number(words[1]) else {
                    throw fail("`leaves` names the TCP state (TCP_SYN_SENT) a successful call's own state changes left its socket in")
                }
                operation!.leaves = state
            case "flags":
                var mask: UInt64 = 0
                for word in words.dropFirst() {
                    guard let bit = SocketConstants.messageFlags.value(named: word) else {
                        throw fail("`flags` names message flags (MSG_ERRQUEUE, MSG_OOB, …) the calls give, not '\(word)'")
                    }
                    mask |= bit
                }
                guard mask != 0 else { throw fail("`flags` names at least one message flag (MSG_ERRQUEUE)") }
                operation!.messageFlags = mask
            case "shown_by":
                guard words.count >= 2, words.dropFirst().allSatisfy(isFunctionName) else {
                    throw fail("`shown_by` names the functions only this operation's path runs: a call with one on a sample's stack is this operation's")
                }
                operation!.shownBy = Array(words.dropFirst())
                shownByLine = number
            case "softirq":
                guard words.count == 2, ["yes", "no"].contains(words[1]) else { throw fail("`softirq` is yes or no") }
                operation!.softirq = words[1] == "yes"
            case "tracepoint":
                for name in words.dropFirst() where !Self.isTracepointName(name) {
                    throw fail("a tracepoint is GROUP:EVENT, not '\(name)'")
                }
                operation!.tracepoints = Array(words.dropFirst())
            case "entry":
                guard words.count >= 2 else { throw fail("`entry` names the syscalls it is for") }
                for name in words.dropFirst() where !operation!.syscalls.contains(name) && name != StackOperation.exitEntry {
                    throw fail("entry for '\(name)', which is not in this operation's `syscalls`")
                }
                operation!.entries.append((Array(words.dropFirst()), []))
                section = .entry(operation!.entries.count - 1)
                functionsHere = [0]
            case "body":
                guard words.count == 1 else { throw fail("`body` takes nothing after it") }
                section = .body
            case "branch":
                guard words.count == 1 else { throw fail("`branch` takes nothing after it") }
                try openBranch(number, fail)
            case "end":
                guard words.count == 1 else { throw fail("`end` takes nothing after it") }
                try closeBranch(fail)
            case "use":
                guard words.count == 2 else { throw fail("`use` takes one path name (model/paths/NAME.path)") }
                guard let steps = paths[words[1]] else { throw fail("no path '\(words[1])' in model/paths") }
                if case .header = section { throw fail("`use` goes under `entry SYSCALL...` or `body`") }
                for step in steps {
                    func failHere(_ message: String) -> ModelError {
                        ModelError(file: step.file, line: step.line, message: message + " (used at \(file):\(number))")
                    }
                    switch step.kind {
                    case let .function(function): add(function)
                    case .branch: try openBranch(number, failHere)
                    case .end: try closeBranch(failHere)
                    }
                }
            default:
                let function = try parseFunction(words, file: file, line: number)
                if case .header = section { throw fail("functions go under `entry SYSCALL...` or `body`") }
                add(function)
            }
        }
        if let unclosed = open.last { throw ModelError(file: file, line: unclosed.line, message: "`branch` without its `end`") }
        guard let operation else { throw ModelError(file: file, line: 0, message: "no `operation NAME` line") }
        if let missing = operation.shownBy?.first(where: { name in !operation.allFunctions.contains { $0.name == name } }) {
            throw ModelError(file: file, line: shownByLine, message: "`shown_by \(missing)`: not a function of this operation's tree")
        }
        if operation.body.isEmpty && operation.entries.isEmpty {
            throw ModelError(file: file, line: 0, message: "operation '\(operation.name)' has no functions")
        }
        if !operation.softirq && operation.syscalls.isEmpty {
            throw ModelError(file: file, line: 0, message: "operation '\(operation.name)' needs `syscalls` (or `softirq yes`)")
        }
        return operation
    }

    /// `LAYER FUNCTION [SOURCE_FILE] [KERNELS] [inline] [beside]`.
    static func parseFunction(_ words: [String], file: String, line number: Int) throws -> ModelFunction {
        func fail(_ message: String) -> ModelError { ModelError(file: file, line: number, message: message) }
        let key = words[0]
        guard let layer = StackLayer(rawValue: key) else {
            throw fail("unknown word '\(key)': expected a layer (syscall, socket, transport, network, device) or a header key")
        }
        guard words.count >= 2, isFunctionName(words[1]) else {
            throw fail("a \(key) line names a kernel function")
        }
        var source: String?
        var kernels = KernelRange.any
        var inline = false, beside = false
        for extra in words.dropFirst(2) {
            if extra == "inline" {
                inline = true
            } else if extra == "beside" {
                beside = true
            } else if extra.contains("/") || extra.hasSuffix(".c") || extra.hasSuffix(".h") {
                source = extra
            } else if let range = KernelRange(parsing: extra) {
                kernels = range
            } else {
                throw fail("'\(extra)' is neither a source file, a kernel range like 4.17- or -4.16, nor `inline` or `beside`")
            }
        }
        return ModelFunction(layer: layer, name: words[1], sourceFile: source, kernels: kernels, file: file, line: number,
                             alwaysInline: inline ? true : nil, beside: beside ? true : nil)
    }

    public static func parseProbeSets(_ text: String, file: String) throws -> [String: [Probe]] {
        var sets: [String: [Probe]] = [:]
        var current: String?
        for (number, words) in lines(text) {
            func fail(_ message: String) -> ModelError { ModelError(file: file, line: number, message: message) }
            if words[0] == "set" {
                guard words.count == 2 else { throw fail("`set` takes one name") }
                guard sets[words[1]] == nil else { throw fail("set '\(words[1])' is defined twice") }
                current = words[1]
                sets[words[1]] = []
                continue
            }
            guard let name = current else { throw fail("a tracepoint line must follow `set NAME`") }
            let parts = words[0].split(separator: ":")
            guard parts.count == 2 else { throw fail("a tracepoint is GROUP:EVENT, not '\(words[0])'") }
            guard words.count >= 2, let role = Probe.Role(rawValue: words[1]) else {
                throw fail("after the tracepoint: its role, chain, event or hit")
            }
            guard (parts[0] == Probe.kprobeGroup) == (role == .hit) else {
                throw fail("a function's kprobe is `kprobe:FUNCTION hit` (or `kprobe:* hit`), and only kprobes have the role hit")
            }
            var meaning = words.dropFirst(2)
            let everywhere = meaning.first == "everywhere"
            if everywhere {
                guard role != .hit else { throw fail("a kprobe is sampled in the traced tasks only: `everywhere` is for tracepoints") }
                meaning = meaning.dropFirst()
            }
            let elsewhere = meaning.first == "elsewhere"
            if elsewhere {
                guard role != .hit, parts[0] != Probe.kprobeGroup else {
                    throw fail("`elsewhere` is for a tracepoint whose record has an skb (skbaddr)")
                }
                meaning = meaning.dropFirst()
            }
            var filter: Probe.Filter?
            if meaning.first == "where" {
                // where FIELD in FUNCTION,FUNCTION…
                let clause = Array(meaning.prefix(4))
                guard clause.count == 4, clause[2] == "in", !clause[1].isEmpty,
                      clause[3].split(separator: ",").allSatisfy({ isFunctionName(String($0)) }) else {
                    throw fail("a filter is `where FIELD in FUNCTION,FUNCTION…` (then `or FIELD is VALUE`)")
                }
                filter = Probe.Filter(field: clause[1], functions: clause[3].split(separator: ",").map(String.init))
                meaning = meaning.dropFirst(4)
                // … or FIELD is VALUE
                if meaning.first == "or" {
                    let alternative = Array(meaning.prefix(4))
                    guard alternative.count == 4, alternative[2] == "is", isFunctionName(alternative[1]), isFunctionName(alternative[3]) else {
                        throw fail("a filter's alternative is `or FIELD is VALUE` (a string field, a word)")
                    }
                    filter?.orEqual = Probe.Equality(field: alternative[1], value: alternative[3])
                    meaning = meaning.dropFirst(4)
                }
            }
            var probe = Probe(group: String(parts[0]), event: String(parts[1]), role: role,
                              meaning: meaning.joined(separator: " "), filter: filter)
            probe.everywhere = everywhere
            probe.elsewhere = elsewhere
            sets[name]!.append(probe)
        }
        if sets.isEmpty { throw ModelError(file: file, line: 0, message: "no probe sets") }
        return sets
    }

    /// Where the model is: `--probes`, $SOCKETTRACE_PROBES, beside the
    /// binary's package checkout, installed under share/, or the checkout the
    /// binary was built from (a build folder anywhere).
    public static func locate(explicit: String?) -> String? {
        if let explicit { return explicit }
        if let fromEnvironment = ProcessInfo.processInfo.environment["SOCKETTRACE_PROBES"] { return fromEnvironment }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = directory.appendingPathComponent("Probes")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("probes.conf").path) { return candidate.path }
            let shared = directory.appendingPathComponent("share/sockettrace/Probes")
            if FileManager.default.fileExists(atPath: shared.appendingPathComponent("probes.conf").path) { return shared.path }
            directory = directory.deletingLastPathComponent()
        }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Probes")
        if FileManager.default.fileExists(atPath: checkout.appendingPathComponent("probes.conf").path) { return checkout.path }
        return nil
    }
}
