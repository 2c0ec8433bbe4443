/// The last TCP state the kernel gave each connection, from its
/// `sock:inet_sock_set_state` events: what a call's socket is in when the
/// calls made on it do not say. A connection the peer reset while no call
/// of the program was there to see the error (a reset answering a write
/// that had already returned) is in TCP_CLOSE: closing it sends nothing,
/// though every call made on it succeeded.
///
/// One 4-tuple can carry several connections, one after another or (a
/// closed socket not yet closed by its program beside a new one) at once:
/// changes are kept per kernel socket (`skaddr`), and a call's socket is
/// known by the `sk` its own send and receive tracepoints give. A socket
/// never seen so on a 4-tuple that had several is given no sampled change.
struct ConnectionStates {
    struct Change {
        let state: Int64
        let time: MonotonicTime
        /// What shows it: the sampled state change, or the state the kernel gave at the call's entry.
        let heading: String
        /// The kernel's `struct sock` it changed (the tracepoint's skaddr).
        var sock: Int64? = nil
        /// The traced call whose own path made it (`python3[812]'s
        /// shutdown`), when it was sampled there rather than in softirq
        /// work or another task: then the program's call closed the
        /// connection, not the kernel on its own.
        var madeBy: String? = nil

        /// Who put the socket in this state, for the timeline.
        var cause: String { madeBy.map { "by \($0)" } ?? "by the kernel" }
    }

    /// The states the calls leave a stream socket in while they believe
    /// its connection open.
    static func callsLeaveOpen(_ state: SocketInfo.State) -> Bool {
        state == .connected || state == .connecting || state == .shutDown
    }

    /// Each 4-tuple's kernel sockets, each with its last change.
    private var last: [BackgroundWork.Flow: [Change]] = [:]
    /// The kernel socket behind each traced socket inode, from its calls' own samples.
    private var sockOfInode: [UInt64: Int64] = [:]
    /// Connections remembered at most; past it the oldest half is forgotten
    /// (a busy machine's other connections, with probes sampled everywhere).
    static let limit = 16_384

    mutating func record(_ samples: [KernelSample]) {
        for sample in samples where sample.tracepoint == "sock:inet_sock_set_state" {
            guard let (source, destination) = sample.flowEndpoints, let state = sample.fields["newstate"]?.number else { continue }
            let flow = BackgroundWork.Flow(source: source, destination: destination)
            let change = Change(state: state, time: sample.time, heading: sample.heading, sock: sample.fields["skaddr"]?.number)
            var changes = last[flow] ?? []
            if let index = changes.firstIndex(where: { $0.sock == change.sock }) {
                if changes[index].time > sample.time { continue }
                changes[index] = change
            } else {
                changes.append(change)
            }
            last[flow] = changes
        }
        if last.count > Self.limit {
            // Each 4-tuple by its latest change, read once.
            let latest = last.map { (flow: $0.key, time: $0.value.map(\.time.nanoseconds).max() ?? 0) }
            for (flow, _) in latest.sorted(by: { $0.time < $1.time }).prefix(last.count / 2) { last[flow] = nil }
        }
    }

    /// The kernel socket that had the 4-tuple at `time`, by the sampled
    /// changes: the only one not left in TCP_CLOSE by then (one 4-tuple,
    /// one open socket at a time); nil when not exactly one.
    func openSock(_ flow: BackgroundWork.Flow, at time: MonotonicTime) -> Int64? {
        // Called at every traced call's return: counted, not collected.
        var found: Int64?
        for change in last[flow] ?? [] where change.state != TCPState.close || change.time > time {
            if found != nil { return nil }
            found = change.sock
        }
        return found
    }

    /// Marks the state changes sampled on a call's own path (not in
    /// softirq work on its stack) as that call's doing (audit 24 B5: a
    /// shutdown in SYN_SENT, a disconnect of a listener).
    mutating func attribute(_ samples: [KernelSample], to call: String) {
        for sample in samples where sample.tracepoint == "sock:inet_sock_set_state" && !sample.sides.softirq {
            guard let (source, destination) = sample.flowEndpoints else { continue }
            let flow = BackgroundWork.Flow(source: source, destination: destination)
            guard let index = last[flow]?.firstIndex(where: { $0.time == sample.time && $0.sock == sample.fields["skaddr"]?.number }) else { continue }
            last[flow]![index].madeBy = call
        }
    }

    /// Learns the kernel socket of `socket` from a call's own samples: the
    /// `sk` of the send or receive length tracepoints, which fire in
    /// sock_sendmsg and sock_recvmsg on the call's socket (not in softirq work).
    mutating func learn(_ socket: SocketSnapshot?, from samples: [KernelSample]) {
        guard let inode = socket?.inode, socket?.type == SocketTypeNumber.stream else { return }
        for sample in samples where sample.tracepoint == "sock:sock_send_length" || sample.tracepoint == "sock:sock_recv_length" {
            guard !sample.sides.softirq, let sock = sample.fields["sk"]?.number else { continue }
            if sockOfInode.count > Self.limit { sockOfInode.removeAll(keepingCapacity: true) }
            sockOfInode[inode] = sock
            return
        }
    }

    /// The last sampled change of the socket's connection: of its own
    /// kernel socket when known, else of the only one its 4-tuple had.
    private func lastChange(_ socket: SocketSnapshot) -> Change? {
        guard let local = socket.local?.forPairing, let peer = socket.peer?.forPairing,
              let changes = last[BackgroundWork.Flow(source: local, destination: peer)] else { return nil }
        if let inode = socket.inode, let sock = sockOfInode[inode] { return changes.first { $0.sock == sock } }
        return changes.count == 1 ? changes[0] : nil
    }

    /// The kernel's state change that left the socket's connection in
    /// TCP_CLOSE before `time`, when the calls believe it still connected
    /// (or half-closed): the evidence that closing it sends nothing.
    func closedByKernel(_ socket: SocketSnapshot?, before time: MonotonicTime) -> Change? {
        guard let socket, socket.type == SocketTypeNumber.stream, Self.callsLeaveOpen(socket.state) else { return nil }
        if let change = lastChange(socket), change.state == TCPState.close, change.time < time {
            return change
        }
        // Not sampled (the change happened in a task or on a CPU no probe watched), but read at the call's entry.
        if socket.tcpState == TCPState.close {
            return Change(state: TCPState.close, time: time, heading: "TCP_INFO on the descriptor at the call's entry: tcpi_state TCP_CLOSE")
        }
        return nil
    }

    /// The socket as the kernel left it before `time`: in TCP_CLOSE, with
    /// the change that put it there, when the kernel closed a connection
    /// the calls believe open; connecting or connected as TCP_INFO read at
    /// the call's entry had it; else as the calls left it.
    func asKernelLeftIt(_ socket: SocketSnapshot?, before time: MonotonicTime) -> (socket: SocketSnapshot?, closedBy: Change?) {
        if let change = closedByKernel(socket, before: time) {
            var closed = socket
            closed?.state = .closed
            return (closed, change)
        }
        // The state TCP_INFO gave at the call's entry (a close's): a connect
        // the kernel still had under way (SYN_SENT, a deferred Fast Open
        // connect's too), or a handshake completed since the calls last saw
        // it (audit 96 F1, F2: such closes were told a reset's and a FIN's,
        // and sent nothing).
        guard var found = socket, found.isTCP, let state = found.tcpState else { return (socket, nil) }
        if state == TCPState.synSent {
            found.state = .connecting
        } else if found.state == .connecting {
            found.state = .connected
        }
        return (found, nil)
    }
}
