import CSupport
import Glibc

/// Where tracefs is mounted; mounted at /sys/kernel/tracing when it is not
/// and the caller may (the mount is undone by `release`).
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
                if fields.count > 2, fields[2] == "tracefs" { return Tracefs(path: String(fields[1]), mountedByUs: false) }
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
        return Tracefs(path: target, mountedByUs: true)
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
        if mountedByUs { _ = cs_unmount(path) }
    }
}
