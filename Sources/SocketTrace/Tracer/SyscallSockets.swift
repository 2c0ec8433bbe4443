/// What the syscall phases ask of the socket table: the decoding context
/// with its tracker, whether a call is shown or changes the table, the
/// socket a call acted on, and what a call moved.
extension Tracer {
    /// `marking`: decorations marked (`DecorationMarks`), for calls whose
    /// plain text is kept too.
    func context(for process: TracedProcess, architecture: Architecture, style: DescriptorStyle? = nil,
                 memory: any TraceeMemory, marking: Bool = false) -> (DecodingContext, SocketTracker) {
        let tracker = SocketTracker(pid: process.pid, table: process.table, memory: memory,
                                    resolveAddresses: configuration.resolveAddresses)
        var renderer = DescriptorRenderer(style: style ?? configuration.descriptorStyle, tracker: tracker)
        renderer.marksDecorations = marking
        let context = DecodingContext(memory: memory, architecture: architecture, options: configuration.decodeOptions,
                                      describeDescriptor: renderer.render, socket: tracker.socket)
        return (context, tracker)
    }

    /// For a process whose descriptors change out of the traced calls'
    /// sight (io_uring): each descriptor the call acts on that the table
    /// names but /proc now shows as another file, or none, is forgotten,
    /// and one marked as no socket that now is one is unmarked, so both are
    /// looked up afresh (a UDP socket io_uring made at the number of a TCP
    /// one it closed was shown with that connection's addresses).
    func forgetChangedDescriptors(of call: SyscallInvocation, in process: TracedProcess) {
        guard case let .arguments(indices) = call.syscall.socketPlace else { return }
        for fd in indices.map({ Int32(truncatingIfNeeded: call.argument($0)) }) where fd >= 0 {
            let target = KernelSocketLookup.descriptorTarget(pid: process.pid, fd: fd)
            if let entry = process.table[fd] {
                if entry.socket.inode != nil { forgetIfChanged(fd, in: process.table, target: target) }
            } else if target.flatMap(KernelSocketLookup.socketInode(fromTarget:)) != nil && process.table.isKnownNotSocket(fd) {
                process.table.remove(fd)
            }
        }
    }

    /// Forgets the table's entry for `fd` when /proc shows it gone (`target`
    /// nil) or naming another socket or file than the entry's; an entry
    /// without an inode, or a link that could not be read (""), stays.
    func forgetIfChanged(_ fd: Int32, in table: DescriptorTable, target: String?) {
        guard let entry = table[fd] else { return }
        guard let target else {
            table.remove(fd)
            return
        }
        if let inode = entry.socket.inode, !target.isEmpty, KernelSocketLookup.socketInode(fromTarget: target) != inode { table.remove(fd) }
    }

    var needsPlainText: Bool { configuration.recordPlainText && configuration.descriptorStyle != .number }

    /// Whether a descriptor call acts on a socket (so it is shown by default).
    func involvesSocket(_ call: SyscallInvocation, tracker: SocketTracker) -> Bool {
        let fd = { Int32(truncatingIfNeeded: call.argument($0)) }
        switch call.syscall {
        case .sendfile, .sendfile64, .splice:
            return tracker.socket(fd(0)) != nil || tracker.socket(fd(call.syscall == .splice ? 2 : 1)) != nil
        case .close_range:
            // Shown when it closes a socket (not CLOSE_RANGE_CLOEXEC's flag
            // alone; audit 79 A: a connection's teardown in it was shown
            // under no call).
            let first = UInt32(truncatingIfNeeded: call.argument(0)), last = UInt32(truncatingIfNeeded: call.argument(1))
            return call.argument(2) & 4 == 0 && tracker.table.entries.keys.contains { $0 >= 0 && UInt32($0) >= first && UInt32($0) <= last }
        default:
            return tracker.socket(fd(0)) != nil
        }
    }

    /// Whether a descriptor-changing call can change the socket table.
    func needsTableUpdate(_ call: SyscallInvocation, tracker: SocketTracker) -> Bool {
        switch call.syscall {
        case .close, .dup, .dup2, .dup3, .fcntl, .fcntl64:
            let fd = Int32(truncatingIfNeeded: call.argument(0))
            if call.syscall == .dup2 || call.syscall == .dup3 {
                let target = Int32(truncatingIfNeeded: call.argument(1))
                return tracker.table[fd] != nil || tracker.table[target] != nil || tracker.socket(fd) != nil
            }
            return tracker.socket(fd) != nil
        default:
            return true
        }
    }

    /// The bytes sendmmsg or recvmmsg moved: the msg_len the kernel wrote
    /// into each of the `result` mmsghdrs (`MessageDecoder.mmsghdrSize`).
    static func messageBytes(of call: SyscallInvocation, memory: any TraceeMemory) -> Int64? {
        guard [.sendmmsg, .recvmmsg, .recvmmsg_time64].contains(call.syscall), let result = call.result, !result.failed,
              result.value > 0 else { return nil }
        let decoder = MessageDecoder(DecodingContext(memory: memory, architecture: call.architecture, options: DecodeOptions()))
        let (size, lengthOffset) = (UInt64(decoder.mmsghdrSize), UInt64(decoder.headerSize))
        var total: Int64 = 0
        for index in 0..<UInt64(min(result.value, 1024)) {
            guard let length = memory.readUInt32(call.argument(1) + index * size + lengthOffset) else { return nil }
            total += Int64(length)
        }
        return total
    }

    /// How many descriptors of the traced processes, other than `fd` of
    /// `process`, refer to `socket` (dup, fork and SCM_RIGHTS copies alike),
    /// and references known to wait in SCM_RIGHTS messages.
    func otherReferences(to socket: SocketInfo, besides fd: Int32, in process: TracedProcess) -> Int {
        references(to: socket, sure: true) { table, number in table === process.table && number == fd }
    }

    /// Of those, the references in SCM_RIGHTS messages a traced process
    /// sent and no traced process was seen to take in (once per socket
    /// object, as `references` counts them).
    func referencesInMessages(to socket: SocketInfo) -> Int {
        references(to: socket, closesInFlight: false, sure: true) { _, _ in true }
    }

    /// The references to `socket`: the traced processes' descriptors
    /// (each table once) but those `excluded` names, the references in
    /// SCM_RIGHTS messages (once per socket object), and other tasks'
    /// closes of it in flight: their descriptors left the tables as the
    /// closes began, but which close runs last in the kernel (and sends
    /// the FIN) is not known until they return.
    /// `closesInFlight: false` leaves those out: whether a process's end
    /// may release the socket (it does if they run first).
    /// `sure`: only the references known to be held (not those in
    /// messages a receive may have taken, `inFlightUnsure`): what a close
    /// says it left; without it, all that may be held: whether an exit
    /// releases the socket.
    func references(to socket: SocketInfo, closesInFlight: Bool = true, sure: Bool = false,
                    excluding excluded: (DescriptorTable, Int32) -> Bool) -> Int {
        var tables: Set<ObjectIdentifier> = []
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(socket)]
        func flying(_ socket: SocketInfo) -> Int { socket.inFlight - (sure ? socket.inFlightUnsure : 0) }
        var count = flying(socket) + (closesInFlight ? tasks.threads.values.filter { $0.closing?.isSame(as: socket) == true }.count : 0)
        for other in tasks.processes.values where tables.insert(ObjectIdentifier(other.table)).inserted {
            for (number, entry) in other.table.entries where socket.isSame(as: entry.socket) {
                if !excluded(other.table, number) { count += 1 }
                if seen.insert(ObjectIdentifier(entry.socket)).inserted { count += flying(entry.socket) }
            }
        }
        return count
    }

    /// A descriptor received over SCM_RIGHTS: one reference the sender's
    /// message held has arrived (the first sender's socket object of the
    /// same inode with one in flight).
    func receivedInFlight(_ socket: SocketInfo) {
        guard let inode = socket.inode else { return }
        for process in tasks.processes.values {
            if let sent = process.table.entries.values.first(where: { $0.socket.inode == inode && $0.socket.inFlight > 0 }) {
                sent.socket.inFlight -= 1
                return
            }
        }
    }

    /// What a receive on UNIX socket `receiver` did with the SCM_RIGHTS
    /// messages traced processes sent it (`rightsWaiting`, oldest first: a
    /// receive takes the oldest message still waiting).
    /// - a message's descriptors taken in: that message is gone, and every
    ///   one before it had been taken earlier (by receives that were not
    ///   sure to have taken it), their references closed;
    /// - a message cut (MSG_CTRUNC): when no receive before it may have
    ///   taken one, it is the oldest waiting, its references not taken in
    ///   closed by the kernel (audit 73 M2: still counted); else which one
    ///   is not known;
    /// - data taken with no control buffer: the oldest message not yet in
    ///   doubt may have been taken, its references closed, or not (audit
    ///   75 F1: taken as dropped, a socket that message held was said
    ///   released by an exit). Such references are counted as possibly
    ///   held (`inFlightUnsure`): not said to be held, nor gone.
    func tookRights(_ receiver: SocketInfo, _ what: SocketTracker.RightsTaken) {
        guard let inode = receiver.inode, var waiting = rightsWaiting[inode], !waiting.isEmpty else { return }
        defer { rightsWaiting[inode] = waiting.isEmpty ? nil : waiting }
        /// Removes the message at `index`: its sockets but those `taken` in
        /// (counted off by `receivedInFlight`) no longer in flight;
        /// `dropped`: known closed by this receive (`rightsDropped`).
        func gone(_ index: Int, taken: [SocketInfo], dropped: Bool) {
            let message = waiting.remove(at: index)
            var arrived = taken.compactMap(\.inode)
            for socket in message.sockets {
                if message.unsure, socket.inFlightUnsure > 0 { socket.inFlightUnsure -= 1 }
                if let at = arrived.firstIndex(where: { $0 == socket.inode }) {
                    arrived.remove(at: at)
                } else {
                    if socket.inFlight > 0 { socket.inFlight -= 1 }
                    if dropped, let closed = socket.inode { rightsDropped.append(closed) }
                }
            }
        }
        func doubt() {
            guard let index = waiting.firstIndex(where: { !$0.unsure }) else { return }
            waiting[index].unsure = true
            for socket in waiting[index].sockets { socket.inFlightUnsure += 1 }
        }
        switch what {
        case let .received(taken):
            let inodes = Set(taken.compactMap(\.inode))
            guard let at = waiting.firstIndex(where: { $0.sockets.contains { $0.inode.map(inodes.contains) == true } }) else { return }
            // Those before it were taken earlier, without room for their descriptors.
            for index in (0..<at).reversed() { gone(index, taken: [], dropped: false) }
            gone(0, taken: taken, dropped: false)
        case let .cut(taken):
            if waiting[0].unsure { doubt() } else { gone(0, taken: taken, dropped: true) }
        case .maybe:
            doubt()
        case let .datagram(returned, room, wholeLength, received):
            // Not the oldest message not yet in doubt: the receive took
            // another (one in doubt before it, or a data-only one).
            if let index = waiting.firstIndex(where: { !$0.unsure }), let data = waiting[index].data,
               !data.couldBe(returned: returned, room: room, wholeLength: wholeLength, received: received) { return }
            doubt()
        }
    }

    /// A UNIX socket released (its last reference gone): the kernel drops
    /// the messages waiting at it (unix_release_sock purges its queue,
    /// skb:kfree_skb SOCKET_CLOSE), closing the references they carried
    /// (audit 77 F1/M1: still counted, a later exit did not list the
    /// socket one of them held, a close said another reference was
    /// counted). Returns the sockets released with them: those no
    /// reference holds any more but what `excluded` names (the releasing
    /// close's descriptor, or the exiting process's table), and no
    /// descriptor of `table` (an exit lists those itself), with what
    /// waited at those in turn.
    /// `fd`: the released socket's descriptor, when it had one.
    func dropRightsWaiting(at socket: SocketInfo, fd: Int32?, table: DescriptorTable,
                           excluding excluded: (DescriptorTable, Int32) -> Bool) -> [CarriedSocket] {
        guard socket.family == AddressFamily.unix, let inode = socket.inode,
              let waiting = rightsWaiting.removeValue(forKey: inode) else { return [] }
        for message in waiting {
            for carried in message.sockets {
                if message.unsure, carried.inFlightUnsure > 0 { carried.inFlightUnsure -= 1 }
                if carried.inFlight > 0 { carried.inFlight -= 1 }
            }
        }
        var released: [CarriedSocket] = []
        var seen: Set<ObjectIdentifier> = []
        for message in waiting {
            for carried in message.sockets where seen.insert(ObjectIdentifier(carried)).inserted {
                guard !table.entries.values.contains(where: { $0.socket.isSame(as: carried) }),
                      references(to: carried, excluding: excluded) == 0 else { continue }
                released.append(CarriedSocket(socket: SocketSnapshot(fd: -1, socket: carried), waitingAt: fd,
                                              perhapsEarlier: message.unsure))
                released += dropRightsWaiting(at: carried, fd: nil, table: table, excluding: excluded)
            }
        }
        return released
    }

    /// Runs `change` to `process`'s table: the UNIX sockets a call other
    /// than close takes out of it (dup2 or dup3 over a descriptor,
    /// close_range, exec's close-on-exec) whose last reference goes drop
    /// the messages waiting at them (audit 78 F4: still counted). Returns
    /// the sockets released with those messages.
    /// Another traced thread whose call in flight holds `socket`'s file (it
    /// named the socket at its entry stop): the socket's last reference
    /// goes as that call returns.
    func holder(of socket: SocketInfo, besides thread: TracedThread?) -> TracedThread? {
        tasks.threads.values.first { $0 !== thread && $0.current != nil && $0.socketAtEntry?.isSame(as: socket) == true }
    }

    /// `thread`: the one making the call (nil for an exec).
    func droppingReleased(from process: TracedProcess, by syscall: Syscall?, in thread: TracedThread? = nil,
                          _ change: () -> Void) -> [CarriedSocket] {
        // dup2, dup3 and close_range close descriptors: any socket another
        // thread's call holds goes as that call returns (audit 82 P1: left
        // out of the exit that ended it); an exec's, only for the messages.
        let closes = syscall.map { [.dup2, .dup3, .close_range].contains($0) } ?? false
        guard closes || (syscall == nil && !rightsWaiting.isEmpty) else {
            change()
            return []
        }
        let before = process.table.entries
        change()
        var carried: [CarriedSocket] = []
        for (fd, entry) in before where process.table[fd]?.socket !== entry.socket {
            guard references(to: entry.socket, excluding: { _, _ in false }) == 0 else { continue }
            // Another thread's call holds it: it goes as that call returns (audit 81 N5).
            if closes, let holder = holder(of: entry.socket, besides: thread) {
                holder.releasesOnReturn.append(entry.socket)
                continue
            }
            carried += dropRightsWaiting(at: entry.socket, fd: fd, table: process.table) { _, _ in false }
        }
        return carried
    }

    /// The sockets another thread's close left to `thread`'s call, gone
    /// as it returned (`releasesOnReturn`): the messages waiting at them
    /// dropped, and the sockets released with them.
    func releasedOnReturn(of thread: TracedThread) -> [CarriedSocket] {
        // (At every call's exit: nothing to do, mostly.)
        guard !thread.releasesOnReturn.isEmpty else { return [] }
        defer { thread.releasesOnReturn = [] }
        return thread.releasesOnReturn.flatMap { socket in
            references(to: socket, excluding: { _, _ in false }) == 0
                ? dropRightsWaiting(at: socket, fd: nil, table: thread.process.table) { _, _ in false } : []
        }
    }

    /// What a process's exit releases: the sockets only its table holds,
    /// and with each UNIX one the SCM_RIGHTS messages waiting at it, with
    /// the sockets only they held (`carried`); a socket of its table whose
    /// other references were in those messages is released too. Drops
    /// those messages.
    func releaseAtExit(_ process: TracedProcess) -> (released: [SocketSnapshot]?, carried: [CarriedSocket]?) {
        var released = releasedAtExit(process) ?? []
        var carried: [CarriedSocket] = []
        // The sockets its threads' calls held, their descriptors closed: released with them (fd -1).
        var held: [SocketSnapshot] = []
        for socket in process.heldByEndedCalls where references(to: socket, excluding: { _, _ in false }) == 0 {
            held.append(SocketSnapshot(fd: -1, socket: socket))
            carried += dropRightsWaiting(at: socket, fd: -1, table: process.table) { table, _ in table === process.table }
        }
        process.heldByEndedCalls = []
        var dropped: Set<Int32> = []
        while true {
            for snapshot in released where dropped.insert(snapshot.fd).inserted {
                guard let socket = process.table[snapshot.fd]?.socket else { continue }
                carried += dropRightsWaiting(at: socket, fd: snapshot.fd, table: process.table) { table, _ in table === process.table }
            }
            let again = (releasedAtExit(process) ?? []).filter { snapshot in !released.contains { $0.fd == snapshot.fd } }
            if again.isEmpty { break }
            released = (released + again).sorted { $0.fd < $1.fd }
        }
        released += held
        return (released.isEmpty ? nil : released, carried.isEmpty ? nil : carried)
    }

    /// An SCM_RIGHTS message sent, waiting at the socket `peer` names.
    func sentRights(to peer: UInt64, _ sockets: [SocketInfo], _ data: MessageData?) {
        var waiting = rightsWaiting[peer] ?? []
        if waiting.count >= RightsMessage.waitingLimit {
            // No longer followed: its references may be held or gone (audit 77: still counted held).
            let forgotten = waiting.removeFirst()
            if !forgotten.unsure { for socket in forgotten.sockets { socket.inFlightUnsure += 1 } }
        }
        waiting.append(RightsMessage(sockets: sockets, data: data))
        rightsWaiting[peer] = waiting
    }

    /// The socket a finished call acted on: the one it created or accepted,
    /// else its descriptor argument's (sendfile's and splice's socket end).
    func socketSnapshot(for call: SyscallInvocation, tracker: SocketTracker) -> SocketSnapshot? {
        let returned = Int32(truncatingIfNeeded: call.result?.value ?? -1)
        var candidates: [Int32]
        switch call.syscall.socketPlace {
        case .returned: candidates = call.result?.failed == false ? [returned] : []
        case .pair:
            // The first of the pair it made (the model's operation is the pair's kind's:
            // unix_socket_create; without a socket it was "unmodelled").
            guard call.result?.failed == false, let pair = tracker.memory.readExactly(call.argument(3), count: 4) else { return nil }
            candidates = [pair.loadLittleEndian(Int32.self, at: 0)]
        case let .arguments(indices): candidates = indices.map { Int32(truncatingIfNeeded: call.argument($0)) }
        case .none: candidates = []
        }
        for fd in candidates {
            if let socket = tracker.socket(fd) { return SocketSnapshot(fd: fd, socket: socket) }
        }
        return nil
    }

    /// The sockets an ended process's exit releases: those of its table no
    /// other traced process holds and no SCM_RIGHTS message carries; with
    /// `closesInFlight: false`, those its exit may release (other
    /// processes' closes in flight may run before it).
    func releasedAtExit(_ process: TracedProcess, closesInFlight: Bool = true) -> [SocketSnapshot]? {
        let released = process.table.entries.sorted { $0.key < $1.key }.filter { _, entry in
            entry.socket.family != 0 && references(to: entry.socket, closesInFlight: closesInFlight) { table, _ in table === process.table } == 0
        }.map { SocketSnapshot(fd: $0.key, socket: $0.value.socket) }
        return released.isEmpty ? nil : released
    }

    /// The sockets an ended process's exit may release: held besides only
    /// by SCM_RIGHTS references in doubt (audit 76 F1: left out of the
    /// exit's list, whose count of sockets released was then said short).
    func perhapsReleasedAtExit(_ process: TracedProcess) -> [SocketSnapshot]? {
        let perhaps = process.table.entries.sorted { $0.key < $1.key }.filter { _, entry in
            entry.socket.family != 0 && references(to: entry.socket) { table, _ in table === process.table } > 0
                && references(to: entry.socket, sure: true) { table, _ in table === process.table } == 0
        }.map { SocketSnapshot(fd: $0.key, socket: $0.value.socket) }
        return perhaps.isEmpty ? nil : perhaps
    }
}
