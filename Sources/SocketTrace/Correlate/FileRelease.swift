/// Whether a close released its socket's file (dropped the file's last
/// reference: `__fput`, so `sock_close` released the socket, a TCP
/// connection's FIN) or only dropped one reference while something else
/// held the file: another descriptor (a dup, a forked copy), or one no
/// descriptor table shows, another thread's call in flight on it (a recv
/// holds the file from its fdget to its fdput) or a poll or select waiting
/// on it (their wait-queue entries hold it until they return). Audit 69 M1
/// and audit 70 F1/F2: such closes were named tcp_close, the release coming
/// when the other call returned.
///
/// Told by the kernel, not by the tracer's view of the calls (which cannot
/// see a call end inside the kernel just before the close began, audit 70
/// F3): the close's `sys_enter` names the `struct file` its descriptor
/// held (`SyscallInvocation.closedFile`), and the file's release frees it
/// (`kmem:kmem_cache_free` of that `ptr` in the `filp` cache, at the end
/// of `__fput`). Since Linux 6.7 files are freed there at once (the cache
/// is SLAB_TYPESAFE_BY_RCU); before, after an RCU grace period, in a
/// softirq anywhere: there the release is not told. A file's dentry is
/// no witness: a path lookup of /proc/PID/fd/N (the tracer's own) holds
/// it past the file's release.
public enum FileRelease {
    public static let tracepoint = "kmem:kmem_cache_free"
    /// The slab cache files are allocated from.
    public static let fileCache = "filp"
    /// The first kernel whose `__fput` frees the file itself.
    public static let freedAtOnceSince = KernelVersion(6, 7)

    /// Whether `sample` is a file's free.
    public static func isFileFree(_ sample: KernelSample) -> Bool {
        guard sample.tracepoint == tracepoint, case let .string(cache)? = sample.fields["name"] else { return false }
        return cache == fileCache
    }

    /// Whether `sample` is the free of the file at `file`.
    public static func frees(_ file: UInt64, _ sample: KernelSample) -> Bool {
        isFileFree(sample) && sample.fields["ptr"]?.number.map { UInt64(bitPattern: $0) } == file
    }

    /// Whether a probe set samples files' frees.
    public static func isSampled(by probes: [Probe]) -> Bool {
        probes.contains { probe in
            probe.name == tracepoint && probe.filter?.orEqual == Probe.Equality(field: "name", value: fileCache)
        }
    }

    /// Whether files' frees tell a close's release on `kernel`: one that
    /// frees a file where its last reference goes (not known: no).
    public static func tellsReleases(on kernel: KernelVersion?) -> Bool {
        kernel.map { $0 >= freedAtOnceSince } == true
    }

    /// Whether `call`, a close, released its file: true when the free of
    /// that file is among `window` (its samples, those at its stops
    /// included); false when it is not and no sample was lost; nil when the
    /// kernel did not tell (not a close of a socket the kernel timed, a
    /// failed close, frees not sampled, samples lost).
    public static func released(by call: SyscallInvocation, window: [KernelSample], sampled: Bool, samplesLost: Bool) -> Bool? {
        guard sampled, call.syscall == .close, call.result?.failed == false, let file = call.closedFile else { return nil }
        if window.contains(where: { frees(file, $0) }) { return true }
        return samplesLost ? nil : false
    }

    /// What a close that left its file to another reference says, naming
    /// the file whose free is the release where the last holder drops it
    /// (shown where a traced call returning let go of it,
    /// `KernelCorrelator.markingHeldFileReleases`).
    public static func heldStatement(_ call: SyscallInvocation) -> String? {
        guard let file = call.closedFile else { return nil }
        let unseen = "a call in flight on it (a recv, poll or select of another thread), an SCM_RIGHTS message not yet received, a memory "
            + "mapping of it, or a task not traced"
        let holder = switch call.socket?.otherReferences {
        case 0?: "no descriptor of the traced processes held it, so a reference they do not show did: " + unseen
        case let others? where others > 0:
            Self.countedReferences(others, inMessages: min(others, call.socket?.otherReferencesInMessages ?? 0)) + ", besides any call in flight on it"
        default: "another descriptor (a dup, a forked copy) or " + unseen + " held it"
        }
        return "not released here: the file (0x\(String(file, radix: 16))) had another reference, not freed in this close "
            + "(\(tracepoint) of \(fileCache) sampled, no sample lost); \(holder). The socket is released where the last reference goes "
            + "(the file's free is shown there when a traced call on this socket, begun before this close returned, lets go of it as it returns, a receive drops an SCM_RIGHTS message holding it, or the socket's release runs in the same task work as the free)"
    }

    /// The other references a close's tracer counted: the traced processes'
    /// descriptors, and references in SCM_RIGHTS messages no traced process
    /// was seen to take in, which a task not traced may hold by now.
    static func countedReferences(_ others: Int, inMessages messages: Int) -> String {
        func references(_ count: Int) -> String { "\(count) other reference\(count == 1 ? "" : "s")" }
        let inMessages = references(messages) + " in SCM_RIGHTS messages a traced process sent and no traced process was seen to take in "
            + "(still queued, or taken in by a task not traced, which then holds it)"
        if messages == 0 { return "the traced processes held at least " + references(others) + " to it (descriptors)" }
        if messages == others { return "at least " + inMessages }
        return "the traced processes held at least " + references(others - messages) + " to it (descriptors), and " + inMessages
    }

    /// What a close that released its file says when the traced
    /// descriptors counted others (one closed by another task at the same
    /// time, which dropped its reference first).
    public static func releasedStatement(_ call: SyscallInvocation) -> String? {
        guard let file = call.closedFile, let others = call.socket?.otherReferences, others > 0 else { return nil }
        return "the file's last reference was dropped here: the file (0x\(String(file, radix: 16))) was freed in this close "
            + "(\(tracepoint)), though \(others) other reference\(others == 1 ? " was" : "s were") counted when it began"
    }

    /// Whether a sample is kept where it was taken: a file's free only in
    /// the close of that file (its release's evidence); every other file's
    /// (a regular file's close, a program's exit) is left out, counted.
    /// A 32-bit program's close without `closedFile` (the kernel's
    /// program not loaded): the frees in it are kept, which file's not
    /// said (audit 93 F2: left out, its chain was hidden).
    public static func keeps(_ sample: KernelSample, in call: SyscallInvocation?) -> Bool {
        guard isFileFree(sample) else { return true }
        guard let call, call.syscall == .close else { return false }
        guard let file = call.closedFile else { return call.architecture == .i386 }
        return frees(file, sample)
    }
}
