import Glibc

/// Where tracefs is mounted for this run.
///
/// A mount found in /proc/mounts (at /sys/kernel/tracing, or under debugfs)
/// is used as it is. When there is none, this run mounts tracefs at a
/// directory of its own, /run/sockettrace/tracefs.PID, and unmounts it in
/// `release`: a mount shared between runs would be undone by whichever run
/// ended first, under the others still reading it. A run killed before it
/// could unmount (SIGKILL) leaves its directory behind; the next run that
/// looks for tracefs unmounts and removes every such directory whose run
/// is gone.
public final class Tracefs: Sendable {
    public let path: String
    let mountedByUs: Bool

    init(path: String, mountedByUs: Bool) {
        self.path = path
        self.mountedByUs = mountedByUs
    }

    static let privateMounts = "/run/sockettrace"
    static let privatePrefix = privateMounts + "/tracefs."

    /// Finds tracefs in /proc/mounts, or mounts a private one.
    public static func open(mountIfNeeded: Bool = true) throws -> Tracefs {
        let mounts = ProcFile.text("/proc/mounts").map(mountPoints) ?? []
        removeAbandonedMounts(mounts)
        if let shared = mounts.first(where: { $0.type == "tracefs" && !$0.path.hasPrefix(privatePrefix) }) {
            return Tracefs(path: shared.path, mountedByUs: false)
        }
        if let debugfs = mounts.first(where: { $0.type == "debugfs" && access($0.path + "/tracing/events", R_OK) == 0 }) {
            return Tracefs(path: debugfs.path + "/tracing", mountedByUs: false)
        }
        guard mountIfNeeded else { throw TraceError(operation: "tracefs is not mounted") }
        let target = privatePrefix + String(getpid())
        mkdir(privateMounts, 0o700)
        guard mkdir(target, 0o700) == 0 || errno == EEXIST else {
            throw TraceError(operation: "tracefs is not mounted and creating \(target) failed", errno: errno)
        }
        guard mount("nodev", target, "tracefs", 0, nil) == 0 else {
            let error = errno
            rmdir(target)
            throw TraceError(operation: "tracefs is not mounted and mounting it at \(target) failed", errno: error)
        }
        return Tracefs(path: target, mountedByUs: true)
    }

    struct MountPoint: Equatable {
        let path: String
        let type: String
    }

    /// The mount points of /proc/mounts, in its order (octal escapes of
    /// spaces and the like undone).
    static func mountPoints(_ text: String) -> [MountPoint] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { return nil }
            return MountPoint(path: unescape(fields[1]), type: String(fields[2]))
        }
    }

    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The pid of the run that owns a private mount directory, if it is one.
    static func owner(ofPrivateMount path: String) -> Int32? {
        guard path.hasPrefix(privatePrefix) else { return nil }
        return Int32(path.dropFirst(privatePrefix.count))
    }

    /// Unmounts and removes the private mounts of runs that are gone.
    static func removeAbandonedMounts(_ mounts: [MountPoint]) {
        for mount in mounts where mount.type == "tracefs" {
            guard let pid = owner(ofPrivateMount: mount.path), pid != getpid(),
                  kill(pid, 0) != 0 && errno == ESRCH else { continue }
            if Self.unmount(mount.path) == 0 { rmdir(mount.path) }
        }
    }

    /// The format of GROUP:EVENT from events/GROUP/EVENT/format.
    public func format(of tracepoint: String) throws -> TracepointFormat {
        let parts = tracepoint.split(separator: ":")
        let path = "\(self.path)/events/\(parts.first ?? "")/\(parts.last ?? "")/format"
        guard parts.count == 2, let text = ProcFile.text(path), !text.isEmpty else {
            throw TraceError(operation: "no tracepoint \(tracepoint) in \(self.path)/events", errno: ENOENT)
        }
        guard let format = TracepointFormat(name: tracepoint, text: text) else {
            throw TraceError(operation: "cannot read the format of \(tracepoint)")
        }
        return format
    }

    /// Unmounts tracefs and removes its directory if this run mounted it.
    public func release() {
        guard mountedByUs else { return }
        if Self.unmount(path) == 0 { rmdir(path) }
    }

    /// umount2; a mount still in use (the release helper removing kprobe
    /// events through it) is detached now, gone when the helper is done.
    static func unmount(_ target: String) -> Int32 {
        let result = umount2(target, 0)
        if result < 0 && errno == EBUSY { return umount2(target, Int32(MNT_DETACH)) }
        return result
    }
}
