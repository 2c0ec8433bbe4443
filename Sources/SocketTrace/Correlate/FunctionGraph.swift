/// The kernel's function_graph tracer's record of one syscall
/// (`--function-graph`, format 1.5): every function the call entered, in
/// the order of entry, each with its depth below the syscall's entry
/// function (`__x64_sys_sendto` at depth 0) and the time spent in it.
public struct FunctionGraph: Sendable, Codable, Equatable {
    public struct Call: Sendable, Codable, Equatable {
        public let function: String
        /// 0 for the syscall's entry function, 1 for what it called, …
        public let depth: Int
        /// When it was entered (CLOCK_MONOTONIC; the tracer prints microseconds).
        public let time: MonotonicTime
        /// Nanoseconds in it, callees included; nil when its return was not
        /// seen (the trace ended, or events were lost).
        public var duration: UInt64?

        public init(function: String, depth: Int, time: MonotonicTime, duration: UInt64?) {
            self.function = function
            self.depth = depth
            self.time = time
            self.duration = duration
        }
    }

    /// Outermost first, in the order of entry (a tree in pre-order).
    public var calls: [Call]
    /// The tracer's `max_graph_depth`: a call at depth `maxDepth - 1` shows
    /// as a leaf whatever it called.
    public var maxDepth: Int
    /// Calls left out past `FunctionGraphReader.callLimit`.
    public var omitted: Int = 0
    /// Whether the kernel said it lost events while this call ran.
    public var lost: Bool = false

    public init(calls: [Call], maxDepth: Int, omitted: Int = 0, lost: Bool = false) {
        self.calls = calls
        self.maxDepth = maxDepth
        self.omitted = omitted
        self.lost = lost
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        calls = try c.decode([Call].self, forKey: .calls)
        maxDepth = try c.decodeIfPresent(Int.self, forKey: .maxDepth) ?? 0
        omitted = try c.decodeIfPresent(Int.self, forKey: .omitted) ?? 0
        lost = try c.decodeIfPresent(Bool.self, forKey: .lost) ?? false
    }

    /// As the trace file's direct writer has it: `omitted` and `lost` only when they say something.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maxDepth, forKey: .maxDepth)
        if omitted > 0 { try c.encode(omitted, forKey: .omitted) }
        if lost { try c.encode(lost, forKey: .lost) }
        try c.encode(calls, forKey: .calls)
    }

    enum CodingKeys: String, CodingKey { case calls, maxDepth, omitted, lost }

    /// The entry function's time (the whole call in the kernel).
    public var duration: UInt64? { calls.first?.duration }

    /// Each call's parent (its index), nil for the root.
    public var parents: [Int?] {
        var stack: [Int] = []
        var parents: [Int?] = []
        for (index, call) in calls.enumerated() {
            while stack.count > call.depth { stack.removeLast() }
            parents.append(stack.last)
            stack.append(index)
        }
        return parents
    }

    /// The first path down the tree through `functions`, in that order
    /// (each a descendant of the one before): the calls' indices, or nil.
    public func path(through functions: [String]) -> [Int]? {
        let parents = self.parents
        func isAncestor(_ ancestor: Int, of index: Int) -> Bool {
            var current = parents[index]
            while let at = current {
                if at == ancestor { return true }
                current = parents[at]
            }
            return false
        }
        func search(_ from: Int?, _ rest: ArraySlice<String>) -> [Int]? {
            guard let name = rest.first else { return [] }
            for index in calls.indices where calls[index].function == name && from.map({ isAncestor($0, of: index) }) ?? true {
                if let tail = search(index, rest.dropFirst()) { return [index] + tail }
            }
            return nil
        }
        return search(nil, functions[...])
    }
}
