import CSupport
import Glibc

/// Where tracefs is mounted; mounted at /sys/kernel/tracing when it is not
/// and the caller may (the mount is undone by `release`).
///
/// A mount sockettrace makes is recorded in /run/sockettrace (with the pid
/// that made it and the mount namespace), so that a run killed before it
/// could unmount (SIGKILL) leaves a trace: the next run in that namespace
/// takes the mount over and unmounts it when it ends.
public final class Tracefs: @unchecked Sendable {
    public let path: String
    let mountedByUs: Bool

    init(path: String, mountedByUs: Bool) {
        self.path = path
        self.mountedByUs = mountedByUs
    }

    /// Finds tracefs in /proc/mounts, or mounts it.
    public static func open(mountIfNeeded: Bool = true) throws -> Tracefs {
        if let text = KernelSocketLookup.readSmallFile("/proc/mounts") {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count > 2, fields[2] == "tracefs" else { continue }
                let path = String(fields[1])
                if let owner = mountOwner(path), owner != getpid(), kill(owner, 0) != 0 && errno == ESRCH {
                    // Left behind by a run that was killed: ours to undo now.
                    recordMount(path)
                    return Tracefs(path: path, mountedByUs: true)
                }
                return Tracefs(path: path, mountedByUs: false)
            }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count > 2, fields[2] == "debugfs", access(String(fields[1]) + "/tracing/events", R_OK) == 0 {
                    return Tracefs(path: String(fields[1]) + "/tracing", mountedByUs: false)
                }
            }
        }
        let target = "/sys/kernel/tracing"
        guard mountIfNeeded else { throw TraceError(operation: "tracefs is not mounted") }
        guard cs_mount_tracefs(target) == 0 else {
            throw TraceError(operation: "tracefs is not mounted and mounting it at \(target) failed", errno: errno)
        }
        recordMount(target)
        return Tracefs(path: target, mountedByUs: true)
    }

    static let markerDirectory = "/run/sockettrace"

    /// The marker of a mount at `path` in this process's mount namespace.
    static func markerPath(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/self/ns/mnt", &buffer, buffer.count - 1)
        let namespace = count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "mnt"
        let name = (namespace + path).map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return markerDirectory + "/tracefs-" + String(name)
    }

    /// The pid of the sockettrace that mounted tracefs at `path`, if one did.
    static func mountOwner(_ path: String) -> Int32? {
        KernelSocketLookup.readSmallFile(markerPath(path)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func recordMount(_ path: String) {
        mkdir(markerDirectory, 0o700)
        let marker = markerPath(path)
        let fd = Glibc.open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let text = "\(getpid())\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// The format of GROUP:EVENT from events/GROUP/EVENT/format.
    public func format(of tracepoint: String) throws -> TracepointFormat {
        let parts = tracepoint.split(separator: ":")
        let path = "\(self.path)/events/\(parts.first ?? "")/\(parts.last ?? "")/format"
        guard parts.count == 2, let text = KernelSocketLookup.readSmallFile(path), !text.isEmpty else {
            throw TraceError(operation: "no tracepoint \(tracepoint) in \(self.path)/events", errno: ENOENT)
        }
        guard let format = TracepointFormat(name: tracepoint, text: text) else {
            throw TraceError(operation: "cannot read the format of \(tracepoint)")
        }
        return format
    }

    /// Unmounts tracefs if this process mounted it.
    public func release() {
        guard mountedByUs else { return }
        _ = cs_unmount(path)
        unlink(Self.markerPath(path))
    }
}
