/// One frame of a traced thread's user-space stack.
public struct UserFrame: Sendable, Codable, Equatable {
    /// The module's path (the program or a shared library).
    public var module: String
    public var function: String?
    /// Offset of the frame's address from the function's start.
    public var offset: UInt64
    /// The address relative to the module (what strace prints in brackets).
    public var moduleOffset: UInt64
    public var file: String?
    public var line: Int?
    /// The name strace -k gives the frame: from the module's own symbol
    /// table, without its separate debug symbols (`svc_run+0x34b4` where
    /// `function` is libc's static `open_socket`), and its offset.
    public var exportedName: String?
    public var exportedOffset: UInt64?

    /// ` > /lib/libc.so.6(send+0x13) [0x10acb3]`, strace's -k line.
    public var straceText: String {
        let named = exportedName.map { ($0, exportedOffset ?? 0) } ?? function.map { ($0, offset) }
        return " > \(module)(" + (named.map { "\($0.0)+0x" + String($0.1, radix: 16) } ?? "") + ") [0x" + String(moduleOffset, radix: 16) + "]"
    }

    /// `handle_client (server.c:22)` or `send (libc.so.6)`.
    public var shortText: String {
        let name = function ?? "0x" + String(moduleOffset, radix: 16)
        if let file, let line { return "\(name) (\(file.split(separator: "/").last ?? Substring(file)):\(line))" }
        return "\(name) (\(module.split(separator: "/").last ?? Substring(module)))"
    }
}

extension [UserFrame] {
    /// A stack (innermost first) turned outermost first, from `main` on when
    /// it has one (libc's start-up frames left out).
    public var fromMain: [UserFrame] {
        let outermostFirst = Array(reversed())
        guard let main = outermostFirst.firstIndex(where: { $0.function == "main" }) else { return outermostFirst }
        return Array(outermostFirst[main...])
    }
}
