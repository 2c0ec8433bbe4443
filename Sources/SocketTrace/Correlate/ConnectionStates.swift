/// The last TCP state the kernel gave each connection, from its
/// `sock:inet_sock_set_state` events: what a call's socket is in when the
/// calls made on it do not say. A connection the peer reset while no call
/// of the program was there to see the error (a reset answering a write
/// that had already returned) is in TCP_CLOSE: closing it sends nothing,
/// though every call made on it succeeded.
struct ConnectionStates {
    struct Change {
        let state: Int64
        let time: MonotonicTime
        /// What shows it: the sampled state change, or the state the kernel gave at the call's entry.
        let heading: String
    }

    /// The states the calls leave a stream socket in while they believe
    /// its connection open.
    static func callsLeaveOpen(_ state: SocketInfo.State) -> Bool {
        state == .connected || state == .connecting || state == .shutDown
    }

    private var last: [BackgroundWork.Flow: Change] = [:]
    /// Connections remembered at most; past it the oldest half is forgotten
    /// (a busy machine's other connections, with probes sampled everywhere).
    static let limit = 16_384

    mutating func record(_ samples: [KernelSample]) {
        for sample in samples where sample.tracepoint == "sock:inet_sock_set_state" {
            guard let (source, destination) = sample.flowEndpoints, let state = sample.fields["newstate"]?.number else { continue }
            let flow = BackgroundWork.Flow(source: source, destination: destination)
            if let known = last[flow], known.time > sample.time { continue }
            last[flow] = Change(state: state, time: sample.time, heading: sample.heading)
        }
        if last.count > Self.limit {
            let oldest = last.sorted { $0.value.time < $1.value.time }.prefix(last.count / 2)
            for (flow, _) in oldest { last[flow] = nil }
        }
    }

    /// The kernel's state change that left the socket's connection in
    /// TCP_CLOSE before `time`, when the calls believe it still connected
    /// (or half-closed): the evidence that closing it sends nothing.
    func closedByKernel(_ socket: SocketSnapshot?, before time: MonotonicTime) -> Change? {
        guard let socket, socket.type == SocketTypeNumber.stream, Self.callsLeaveOpen(socket.state) else { return nil }
        if let local = socket.local?.forPairing, let peer = socket.peer?.forPairing,
           let change = last[BackgroundWork.Flow(source: local, destination: peer)], change.state == TCPState.close, change.time < time {
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
    /// the calls believe open; else as the calls left it.
    func asKernelLeftIt(_ socket: SocketSnapshot?, before time: MonotonicTime) -> (socket: SocketSnapshot?, closedBy: Change?) {
        guard let change = closedByKernel(socket, before: time) else { return (socket, nil) }
        var closed = socket
        closed?.state = .closed
        return (closed, change)
    }
}
