/// A traced program's own function entered or left (`--functions`).
public struct FunctionEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case entry, exit
    }

    /// One argument at entry, as `name=value`.
    public struct Argument: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var kind: Kind
    public var pid: Int32
    public var tid: Int32
    public var function: String
    /// How many traced functions of this thread enclose it (0 for the outermost).
    public var depth: Int
    public var time: MonotonicTime
    /// For an exit: when the call began.
    public var entryTime: MonotonicTime?
    /// For an entry: the arguments (from DWARF; nil without it).
    public var arguments: [Argument]?
    /// For an exit: the value returned, when the function returns one.
    public var returnValue: String?
    /// For an exit: the frame was left without returning (longjmp, an
    /// exception, the thread ending).
    public var unwound: Bool?

    public init(_ kind: Kind, pid: Int32, tid: Int32, function: String, depth: Int, time: MonotonicTime) {
        self.kind = kind
        self.pid = pid
        self.tid = tid
        self.function = function
        self.depth = depth
        self.time = time
    }

    /// `handle_client(fd=4)` or `handle_client() = 0`.
    public var text: String {
        switch kind {
        case .entry:
            return function + "(" + (arguments ?? []).map { "\($0.name)=\($0.value)" }.joined(separator: ", ") + ")"
        case .exit:
            if unwound == true { return function + " unwound" }
            return function + "()" + (returnValue.map { " = " + $0 } ?? "")
        }
    }

    public var duration: Double? {
        entryTime.map { time.seconds - $0.seconds }
    }
}
