/// The socket descriptors of one process: fd → socket, with the
/// close-on-exec flag per descriptor. Threads share their process's table;
/// fork copies it; exec drops the close-on-exec entries.
public final class DescriptorTable {
    public struct Entry {
        public let socket: SocketInfo
        public var closeOnExec: Bool
    }

    public private(set) var entries: [Int32: Entry] = [:]
    /// Descriptors known not to be sockets (files, pipes), so /proc is asked once.
    private var notSockets: Set<Int32> = []

    public init() {}

    /// A copy for a forked child: the same sockets, its own descriptors.
    public func copy() -> DescriptorTable {
        let table = DescriptorTable()
        table.entries = entries
        table.notSockets = notSockets
        return table
    }

    public subscript(fd: Int32) -> Entry? { entries[fd] }

    public func insert(_ socket: SocketInfo, at fd: Int32, closeOnExec: Bool) {
        entries[fd] = Entry(socket: socket, closeOnExec: closeOnExec)
        notSockets.remove(fd)
    }

    public func remove(_ fd: Int32) {
        entries[fd] = nil
        notSockets.remove(fd)
    }

    public func markNotSocket(_ fd: Int32) { notSockets.insert(fd) }
    public func isKnownNotSocket(_ fd: Int32) -> Bool { notSockets.contains(fd) }

    public func setCloseOnExec(_ fd: Int32, _ value: Bool) {
        entries[fd]?.closeOnExec = value
    }

    /// What exec leaves: descriptors without close-on-exec.
    public func applyExec() {
        entries = entries.filter { !$0.value.closeOnExec }
        notSockets.removeAll()
    }

    /// Makes `target` refer to what `source` refers to (dup2, dup3, F_DUPFD).
    public func duplicate(_ source: Int32, to target: Int32, closeOnExec: Bool) {
        if let entry = entries[source] {
            insert(entry.socket, at: target, closeOnExec: closeOnExec)
        } else {
            remove(target)
        }
    }
}
