import Glibc

/// Small kernel files (/proc, /sys, tracefs) read with plain read(2):
/// they report no size, and are read often enough that Foundation's
/// overhead shows.
enum ProcFile {
    /// A file's text.
    static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A file's bytes, read to its end (proc files report no size). The
    /// buffer starts at a page and doubles, unzeroed: most of these files
    /// are a line long (a fixed 256 KiB buffer was zeroed at every read, and
    /// /proc/sys allocates and zeroes as much in the kernel for each read).
    static func bytes(_ path: String, limit: Int = .max) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var capacity = min(4096, limit)
        guard var storage = malloc(max(capacity, 1)) else { return nil }
        defer { free(storage) }
        var count = 0
        while count < limit {
            if count == capacity {
                capacity = min(capacity * 2, limit)
                guard let grown = realloc(storage, capacity) else { return nil }
                storage = grown
            }
            let got = read(fd, storage + count, capacity - count)
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            count += got
        }
        return [UInt8](UnsafeRawBufferPointer(start: storage, count: count))
    }

}
