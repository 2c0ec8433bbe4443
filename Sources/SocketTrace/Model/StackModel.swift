/// The layers of the Linux network stack a function belongs to.
public enum StackLayer: String, Sendable, CaseIterable, Codable {
    case syscall, socket, transport, network, device
}

/// One function of an expected call chain.
public struct ModelFunction: Sendable, Equatable, Codable {
    public let layer: StackLayer
    public let name: String
    public let sourceFile: String?
    public let kernels: KernelRange
    /// Where the model says this, for messages.
    public let file: String
    public let line: Int
    /// Declared `inline` in the model: `static inline` or `__always_inline`
    /// in its source, so never a frame of its own where it has no symbol.
    public var alwaysInline: Bool?

    public var isAlwaysInline: Bool { alwaysInline == true }
    /// Declared `beside` in the model: the function above it in the chain
    /// calls it, and it returns before the function below it is called (a
    /// sibling of the rest of the chain, on the stack only when a
    /// tracepoint fires inside it).
    public var beside: Bool?

    public var isBeside: Bool { beside == true }
    /// Inside `branch` blocks: the blocks it is in, outermost first (each
    /// a number of the operation's own); nil on the operation's main path.
    /// A block is a call its function above makes beside the path, with
    /// that call's own callees (`tcp_v4_connect` looks up a route before
    /// it sends the SYN): a path of its own, from the root through the
    /// function above it into the block.
    public var branch: [Int]?

    /// The same function of the model under another name: the frame that
    /// stands in its place (a 32-bit call's entry for a 64-bit one).
    func named(_ name: String) -> ModelFunction {
        var renamed = ModelFunction(layer: layer, name: name, sourceFile: sourceFile, kernels: kernels, file: file, line: line,
                                    alwaysInline: alwaysInline, beside: beside)
        renamed.branch = branch
        return renamed
    }
}

/// Which sockets an operation applies to: `tcp` and `udp` are either
/// family, `tcp6` and `udp6` IPv6 only, `unix_stream` and `unix_dgram` one
/// type of UNIX socket (an operation for them is chosen before the broader one).
public enum SocketKind: String, Sendable, Codable {
    case tcp, udp, tcp6, udp6, inet, inet6, unix, any
    case unixStream = "unix_stream", unixDatagram = "unix_dgram"
    /// A listening TCP socket (closing one sends no FIN).
    case tcpListener = "tcp_listener"
    /// A TCP socket in TCP_CLOSE: never connected, its connect failed, or
    /// the kernel closed its connection (a data call returned ECONNRESET,
    /// EPIPE or ETIMEDOUT, or its sock:inet_sock_set_state went to
    /// TCP_CLOSE with no call there to see it): closing one sends nothing.
    case tcpUnconnected = "tcp_unconnected"
    /// A TCP socket whose FIN already left (shutdown with SHUT_WR or SHUT_RDWR).
    case tcpFinSent = "tcp_fin_sent"
    /// A TCP socket with a connection (connected or accepted, shut down or
    /// not): a connect on it sends no SYN.
    case tcpConnected = "tcp_connected"
    /// A TCP socket whose connect is under way (a non-blocking connect
    /// returned EINPROGRESS): another connect sends nothing.
    case tcpConnecting = "tcp_connecting"
    /// A socket other descriptors still hold (a close drops a reference
    /// and releases nothing).
    case shared

    /// (What it reads of the socket is what KernelCorrelator.CandidatesKey holds.)
    public func matches(_ socket: SocketSnapshot?) -> Bool {
        guard let socket else { return self == .any }
        let inet = socket.family == AddressFamily.inet || socket.family == AddressFamily.inet6
        let ipv6 = socket.family == AddressFamily.inet6
        switch self {
        case .any: return true
        case .inet: return inet
        case .inet6: return ipv6
        case .tcp: return inet && socket.type == SocketTypeNumber.stream
        case .udp: return inet && socket.type == SocketTypeNumber.datagram
        case .tcp6: return ipv6 && socket.type == SocketTypeNumber.stream
        case .udp6: return ipv6 && socket.type == SocketTypeNumber.datagram
        case .unix: return socket.family == AddressFamily.unix
        case .tcpListener: return inet && socket.type == SocketTypeNumber.stream && socket.state == .listening
        case .shared: return socket.isShared
        case .tcpUnconnected:
            return inet && socket.type == SocketTypeNumber.stream
                && (socket.state == .created || socket.state == .bound || socket.state == .closed)
        case .tcpFinSent: return inet && socket.type == SocketTypeNumber.stream && socket.state == .shutDown
        case .tcpConnected:
            return inet && socket.type == SocketTypeNumber.stream && (socket.state == .connected || socket.state == .shutDown)
        case .tcpConnecting: return inet && socket.type == SocketTypeNumber.stream && socket.state == .connecting
        case .unixStream: return socket.family == AddressFamily.unix && socket.type == SocketTypeNumber.stream
        case .unixDatagram: return socket.family == AddressFamily.unix && socket.type == SocketTypeNumber.datagram
        }
    }

    /// The specificity of the selectors that pick sockets by their state
    /// (a listener, a connected socket …), not only their family and type.
    static let stateSpecificity = 4

    /// How narrowly it picks sockets: the narrowest matching operation wins.
    var specificity: Int {
        switch self {
        case .shared: 5
        case .tcpListener, .tcpUnconnected, .tcpFinSent, .tcpConnected, .tcpConnecting: 4
        case .tcp6, .udp6, .unixStream, .unixDatagram: 3
        case .tcp, .udp, .unix, .inet6: 2
        case .inet: 1
        case .any: 0
        }
    }
}

/// The address families and socket types the model distinguishes, by the
/// kernel's numbering (AF_*, SOCK_*).
enum AddressFamily {
    static let unix: UInt64 = 1
    static let inet: UInt64 = 2
    static let inet6: UInt64 = 10
}

enum SocketTypeNumber {
    static let stream: UInt64 = 1
    static let datagram: UInt64 = 2
    static let seqpacket: UInt64 = 5
}

/// One socket operation of the model: which syscalls perform it, on which
/// sockets, and the chain of kernel functions expected for it, outermost
/// first (a per-syscall entry, then the shared body).
public struct StackOperation: Sendable, Codable {
    public let name: String
    public var title: String
    public var syscalls: [String]
    public var sockets: SocketKind
    /// Runs in the receive softirq rather than under a syscall of its own.
    public var softirq: Bool
    /// The tracepoints whose chains show this operation.
    public var tracepoints: [String]
    /// The operation this one is a part of (`within`): a call whose chains
    /// are mostly this one's (the handshake's last ACK, sent by connect) is
    /// still a call of that one, counted there.
    public var within: String?
    /// The errno (`ECONNREFUSED`) of a failed call this operation stands
    /// for (`result`): such a call is counted under it, whatever else its
    /// samples show (a refused connect's SYN is also tcp_connect's).
    public var result: String?
    /// The calls it is for, by one of their arguments (`argument`):
    /// shutdown's `how` tells a FIN sent (SHUT_WR, SHUT_RDWR) from nothing
    /// sent (SHUT_RD). Nil: any arguments.
    public var argument: ArgumentCondition?
    /// The calls it is for, by the family of the address they give
    /// (`address`): connect(AF_UNSPEC) disconnects its socket. Nil: any
    /// address. An operation with it is chosen before those without.
    public var addressFamilies: [UInt64]?
    /// The calls it is for by the TCP state their own sampled state changes
    /// left the socket in, for a call that succeeded (`leaves`): a connect
    /// returning 0 with its socket still in TCP_SYN_SENT sent no SYN (TCP
    /// Fast Open deferred it to the first send). Never chosen without that
    /// evidence.
    public var leaves: Int64?
    /// Functions only this operation's path runs (`shown_by`): a call any
    /// of whose samples has one on its stack is this operation's, whatever
    /// its other samples share with others (a Fast Open send's SYN, under
    /// tcp_sendmsg_fastopen, among its data's ordinary transmits).
    public var shownBy: [String]?
    /// The calls it is for by their message flags (`flags`): those with a
    /// bit of this mask (recvmsg with MSG_ERRQUEUE reads the socket's error
    /// queue, not its data). A call with one is no other operation's of its
    /// syscall and socket (`StackModel.operations(for:…)`). Nil: any flags.
    public var messageFlags: UInt64?
    public var entries: [(syscalls: [String], functions: [ModelFunction])]
    public var body: [ModelFunction]
    public let file: String

    /// The chain expected for `syscall` (or the body alone) on `kernel`:
    /// the main path, without the calls made beside it (`branch` blocks).
    public func chain(for syscall: String?, kernel: KernelVersion?) -> [ModelFunction] {
        everyFunction(for: syscall, kernel: kernel).filter { $0.branch == nil }
    }

    /// Every path the operation's call tree has for `syscall` on `kernel`,
    /// the main one first: each `branch` block is a path of its own, the
    /// functions from the root down to the one it hangs from (not those
    /// the path above goes on to after it), then the block's own.
    public func paths(for syscall: String?, kernel: KernelVersion?) -> [[ModelFunction]] {
        let all = everyFunction(for: syscall, kernel: kernel)
        var paths = [all.filter { $0.branch == nil }]
        var seen: Set<[Int]> = []
        for (start, function) in all.enumerated() {
            guard let block = function.branch, seen.insert(block).inserted else { continue }
            var above = all[..<start].filter { other in
                let own = other.branch ?? []
                return own.count < block.count && Array(block.prefix(own.count)) == own
            }
            // The function the block hangs from is on this path's way, even
            // if the main path only passes it by (`beside`).
            if !above.isEmpty { above[above.count - 1].beside = nil }
            paths.append(above + all.filter { $0.branch == block })
        }
        return paths
    }

    public func everyFunction(for syscall: String?, kernel: KernelVersion?) -> [ModelFunction] {
        let entry = entries.first { syscall != nil && $0.syscalls.contains(syscall!) }?.functions ?? []
        let all = entry + body
        guard let kernel else { return all }
        return all.filter { $0.kernels.contains(kernel) }
    }

    /// The entry of a process's exit that releases the socket (`entry
    /// exit`): not a syscall of the operation's own, do_exit → task_work_run
    /// → __fput, whatever ended the process (exit_group, exit, a signal).
    public static let exitEntry = "exit"

    /// Whether the model says how a process's exit releases such a socket.
    public var releasesAtExit: Bool { entries.contains { $0.syscalls.contains(Self.exitEntry) } }

    /// Every function the operation names, on every kernel.
    public var allFunctions: [ModelFunction] { entries.flatMap(\.functions) + body }

    enum CodingKeys: String, CodingKey { case name, title, syscalls, sockets, softirq, tracepoints, body, file, within, result, argument,
                                      addressFamilies = "address_families", leaves, shownBy = "shown_by",
                                      messageFlags = "message_flags" }

    public init(name: String, file: String) {
        self.name = name
        self.title = name
        self.syscalls = []
        self.sockets = .any
        self.softirq = false
        self.tracepoints = []
        self.entries = []
        self.body = []
        self.file = file
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        title = try c.decode(String.self, forKey: .title)
        syscalls = try c.decode([String].self, forKey: .syscalls)
        sockets = try c.decode(SocketKind.self, forKey: .sockets)
        softirq = try c.decode(Bool.self, forKey: .softirq)
        tracepoints = try c.decode([String].self, forKey: .tracepoints)
        body = try c.decode([ModelFunction].self, forKey: .body)
        file = try c.decode(String.self, forKey: .file)
        within = try c.decodeIfPresent(String.self, forKey: .within)
        result = try c.decodeIfPresent(String.self, forKey: .result)
        argument = try c.decodeIfPresent(ArgumentCondition.self, forKey: .argument)
        addressFamilies = try c.decodeIfPresent([UInt64].self, forKey: .addressFamilies)
        leaves = try c.decodeIfPresent(Int64.self, forKey: .leaves)
        shownBy = try c.decodeIfPresent([String].self, forKey: .shownBy)
        messageFlags = try c.decodeIfPresent(UInt64.self, forKey: .messageFlags)
        entries = []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(title, forKey: .title)
        try c.encode(syscalls, forKey: .syscalls)
        try c.encode(sockets, forKey: .sockets)
        try c.encode(softirq, forKey: .softirq)
        try c.encode(tracepoints, forKey: .tracepoints)
        try c.encode(body, forKey: .body)
        try c.encode(file, forKey: .file)
        try c.encodeIfPresent(within, forKey: .within)
        try c.encodeIfPresent(result, forKey: .result)
        try c.encodeIfPresent(argument, forKey: .argument)
        try c.encodeIfPresent(addressFamilies, forKey: .addressFamilies)
        try c.encodeIfPresent(leaves, forKey: .leaves)
        try c.encodeIfPresent(shownBy, forKey: .shownBy)
        try c.encodeIfPresent(messageFlags, forKey: .messageFlags)
    }

    /// Whether a call with these arguments is one of this operation's
    /// (unknown arguments fit).
    public func fits(arguments: [UInt64]?) -> Bool {
        guard let argument, let arguments else { return true }
        return argument.index < arguments.count && argument.values.contains(arguments[argument.index])
    }

    /// How narrowly it picks calls: an operation for some address families,
    /// end states or message flags first, then the narrowest sockets.
    public var precedence: Int { (addressFamilies == nil && leaves == nil && messageFlags == nil ? 0 : 10) + sockets.specificity }

    /// Whether a call of `syscall` with these arguments is one of this
    /// operation's by its message flags (unknown arguments, or a call
    /// without flags, fit only operations without `flags`).
    public func fits(messageFlagsOf syscall: Syscall, arguments: [UInt64]?) -> Bool {
        guard let messageFlags else { return true }
        guard let index = syscall.messageFlagsIndex, let arguments, index < arguments.count else { return false }
        return arguments[index] & messageFlags != 0
    }

    /// Whether a call whose sampled state changes left its socket in
    /// `state` (nil: not known, or the call failed) is one of this
    /// operation's: one with `leaves` only on that evidence.
    public func fits(leftState state: Int64?) -> Bool {
        leaves == nil || leaves == state
    }

    /// Whether a call giving an address of this family is one of this
    /// operation's (an unknown family, or a call giving none, fits only
    /// operations without `address`).
    public func fits(addressFamily: UInt64?) -> Bool {
        guard let addressFamilies else { return true }
        return addressFamily.map(addressFamilies.contains) ?? false
    }
}

/// `argument INDEX VALUE…`: the call's argument INDEX (from 0, as the
/// syscall's registers count) is one of the values.
public struct ArgumentCondition: Sendable, Codable, Hashable {
    public let index: Int
    public let values: [UInt64]
}

/// A tracepoint of a probe set and what its hits are for.
public struct Probe: Sendable, Equatable {
    /// `chain`: the hit's call chain is aligned with the model; `event`: the
    /// hit is a timeline event; `hit`: a kprobe at a function's entry, whose
    /// hits prove that the function ran (`kprobe:NAME`, `kprobe:*` for every
    /// function of the model on the running kernel).
    /// `returned`: a function's return (a kretprobe), for the time spent in it.
    public enum Role: String, Sendable, Codable { case chain, event, hit, returned }
    public let group: String
    public let event: String
    public let role: Role
    public let meaning: String
    /// Hits kept by the kernel: only those whose FIELD (a code address, such
    /// as kmem's `call_site`) lies in one of the functions, or whose string
    /// field has the value given.
    public var filter: Filter?
    /// Opened on every CPU for every task, not only in the traced ones: work
    /// the kernel does for a traced connection elsewhere (a retransmission
    /// by a timer on an idle CPU, ksoftirqd). Hits outside the traced tasks
    /// are kept only when their addresses are a traced socket's.
    public var everywhere = false
    /// Sampled in the traced tasks, and also on every CPU outside them for
    /// traced flows' own packets, kept by a BPF filter in the kernel by
    /// their socket's ports (`ElsewhereTransmits`: net:net_dev_queue, a
    /// delayed ACK or a probe sent by a timer on another task's stack).
    public var elsewhere = false

    public struct Filter: Sendable, Equatable {
        public let field: String
        public let functions: [String]
        /// Hits whose string field has a value are kept too (`or name is
        /// filp`: every file freed, `FileRelease`).
        public var orEqual: Equality?

        public init(field: String, functions: [String], orEqual: Equality? = nil) {
            self.field = field
            self.functions = functions
            self.orEqual = orEqual
        }
    }

    /// A string field's value (`name is filp`).
    public struct Equality: Sendable, Equatable {
        public let field: String
        public let value: String
    }

    public var name: String { "\(group):\(event)" }

    /// The group of kprobes at function entries: not a tracefs event group.
    public static let kprobeGroup = "kprobe"
    /// `kprobe:*`: every function the model names for the running kernel.
    public static let everyModelFunction = "*"

    public var isKprobe: Bool { group == Self.kprobeGroup }
}

/// The reference model: every operation, and the probe sets.
public struct StackModel: Sendable {
    public var operations: [StackOperation]
    public var probeSets: [String: [Probe]]
    public let directory: String

    public func operation(named name: String) -> StackOperation? {
        operations.first { $0.name == name }
    }

    /// The operation a syscall on this socket performs (`tcp_send` for a
    /// write on a TCP socket), if the model has one.
    public func operation(for syscall: Syscall, socket: SocketSnapshot?, arguments: [UInt64]? = nil,
                          addressFamily: UInt64? = nil, leftState: Int64? = nil) -> StackOperation? {
        operations(for: syscall, socket: socket, arguments: arguments, addressFamily: addressFamily, leftState: leftState).first
    }

    /// Every operation a syscall on this socket may perform, the narrowest
    /// first (file order among equals): a connect sends its SYN (`tcp_connect`)
    /// and, from release_sock's backlog, the handshake's last ACK
    /// (`tcp_connect_ack`); each sampled chain is aligned with the one whose
    /// own functions it shows.
    /// `arguments`: the call's, for operations that are for some of them
    /// (`argument`); nil fits every operation. `addressFamily`: the family
    /// of the address the call gives (connect's), for operations that are
    /// for some families (`address`), which come before the others.
    /// `leftState`: the TCP state a successful call's own sampled state
    /// changes left its socket in, for operations with `leaves` (which
    /// also come first).
    public func operations(for syscall: Syscall, socket: SocketSnapshot?, arguments: [UInt64]? = nil,
                           addressFamily: UInt64? = nil, leftState: Int64? = nil) -> [StackOperation] {
        var fitting = operations.filter {
            !$0.softirq && $0.syscalls.contains(syscall.rawValue) && $0.sockets.matches(socket) && $0.fits(arguments: arguments)
                && $0.fits(addressFamily: addressFamily) && $0.fits(leftState: leftState) && $0.fits(messageFlagsOf: syscall, arguments: arguments)
        }
        // A call whose message flags an operation is for is that one's
        // only: recvmsg(MSG_ERRQUEUE) reads the error queue, which a TCP
        // receive's path never reaches (audit 98: told as tcp_recv).
        if fitting.contains(where: { $0.messageFlags != nil }) { fitting = fitting.filter { $0.messageFlags != nil } }
        // Narrowest first; the wider ones stay candidates, for a chain that
        // shows their own functions (a close believed to drop one of several
        // references whose stack shows the FIN being sent).
        return fitting.enumerated().sorted { ($0.element.precedence, -$0.offset) > ($1.element.precedence, -$1.offset) }
            .map(\.element)
    }

    /// The operations a process's exit may perform on this socket when it
    /// releases it (those with an `entry exit`), the narrowest first.
    public func exitOperations(socket: SocketSnapshot?) -> [StackOperation] {
        let fitting = operations.filter { !$0.softirq && $0.releasesAtExit && $0.sockets.matches(socket) }
        return fitting.enumerated().sorted { ($0.element.sockets.specificity, -$0.offset) > ($1.element.sockets.specificity, -$1.offset) }
            .map(\.element)
    }

    /// The functions a set's kprobes go on: `kprobe:*` names every
    /// function of every operation on `kernel` (each once, in model order),
    /// `kprobe:NAME` one.
    public func kprobeTargets(_ probes: [Probe], kernel: KernelVersion?) -> [String] {
        var names: [String] = []
        var seen: Set<String> = []
        for probe in probes where probe.isKprobe {
            let wanted = probe.event == Probe.everyModelFunction
                ? operations.flatMap(\.allFunctions).filter { kernel.map($0.kernels.contains) ?? true }.map(\.name)
                : [probe.event]
            for name in wanted where seen.insert(name).inserted { names.append(name) }
        }
        return names
    }

    /// The arguments some operation for `syscall` is chosen by (`argument`):
    /// what a choice of operations for a call depends on besides its socket.
    public func selectingArguments(_ syscall: Syscall) -> [Int] {
        let byFlags = operations.contains { $0.messageFlags != nil && $0.syscalls.contains(syscall.rawValue) } ? syscall.messageFlagsIndex : nil
        return Array(Set(operations.compactMap { $0.syscalls.contains(syscall.rawValue) ? $0.argument?.index : nil } + [byFlags].compactMap { $0 }))
            .sorted()
    }

    /// The operations that happen in the receive softirq.
    public var softirqOperations: [StackOperation] { operations.filter(\.softirq) }
}
