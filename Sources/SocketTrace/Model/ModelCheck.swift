/// The model checked against the running kernel: for every function of
/// every operation, whether this kernel version should have it, whether it
/// is a symbol (/proc/kallsyms), its prototype (BTF), what that means; and
/// for each caller → callee step, whether the caller's code calls it.
public struct ModelCheck: Sendable {
    public enum Finding: String, Sendable {
        /// A symbol: it can appear in call chains.
        case symbol = "symbol"
        /// Only a compiler-specialised copy exists (name.constprop.0…).
        case specialised = "specialised copy"
        /// Declared `inline` in the model, and no symbol: never a frame here.
        case inlined = "always inlined (declared inline; no symbol)"
        /// Declared `inline`, yet out-of-line copies exist: inlined where
        /// its callers do not call a copy.
        case inlineWithCopies = "declared inline; out-of-line copies exist"
        /// Neither a symbol nor declared inline: a typo, a rename, or a
        /// version range that is wrong. An error.
        case unknown = "ERROR: no symbol, and not declared inline (a typo, renamed, or a wrong version range)"
        /// The model says this kernel version does not have it.
        case otherKernels = "not for this kernel version"
        /// Excluded by its version range, yet a symbol here: flagged, as the
        /// range may be wrong, or the function left this path but not the kernel.
        case excludedButPresent = "FLAG: a symbol in this kernel, though its version range leaves it off this path here"

        public var isError: Bool { self == .unknown }
    }

    public struct Row: Sendable {
        public let operation: String
        public let function: ModelFunction
        public let finding: Finding
        public let detail: String?
        /// How the function before it in the chain reaches it, read from the kernel's code.
        public var edge: String?
    }

    public let kernel: KernelVersion?
    public let rows: [Row]
    /// Why caller → callee edges were not read, if they were not.
    public let codeUnreadable: String?

    public static func run(model: StackModel, only: String? = nil, symbols: KernelSymbols? = .load(),
                           btf: BTF? = .load(), kernel: KernelVersion? = .running, code: KernelCodeSource? = nil,
                           codeUnreadable: String? = nil) throws -> ModelCheck {
        guard let symbols else {
            throw TraceError(operation: "model check needs /proc/kallsyms with real addresses (root, kptr_restrict=0)")
        }
        let evidence = code.map { CallEvidence(code: $0) }
        var rows: [Row] = []
        for operation in model.operations where only == nil || operation.name == only {
            var seen: Set<String> = []
            // A function named twice (task_work_run: close's before 6.6, the exit's always) is checked
            // as its first line for this kernel, if any.
            let applicable = operation.allFunctions.filter { kernel.map($0.kernels.contains) ?? true }
            for named in operation.allFunctions where seen.insert(named.name).inserted {
                let function = applicable.first { $0.name == named.name } ?? named
                let presence = symbols.presence(of: function.name)
                if let kernel, !function.kernels.contains(kernel) {
                    let present = presence != .absent && !operation.allFunctions.contains { $0.name == function.name && $0.kernels.contains(kernel) }
                    rows.append(Row(operation: operation.name, function: function, finding: present ? .excludedButPresent : .otherKernels,
                                    detail: "kernels \(function.kernels)"))
                    continue
                }
                switch presence {
                case .symbol where function.isAlwaysInline:
                    let copies = symbols.starts(of: function.name).count
                    rows.append(Row(operation: operation.name, function: function, finding: .inlineWithCopies,
                                    detail: "\(copies) cop\(copies == 1 ? "y" : "ies")"))
                case .symbol:
                    rows.append(Row(operation: operation.name, function: function, finding: .symbol,
                                    detail: btf?.prototype(of: function.name)))
                case let .specialised(copy):
                    rows.append(Row(operation: operation.name, function: function, finding: .specialised, detail: copy))
                case .absent:
                    rows.append(Row(operation: operation.name, function: function,
                                    finding: function.isAlwaysInline ? .inlined : .unknown, detail: function.sourceFile))
                }
            }
            if let evidence, let kernel {
                // Each function's row of this operation, and whether it is a symbol here, found once:
                // an operation's paths share most of their functions.
                var rowOf: [String: Int] = [:]
                for index in rows.indices where rows[index].operation == operation.name { rowOf[rows[index].function.name] = rowOf[rows[index].function.name] ?? index }
                var present: [String: Bool] = [:]
                for function in operation.allFunctions where present[function.name] == nil {
                    present[function.name] = symbols.presence(of: function.name) != .absent
                }
                for entry in operation.entries.map(\.syscalls.first) + [nil] {
                    for path in operation.paths(for: entry, kernel: kernel) {
                        edges(path, evidence: evidence, present: present, rowOf: rowOf, rows: &rows)
                    }
                }
            }
        }
        if let only, rows.isEmpty { throw TraceError(.usage, operation: "no operation '\(only)' in the model") }
        return ModelCheck(kernel: kernel, rows: rows, codeUnreadable: code == nil ? codeUnreadable : nil)
    }

    /// Each function's caller in the chain (the nearest one before it that is
    /// not `beside` another and not inlined), and whether its code calls or
    /// jumps to the function.
    static func edges(_ chain: [ModelFunction], evidence: CallEvidence, present: [String: Bool], rowOf: [String: Int], rows: inout [Row]) {
        var caller: ModelFunction?
        for function in chain {
            let isPresent = present[function.name] ?? false
            defer { if !function.isBeside && isPresent { caller = function } }
            guard let from = caller, isPresent, let index = rowOf[function.name], rows[index].edge == nil else { continue }
            let sites = evidence.starts(of: from.name).flatMap { evidence.sites(inFunctionAt: $0, reaching: function.name) }
            rows[index].edge = sites.isEmpty
                ? "\(from.name) calls it through a pointer or an inlined function (no direct call or jump in its code)"
                : sites.prefix(2).joined(separator: "; ")
        }
    }

    public var errors: [Row] { rows.filter { $0.finding.isError } }

    public var text: String {
        func count(_ finding: Finding) -> Int { rows.filter { $0.finding == finding }.count }
        var out = "kernel \(kernel?.description ?? "?"): \(count(.symbol)) symbols, \(count(.specialised)) specialised copies, "
            + "\(count(.inlined) + count(.inlineWithCopies)) declared inline, \(count(.otherKernels)) for other kernel versions, "
            + "\(count(.excludedButPresent)) flagged, \(errors.count) errors\n"
        if let codeUnreadable { out += "caller → callee steps not checked: \(codeUnreadable)\n" }
        var current = ""
        for row in rows {
            if row.operation != current {
                current = row.operation
                out += "\n\(current)\n"
            }
            let name = row.function.name.padding(toLength: 30, withPad: " ", startingAt: 0)
            let layer = row.function.layer.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            out += "  \(layer)\(name)\(row.finding.rawValue)"
            if let detail = row.detail { out += ": \(detail)" }
            out += "\n"
            if let edge = row.edge { out += String(repeating: " ", count: 42) + "↳ " + edge + "\n" }
        }
        return out
    }
}
