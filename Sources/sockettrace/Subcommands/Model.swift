import ArgumentParser
import SocketTrace

/// `sockettrace model list|show|check`: the reference stack model.
struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the reference model of the network stack's call chains, or check it against this kernel.",
        subcommands: [List.self, Show.self, Check.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the model's operations.")
        @OptionGroup var model: ModelOptions

        func run() throws {
            let loaded = try loadModel(model)
            let width = loaded.operations.map(\.name.count).max() ?? 0
            for operation in loaded.operations {
                let on = operation.softirq ? "softirq" : operation.syscalls.joined(separator: " ") + " (\(operation.sockets.rawValue))"
                print(operation.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + operation.title + " — " + on)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an operation's expected chain as a tree, with layers and source files.")
        @OptionGroup var model: ModelOptions
        @Argument(help: "The operation (see `model list`).") var operation: String
        @Option(help: "Show the entry for this syscall (default: the operation's first).") var syscall: String?
        @Option(help: "The kernel version to show the chain for (default: the running kernel's).") var kernel: String?

        func run() throws {
            let loaded = try loadModel(model)
            guard let found = loaded.operation(named: operation) else {
                throw ValidationError("no operation '\(operation)' (have: \(loaded.operations.map(\.name).joined(separator: ", ")))")
            }
            let version = kernel.flatMap { KernelVersion($0) } ?? KernelVersion.running
            let entrySyscall = syscall ?? found.entries.first?.syscalls.first
            print("\(found.name): \(found.title)  [\(found.file)]")
            if let version { print("kernel \(version)" + (entrySyscall.map { ", entry for \($0)" } ?? "")) }
            // The main path goes one level deeper at each function; a call
            // made beside it (a `branch` block) one level under the function
            // that makes it, marked ├─, its own callees deeper still.
            // Per block: the depth of its last function shown (a block opened
            // under it goes one deeper) and of the one the block's path goes
            // on from (a function called beside the path returns before the
            // next one: that one is its sibling).
            var lastShown: [[Int]: Int] = [[]: -1]
            var pathDepth: [[Int]: Int] = [[]: -1]
            for function in found.everyFunction(for: entrySyscall, kernel: version) {
                let block = function.branch ?? []
                let opens = pathDepth[block] == nil
                let depth = opens ? (lastShown[Array(block.dropLast())] ?? -1) + 1 : (pathDepth[block] ?? -1) + 1
                if opens { pathDepth[block] = depth - 1 }
                lastShown[block] = depth
                if !function.isBeside { pathDepth[block] = depth }
                let indent = String(repeating: "  ", count: depth)
                let layer = "[\(function.layer.rawValue)]".padding(toLength: 12, withPad: " ", startingAt: 0)
                let mark = depth == 0 ? "" : (opens && !block.isEmpty) || function.isBeside ? "├─ (beside) " : "└─ "
                var line = layer + indent + mark + function.name
                if let source = function.sourceFile { line += "  (\(source))" }
                if function.kernels != .any { line += "  kernels \(function.kernels)" }
                print(line)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every model function against the running kernel: symbol or not, prototype from BTF, what that means, and whether each caller's code calls the next function. Flags a range that leaves off a symbol of this kernel; exits 1 on an error (a name that is no symbol and not declared inline).")
        @OptionGroup var model: ModelOptions
        @Option(help: "Check only this operation.") var operation: String?

        func run() throws {
            let loaded = try loadModel(model)
            let symbols = KernelSymbols.load()
            var code: KernelCodeSource?, unreadable: String?
            switch KernelCorrelator.readCode(symbols) {
            case let .success(source): code = source
            case let .failure(error): unreadable = error.description
            }
            let report = try ModelCheck.run(model: loaded, only: operation, symbols: symbols, code: code, codeUnreadable: unreadable)
            print(report.text, terminator: "")
            if !report.errors.isEmpty { throw ExitCode(1) }
        }
    }
}

func loadModel(_ options: ModelOptions) throws -> StackModel {
    do {
        guard let model = try options.load(required: true) else { throw ExitCode(1) }
        return model
    } catch let error as ModelError {
        Run.complain(error.description)
        throw ExitCode(1)
    }
}
