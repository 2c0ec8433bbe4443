import Foundation
import CSyscall
import Glibc

/// A copy of /proc/kallsyms kept between runs. The kernel formats its
/// 120,000 lines anew at every read: ~65 ms of system time here, more than
/// the rest of a short trace's start together. A copy serves while the
/// kernel, its boot (KASLR places it anew at each), its modules and its BPF
/// programs (which have symbols of their own) are those it was made with.
/// Not seen: other symbols that come and go (ftrace trampolines, kprobe
/// slots), which kernel call chains of the network stack do not run through.
struct KallsymsCache {
    /// The copy's file; written as `path.PID` and renamed into place.
    let path: String

    static let magic = "sockettrace kallsyms 2"

    /// In `$XDG_CACHE_HOME/sockettrace`, else `~/.cache/sockettrace`; nil
    /// when neither is set.
    static func standard() -> KallsymsCache? {
        func variable(_ name: String) -> String? {
            guard let value = getenv(name), value.pointee != 0 else { return nil }
            return String(cString: value)
        }
        guard let base = variable("XDG_CACHE_HOME") ?? variable("HOME").map({ $0 + "/.cache" }) else { return nil }
        return KallsymsCache(path: base + "/sockettrace/kallsyms")
    }

    /// What the running kernel's symbols depend on, as one hash; nil when it
    /// cannot be told (the BPF programs cannot be listed), and then no copy serves.
    static func currentKey() -> UInt64? {
        guard let boot = ProcFile.bytes("/proc/sys/kernel/random/boot_id"),
              let version = ProcFile.bytes("/proc/version") else { return nil }
        var key = boot + version
        // Each module's name, size and address (not its use count, which moves).
        for line in (ProcFile.text("/proc/modules") ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6 else { continue }
            key += Array("\(fields[0]) \(fields[1]) \(fields[5])\n".utf8)
        }
        guard let programs = bpfProgramIDs() else { return nil }
        for id in programs { key += Array("bpf \(id)\n".utf8) }
        return KernelSymbols.hash(key)
    }

    /// The loaded BPF programs' ids (never reused while the kernel runs); nil
    /// when they cannot be listed, empty without BPF.
    static func bpfProgramIDs() -> [UInt32]? {
        var ids: [UInt32] = []
        var id: UInt32 = 0
        while true {
            var next: UInt32 = 0
            if cs_bpf_next_program_id(id, &next) != 0 {
                switch errno {
                case ENOENT, ENOSYS: return ids
                default: return nil
                }
            }
            ids.append(next)
            id = next
        }
    }

    /// `text` without the symbols of sockettrace's own BPF programs (the
    /// kernel-code reader `bpf_prog_TAG_st_ktext [bpf]`, the data-call
    /// recorder's `st_enter` and `st_exit`, the sampler of packets sent
    /// elsewhere, `st_tx_elsewhere`, and of drops elsewhere,
    /// `st_drop_elsewhe`): one loaded by this run, or by another
    /// sockettrace running beside it, may be listed though the key was told
    /// before it; it is gone when the copy serves. (Names as the kernel
    /// keeps them: 15 bytes at most. No frame is named from a BPF program's
    /// kallsyms line anyway: `BPFProgramImages`.)
    static let ownPrograms = [KernelText.name, DataCallCapture.enterProgram, DataCallCapture.exitProgram, ElsewhereTransmits.programName,
                              ElsewhereTransmits.dropProgramName].map { String($0.utf8.prefix(15))! }

    static func withoutOwnPrograms(_ text: [UInt8]) -> [UInt8] {
        let markers = ownPrograms.map { Array("_\($0)\t[bpf]".utf8).reversed() }
        let isOwn = { (line: ArraySlice<UInt8>) in markers.contains { line.reversed().starts(with: $0) } }
        let lines = text.split(separator: 0x0a, omittingEmptySubsequences: false)
        guard lines.contains(where: isOwn) else { return text }
        return Array(lines.filter { !isOwn($0) }.joined(separator: [0x0a]))
    }

    func header(key: UInt64, length: Int) -> [UInt8] {
        Array("\(Self.magic)\n\(String(key, radix: 16))\n\(length)\n".utf8)
    }

    /// Whether `path` is what this user made: not a link, owned by the
    /// effective user, writable by no one else (a cache under another user's
    /// home must not let that user choose what root reads or writes).
    static func isOwn(_ path: String, directory: Bool) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else { return false }
        return info.st_mode & S_IFMT == (directory ? S_IFDIR : S_IFREG)
    }

    var directory: String { String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }

    /// The kallsyms text kept for `key`, if whole and made for it.
    func read(key: UInt64) -> [UInt8]? {
        guard Self.isOwn(directory, directory: true), Self.isOwn(path, directory: false),
              var bytes = ProcFile.bytes(path) else { return nil }
        var lines: [String] = []
        var position = 0
        while lines.count < 3, let end = bytes[position...].firstIndex(of: 0x0a) {
            lines.append(String(decoding: bytes[position..<end], as: UTF8.self))
            position = end + 1
        }
        guard lines.count == 3, lines[0] == Self.magic, UInt64(lines[1], radix: 16) == key,
              let length = Int(lines[2]), length == bytes.count - position else { return nil }
        // The header is dropped in place: no second 5 MB array.
        bytes.removeSubrange(..<position)
        return bytes
    }

    /// Keeps `text` for `key`; false when it could not (the trace goes on without).
    @discardableResult
    func write(_ text: [UInt8], key: UInt64) -> Bool {
        var made = ""
        for part in directory.split(separator: "/") {
            made += "/" + part
            if mkdir(made, 0o700) != 0 && errno != EEXIST { return false }
        }
        guard Self.isOwn(directory, directory: true) else { return false }
        removeAbandonedCopies()
        let temporary = path + ".\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var whole = true
        for part in [header(key: key, length: text.count), text] {
            var written = 0
            while whole && written < part.count {
                let got = part.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, part.count - written) }
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { whole = false } else { written += got }
            }
        }
        if close(fd) != 0 { whole = false }
        guard whole, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// Copies begun by runs that ended before renaming them into place
    /// (killed, or gone before their loader thread finished): `path.PID`
    /// whose process no longer exists.
    func removeAbandonedCopies() {
        let name = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...]) + "."
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(name) {
            guard let pid = Int32(entry.dropFirst(name.count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + entry) }
        }
    }
}
