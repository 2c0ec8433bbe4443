/// Writes a descriptor as the output style asks: a number, strace's `-yy`
/// form, or sockettrace's readable socket form.
public struct DescriptorRenderer {
    let style: DescriptorStyle
    let tracker: SocketTracker
    /// Wrap each decoration in `DecorationMarks`, so that one decoding gives
    /// both the decorated text and strace's plain one.
    var marksDecorations = false

    public init(style: DescriptorStyle, tracker: SocketTracker) {
        self.style = style
        self.tracker = tracker
    }

    public func render(_ fd: Int32) -> String {
        guard let decoration = decoration(fd) else { return String(fd) }
        return String(fd) + (marksDecorations ? DecorationMarks.wrap(decoration) : decoration)
    }

    /// What the style writes after the number: `<TCP:[…]>`, `</dev/null<char 1:3>>`, nothing.
    func decoration(_ fd: Int32) -> String? {
        switch style {
        case .number:
            return nil
        case .socketsDecorated:
            guard let socket = tracker.socket(fd) else { return nil }
            return "<\(Self.readable(socket, pid: tracker.pid))>"
        case .straceDecorated:
            if let socket = tracker.socket(fd) {
                return "<\(Self.straceSocket(socket, pid: tracker.pid))>"
            }
            guard fd >= 0, let target = KernelSocketLookup.descriptorTarget(pid: tracker.pid, fd: fd) else { return nil }
            // strace puts a deleted file's mark after the brackets.
            if target.hasSuffix(" (deleted)") { return "<\(target.dropLast(10))>(deleted)" }
            return "<\(target)\(Self.deviceSuffix(target))>"
        }
    }

    /// Addresses from the kernel when it lists the socket (what strace's -yy
    /// shows, asked at every call), else from the table.
    static func endpoints(_ socket: SocketInfo, pid: Int32) -> (local: SocketEndpoint?, peer: SocketEndpoint?) {
        if let inode = socket.inode, socket.family != 1,
           let found = KernelSocketLookup.find(inode: inode, pid: pid, family: socket.family) {
            return (found.local.isUnspecified ? socket.local : found.local,
                    found.remote.isUnspecified || found.remote.port == 0 ? socket.peer : found.remote)
        }
        return (socket.local, socket.peer)
    }

    /// `TCP:[127.0.0.1:40000->127.0.0.1:12345]`, `TCP:[127.0.0.1:12345]`, `TCP:[5823]`.
    static func straceSocket(_ socket: SocketInfo, pid: Int32) -> String {
        let label = socket.protocolLabel
        if socket.family != 1 && socket.family != 2 && socket.family != 10 && socket.family != 16 {
            // strace names only the families it can ask the kernel about.
            return "socket:[\(socket.inode ?? 0)]"
        }
        if socket.family == 1 {
            // The kernel knows the peer and the bound path (strace asks it too).
            let inode = socket.inode ?? 0
            var peer: UInt32 = 0
            var path = unixPath(socket) ?? ""
            if inode > 0, let info = try? UnixSocketDiag(inode: UInt32(truncatingIfNeeded: inode)) {
                peer = info.peer
                path = info.path
            }
            var text = "\(label):[\(inode)"
            if peer != 0 { text += "->\(peer)" }
            if !path.isEmpty { text += ",\"\(path)\"" }
            return text + "]"
        }
        let (local, peer) = endpoints(socket, pid: pid)
        if let local, !local.isUnspecified || local.port != 0 {
            if let peer, !peer.isUnspecified { return "\(label):[\(local)->\(peer)]" }
            if local.port != 0 { return "\(label):[\(local)]" }
        }
        return "\(label):[\(socket.inode ?? 0)]"
    }

    /// `TCP 127.0.0.1:40000->127.0.0.1:12345`: what sockettrace's text output shows.
    static func readable(_ socket: SocketInfo, pid: Int32) -> String {
        if let text = socket.readableText { return text }
        let text = readableText(socket)
        socket.readableText = text
        return text
    }

    static func readableText(_ socket: SocketInfo) -> String {
        let label = socket.protocolLabel
        if socket.family == 1 {
            if let path = unixPath(socket), !path.isEmpty { return "\(label) \(path)" }
            return label
        }
        let (local, peer) = (socket.local, socket.peer)
        var text = label
        if let local { text += " \(local)" }
        if let peer { text += (local == nil ? " " : "->") + "\(peer)" }
        if socket.state == .listening { text += " LISTEN" }
        return text
    }

    static func unixPath(_ socket: SocketInfo) -> String? {
        if case let .unix(path)? = socket.local { return path }
        return nil
    }

    /// strace's `<char 1:3>` after a device path.
    static func deviceSuffix(_ path: String) -> String {
        guard path.hasPrefix("/") else { return "" }
        var info = stat()
        guard stat(path, &info) == 0 else { return "" }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFCHR || kind == S_IFBLK else { return "" }
        let major = (info.st_rdev >> 8) & 0xfff
        let minor = (info.st_rdev & 0xff) | ((info.st_rdev >> 12) & 0xfff00)
        return "<\(kind == S_IFCHR ? "char" : "block") \(major):\(minor)>"
    }
}

import Glibc
