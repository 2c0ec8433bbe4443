/// The model checked against the running kernel: for every function of
/// every operation, whether this kernel version should have it, whether it
/// is a symbol (/proc/kallsyms), its prototype (BTF), and what that means.
public struct ModelCheck: Sendable {
    public enum Finding: String, Sendable {
        /// A symbol: it can appear in call chains.
        case symbol = "symbol"
        /// Only a compiler-specialised copy exists (name.constprop.0…).
        case specialised = "specialised copy"
        /// Not a symbol: always inlined (or renamed) in this build.
        case inlinedOrRenamed = "no symbol: inlined or renamed"
        /// The model says this kernel version does not have it.
        case otherKernels = "not for this kernel version"
    }

    public struct Row: Sendable {
        public let operation: String
        public let function: ModelFunction
        public let finding: Finding
        public let detail: String?
    }

    public let kernel: KernelVersion?
    public let rows: [Row]

    public static func run(model: StackModel, only: String? = nil, symbols: KernelSymbols? = .load(),
                           btf: BTF? = .load(), kernel: KernelVersion? = .running) throws -> ModelCheck {
        guard let symbols else {
            throw TraceError(operation: "model check needs /proc/kallsyms with real addresses (root, kptr_restrict=0)")
        }
        var rows: [Row] = []
        for operation in model.operations where only == nil || operation.name == only {
            var seen: Set<String> = []
            for function in operation.allFunctions where seen.insert(function.name).inserted {
                if let kernel, !function.kernels.contains(kernel) {
                    rows.append(Row(operation: operation.name, function: function, finding: .otherKernels,
                                    detail: "kernels \(function.kernels)"))
                    continue
                }
                switch symbols.presence(of: function.name) {
                case .symbol:
                    rows.append(Row(operation: operation.name, function: function, finding: .symbol,
                                    detail: btf?.prototype(of: function.name)))
                case let .specialised(copy):
                    rows.append(Row(operation: operation.name, function: function, finding: .specialised, detail: copy))
                case .absent:
                    rows.append(Row(operation: operation.name, function: function, finding: .inlinedOrRenamed, detail: nil))
                }
            }
        }
        if let only, rows.isEmpty { throw TraceError(.usage, operation: "no operation '\(only)' in the model") }
        return ModelCheck(kernel: kernel, rows: rows)
    }

    public var text: String {
        var out = "kernel \(kernel?.description ?? "?"): \(rows.filter { $0.finding == .symbol }.count) symbols, "
            + "\(rows.filter { $0.finding == .specialised }.count) specialised copies, "
            + "\(rows.filter { $0.finding == .inlinedOrRenamed }.count) without a symbol (inlined or renamed), "
            + "\(rows.filter { $0.finding == .otherKernels }.count) for other kernel versions\n"
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
        }
        return out
    }
}
