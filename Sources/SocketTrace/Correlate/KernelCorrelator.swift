import Glibc

/// Attributes kernel samples to syscalls: a sample belongs to the call in
/// flight on the same thread when it was taken (entry ≤ t ≤ exit), softirq
/// work run on that thread's stack included. Samples taken between calls
/// (timers, interrupts, untraced syscalls) are events of their own.
public final class KernelCorrelator {
    let model: StackModel?
    var aligner: ChainAligner
    let kernel: KernelVersion?
    var pending: [Int32: SampleQueue] = [:]
    /// Packets traced calls sent, by skb: whose packet a receive was.
    var queuedPackets = QueuedPackets()
    /// Samples of other connections' packets taken during calls: events of
    /// their own, not the calls' work.
    var otherFlows: [KernelSample] = []
    /// Hits outside the traced tasks, waiting to be kept (a traced flow's) or dropped.
    var background = BackgroundWork()
    /// Each connection's last TCP state, from the state changes sampled.
    var connectionStates = ConnectionStates()
    /// Hits outside the traced tasks dropped as no traced socket's.
    public var backgroundDropped: Int { background.dropped }
    /// Samples of a thread taken before the call that took them began,
    /// not written as strays (left out: none of that call's).
    public private(set) var beforeTheirCall = 0
    /// Copies the elsewhere programs kept of a traced task's hit, whose
    /// own sample was written (`AttributionStage.Step.samples`).
    public internal(set) var repeated = 0
    /// Frees of files other than a close's own (`FileRelease.keeps`).
    public internal(set) var otherFilesFreed = 0

    /// Files closes left to another reference (`FileRelease`), by address:
    /// the close that did, its socket's inode and when it began.
    var heldFiles: [UInt64: HeldFile] = [:]
    struct HeldFile {
        let close: String
        let inode: UInt64
        /// When the close returned (the kernel's sys_exit where known).
        let closeEnded: MonotonicTime
        /// The socket's addresses, when known: its release's state change names them.
        var local: SocketEndpoint? = nil
        var peer: SocketEndpoint? = nil
    }
    /// Calls their threads ended in, by thread: when each began, its name.
    /// (Its socket's addresses, when known, name its packets.)
    /// (`releasesHeld`: another thread's call left it sockets to release.)
    public var abandonedCalls: [Int32: (from: MonotonicTime, name: String, inode: UInt64?, local: SocketEndpoint?, peer: SocketEndpoint?,
                                        releasesHeld: Bool)] = [:]
    /// Where a sample of such a call was taken (`TextTimeline` names the call's frames for it).
    static func inAbandonedCall(_ name: String, atExitStop: Bool = false) -> String {
        (atExitStop ? "at the exit stop of its \(name)" : "in its \(name)") + ", which never returned (its thread ended in it)"
    }
    /// Whether a sample's `inTracedTask` says it was in such a call (as
    /// written, in a trace file too).
    static func isInAbandonedCall(_ context: String?) -> Bool {
        guard let context else { return false }
        return (context.hasPrefix("in its ") || context.hasPrefix("at the exit stop of its "))
            && context.contains(", which never returned (its thread ended in it)")
    }
    /// Where `sample` was, when in such a call.
    func abandonedContext(of sample: KernelSample) -> String? {
        abandonedCalls[sample.tid].flatMap { sample.time >= $0.from ? Self.inAbandonedCall($0.name, atExitStop: sample.atSyscallStop == .exit) : nil }
    }

    /// The most held files remembered (a holder never seen letting go).
    static let heldFilesLimit = 4096

    /// `samples` but the frees of files other than `call`'s own (a close's
    /// file, the evidence of its release) or a held file's release found
    /// at a call's exit stop (`releasesHeldFile`), counted; all of them
    /// when files' frees are not sampled.
    func keepingOwnFileFree(_ samples: [KernelSample], in call: SyscallInvocation?) -> [KernelSample] {
        guard fileFreesSampled else { return samples }
        let kept = samples.filter { FileRelease.keeps($0, in: call) || $0.releasesHeldFile != nil }
        otherFilesFreed += samples.count - kept.count
        return kept
    }

    /// `call`'s samples at its exit stop that free a file a close left to
    /// another reference, kept and said so (`releasesHeldFile`). Proven
    /// that file's when `call`, on the same socket (the inode its
    /// descriptor named at its entry stop, before the close took the
    /// descriptor away), began in the kernel before the close returned:
    /// it took the file from the descriptor (even a lookup that then
    /// found the descriptor gone, failing with EBADF, holds it until its
    /// return: audit 72), so the file lived until this free. Any other
    /// call's free of that address as it returns (a recvmsg dropping an
    /// SCM_RIGHTS reference it did not take in) is shown as that address's,
    /// not said to be that file: the address may be a later file's.
    /// Any free of a held file's address ends its entry.
    /// `leftBy`: the close that left the file proven `call`'s to release.
    func markingHeldFileReleases(_ samples: [KernelSample], of call: SyscallInvocation, leftBy: inout String?) -> [KernelSample] {
        guard !heldFiles.isEmpty else { return samples }
        var proven: String?
        defer { leftBy = proven }
        return samples.map { sample in
            guard FileRelease.isFileFree(sample), let pointer = sample.fields["ptr"]?.number,
                  let held = heldFiles.removeValue(forKey: UInt64(bitPattern: pointer)) else { return sample }
            guard sample.atSyscallStop == .exit else { return sample }
            var sample = sample
            if (call.inodeAtEntry ?? call.socket?.inode) == held.inode, call.startTime < held.closeEnded {
                proven = held.close
                sample.releasesHeldFile = "the file's last reference, which \(held.close) left to this call, dropped as it returned "
                    + "(the release of that close's file)"
            } else if call.rightsDropped?.contains(held.inode) == true {
                // The socket's one file, held by the message from before the
                // close to this receive, which cut it (audit 73: the release
                // of a file passed and never received, not linked).
                sample.releasesHeldFile = "the file's last reference, in an SCM_RIGHTS message that carried it, dropped as this receive, "
                    + "with no room for it (MSG_CTRUNC, or no control buffer), closed it and returned (the release of the file \(held.close) "
                    + "left to another reference)"
            } else if call.releasedInMessages?.contains(where: { $0.socket.inode == held.inode && !$0.perhapsEarlier }) == true {
                // This close released a UNIX socket whose queue held the
                // socket's one file in a message (audit 77 m2: not linked).
                let this = call.syscall == .close ? "this close" : "this call"
                sample.releasesHeldFile = "the file's last reference, in an SCM_RIGHTS message waiting at the socket \(this) released, "
                    + "dropped as the kernel purged that socket's queue, closed as \(this) returned (the release of the file "
                    + "\(held.close) left to another reference)"
            } else {
                sample.releasesHeldFile = "a file freed as this call returned, at the address of the one \(held.close) left to another "
                    + "reference (this call was not on that socket when the close ran: not shown to be that file)"
            }
            return sample
        }
    }

    /// What a call that dropped a socket's last reference says as it
    /// returns (audit 81 M4, 82 P3: nothing; the release was shown only as
    /// work at its exit stop, after it; audit 80: a dup2 or close_range
    /// over a TCP socket's last descriptor said nothing of it). The
    /// kernel shows it: a file's free at its exit stop proven that
    /// socket's (`leftBy`: a close left it to this call), or a TCP
    /// socket's release (its state change under `__tcp_close`, which
    /// names it) in task work at its exit stop. Task work runs at each
    /// return to user space, and a file's last reference dropped in a
    /// call is released there (`fput`), so what runs at this call's exit
    /// stop was left by this call. A close releases its file itself
    /// (`FileRelease`), and says so.
    func releaseOnReturn(_ samples: [KernelSample], of call: SyscallInvocation, leftBy: String?) -> String? {
        guard call.syscall != .close else { return nil }
        let closes = [.dup2, .dup3, .close_range].contains(call.syscall)
        let atExit = samples.filter { $0.atSyscallStop == .exit }
        let there = "in task work at its exit stop (shown after it)"
        if let leftBy, !closes {
            return "released as it returned: this call held the last reference to its socket's file, which \(leftBy) left to it; "
                + "the kernel freed the file and released the socket \(there)"
        }
        let releases = atExit.filter(\.isReleaseStateChange)
        guard !releases.isEmpty else { return nil }
        let named = releases.map(\.releaseStateChangeText).joined(separator: "; ")
        let whose = closes ? "the last reference to a socket whose descriptor it closed"
            : call.releasesHeldSockets == true ? "the last reference to its socket (another thread's call took the socket's last descriptor "
                + "while this call held it: the traced processes' tables)"
            : "a socket's last reference"
        return "released as it returned: this call dropped \(whose); the release (\(Self.socketRelease), its state change: \(named)) ran \(there)"
    }

    /// A dup2's, dup3's or close_range's frees of files as it returned (the
    /// files of the descriptors it closed, released in task_work at its
    /// exit stop), said so, not said which (audit 80 H1: left out).
    func markingFilesItClosed(_ samples: [KernelSample], of call: SyscallInvocation) -> [KernelSample] {
        let closes = [.dup2, .dup3, .close_range].contains(call.syscall)
        guard closes || call.releasesHeldSockets == true else { return samples }
        return samples.map { sample in
            guard sample.releasesHeldFile == nil, FileRelease.isFileFree(sample), sample.atSyscallStop == .exit else { return sample }
            var sample = sample
            sample.releasesHeldFile = closes
                ? "a file freed as this \(call.name) returned: one it closed, or one their release let go of (not shown which)"
                : "a file freed as this call returned: of a socket another thread's call closed while this one held it, or one its "
                    + "release let go of (not shown which)"
            return sample
        }
    }

    /// A traced thread's free, between its traced calls, of the address
    /// of a file a close left to another reference: kept and said so, not
    /// said to be that file (audit 72 a: a poll or select, not traced,
    /// holding the file let go of it as it returned, and that release was
    /// only counted). No traced call's descriptor ties it to the close, and
    /// the address may be a later file's.
    /// Proven that file's when the socket's release ran before it in the
    /// same run of task work (its state change under `__tcp_close` names
    /// the close's socket, audit 83 f: an untraced poll held it): the file
    /// lives until its release ends, so the free there at its address is
    /// its own.
    func markingHeldFileFreesBetweenCalls(_ samples: [KernelSample]) -> [KernelSample] {
        guard !heldFiles.isEmpty else { return samples }
        let releases = samples.filter(\.isReleaseStateChange)
        return samples.map { sample in
            guard sample.releasesHeldFile == nil, FileRelease.isFileFree(sample), let pointer = sample.fields["ptr"]?.number,
                  let held = heldFiles.removeValue(forKey: UInt64(bitPattern: pointer)) else { return sample }
            var sample = sample
            if let local = held.local, let peer = held.peer, !samplesLost(), let release = releases.last(where: { release in
                release.tid == sample.tid && release.time < sample.time && release.flowEndpoints.map { $0.source == local && $0.destination == peer } == true
                    && Self.inSameCall(of: "task_work_run", release, sample)
            }) {
                sample.releasesHeldFile = "the file's last reference, which \(held.close) left to another reference (a call not traced: a poll or "
                    + "select, or a read the kernel recorded), dropped as it returned: freed in the same task work as that socket's release "
                    + "(\(Self.socketRelease): \(release.releaseStateChangeText))"
                return sample
            }
            sample.releasesHeldFile = "a file freed at the address of the one \(held.close) left to another reference (no traced call "
                + "of this thread was on that socket: perhaps a call that did not stop letting go of it, a poll or select not traced or "
                + "a read the kernel recorded, or a later file at that address; not shown to be that file)"
            return sample
        }
    }

    /// The samples taken and deliberately not written, by why: with those
    /// written they add up to the sampler's count (the trace's `end`).
    public var leftOut: [String: UInt64] {
        let counts = ["other_flows": background.dropped, "before_their_call": beforeTheirCall,
                      "hits_outside_calls": strayHits, "repeated": repeated, "other_files_freed": otherFilesFreed]
        return counts.filter { $0.value > 0 }.mapValues { UInt64($0) }
    }
    /// With kprobes: which model functions carry one (known once the first task is followed).
    public var functionProbes: FunctionProbeStatus?
    /// Whether files' frees are sampled (on any kernel): those not a
    /// close's own are left out (`FileRelease.keeps`).
    public var fileFreesSampled = false
    /// Whether those frees tell whether a close released its file: on a
    /// kernel that frees a file where its last reference goes (`FileRelease`).
    var releasesSampled: Bool { fileFreesSampled && FileRelease.tellsReleases(on: kernel) }
    /// Whether the sampler has lost a sample so far: a close's release not
    /// found among its samples is then not known to be elsewhere.
    public var samplesLost: () -> Bool = { false }
    /// The socket of a packet a traced task queued, as the kernel's BPF
    /// program read it at the sample's event (`ElsewhereTransmits`), when
    /// it runs.
    var packetSocket: ((KernelSample) -> PacketSocket?)?
    /// Kprobe hits taken outside any traced call (untraced syscalls, between calls): dropped.
    public private(set) var strayHits = 0

    /// A chain's alignments depend only on the chain and the operation: a
    /// busy connection repeats a few chains thousands of times. Bounded, so
    /// that memory stays flat on long traces.
    struct AlignmentKey: Hashable {
        let operation: String?
        /// The sampler's number for the chain (names, addresses) where it
        /// gave one: then `chain` and `addresses` are left empty.
        let serial: Int?
        let chain: ChainKey
        /// Evidence depends on the call sites, not only the names.
        let addresses: [UInt64]
        /// The softirq operation depends on the packets' family where the sample names it.
        var family: UInt64? = nil

        init(operation: String?, sample: KernelSample, family: UInt64? = nil) {
            self.operation = operation
            self.family = family
            serial = sample.chainSerial
            chain = ChainKey(serial == nil ? sample.chain : [])
            addresses = serial == nil ? sample.addresses : []
        }
    }
    var alignmentCache: [AlignmentKey: [ChainAlignment]] = [:]
    var scoreCache: [AlignmentKey: ChainAligner.Score] = [:]
    static let alignmentCacheLimit = 4096

    /// What the model's choice of operations for a call depends on: the
    /// syscall, and the socket's family, type, state and sharing.
    struct CandidatesKey: Hashable {
        let syscall: String
        let family: UInt64?
        let type: UInt64?
        let state: SocketInfo.State?
        let shared: Bool
        /// The arguments an operation is chosen by (shutdown's how).
        let selecting: [UInt64]
        /// The family of the address the call gave (connect's).
        let addressFamily: UInt64?
        /// The TCP state the call's own state changes left its socket in.
        let leftState: Int64?
    }
    var candidatesCache: [CandidatesKey: [StackOperation]] = [:]
    /// By syscall: the arguments its operations are chosen by.
    var selectingIndices: [String: [Int]] = [:]

    /// The model's operations for a call on `socket`, narrowest first:
    /// the same few answers for every call of a run, so each is worked out once.
    func candidateOperations(_ syscall: Syscall, socket: SocketSnapshot?, arguments: [UInt64],
                             addressFamily: UInt64? = nil, leftState: Int64? = nil) -> [StackOperation] {
        guard let model else { return [] }
        let indices = selectingIndices[syscall.rawValue] ?? {
            let found = model.selectingArguments(syscall)
            selectingIndices[syscall.rawValue] = found
            return found
        }()
        let key = CandidatesKey(syscall: syscall.rawValue, family: socket?.family, type: socket?.type, state: socket?.state,
                                shared: socket?.isShared ?? false,
                                selecting: indices.map { $0 < arguments.count ? arguments[$0] : 0 }, addressFamily: addressFamily,
                                leftState: leftState)
        if let known = candidatesCache[key] { return known }
        let found = model.operations(for: syscall, socket: socket, arguments: arguments, addressFamily: addressFamily, leftState: leftState)
        candidatesCache[key] = found
        return found
    }

    /// An operation's expected chain for a syscall, as the model gives it
    /// for this kernel: the same for every call, so worked out once.
    struct ExpectedKey: Hashable {
        let operation: String
        /// A syscall's name, or `exit` (StackOperation.exitEntry).
        let syscall: String
    }
    var expectedCache: [ExpectedKey: (functions: [ModelFunction], names: [String])] = [:]
    var pathsCache: [ExpectedKey: [[ModelFunction]]] = [:]

    /// The call's operation and each sample's, among the operations that
    /// fit the call's syscall and socket (narrowest first): each sample's
    /// is the one that explains its syscall frames best (ChainAligner.score:
    /// the handshake's last ACK, sent from release_sock's backlog, under
    /// connect); the call's the one that is best for the most samples, then
    /// the best over all of them together, then the narrowest; a sample
    /// that tells none apart (one at the syscall's entry) takes the call's.
    /// `entry`: the model's entry the chains start with (a syscall's name, or `exit`).
    func operations(for samples: [KernelSample], candidates: [StackOperation], entry syscall: String)
        -> (call: StackOperation?, perSample: [StackOperation?]) {
        guard candidates.count > 1 else { return (candidates.first, samples.map { _ in candidates.first }) }
        // The choice depends only on the candidates, the entry and the
        // chains (by the sampler's serial): a busy trace makes the same few
        // choices again and again (the ping-pong's 40,000 sends: a third of
        // the time its calls took to correlate went to scoring them afresh).
        let serials = samples.compactMap(\.chainSerial)
        let key = serials.count == samples.count ? ChoiceKey(candidates: ChainKey(candidates.map(\.name)), entry: syscall, serials: serials) : nil
        if let key, let known = choiceCache[key] { return (candidates[known.call], known.perSample.map { candidates[$0] }) }
        let chosen = choose(among: candidates, for: samples, entry: syscall)
        if let key {
            if choiceCache.count >= Self.alignmentCacheLimit { choiceCache.removeAll(keepingCapacity: true) }
            choiceCache[key] = chosen
        }
        return (candidates[chosen.call], chosen.perSample.map { candidates[$0] })
    }

    /// What `operations(for:candidates:entry:)` chose, by index among the candidates.
    struct ChoiceKey: Hashable {
        let candidates: ChainKey
        let entry: String
        let serials: [Int]
    }
    var choiceCache: [ChoiceKey: (call: Int, perSample: [Int])] = [:]

    func choose(among candidates: [StackOperation], for samples: [KernelSample], entry syscall: String) -> (call: Int, perSample: [Int]) {
        let scores = samples.map { sample in candidates.map { syscallScore(sample, $0, syscall: syscall) } }
        func best(_ totals: [ChainAligner.Score]) -> Int {
            totals.indices.reduce(0) { totals[$1].syscallRank > totals[$0].syscallRank ? $1 : $0 }
        }
        let totals = candidates.indices.map { index in
            scores.reduce(ChainAligner.Score(shown: 0, contradicted: 0)) { sum, sample in
                ChainAligner.Score(shown: sum.shown + sample[index].shown, contradicted: sum.contradicted + sample[index].contradicted,
                                   unexplained: sum.unexplained + sample[index].unexplained)
            }
        }
        // Samples for which each candidate alone is the best.
        var votes = [Int](repeating: 0, count: candidates.count)
        for sample in scores {
            let top = sample[best(sample)].syscallRank
            let tied = sample.indices.filter { sample[$0].syscallRank == top }
            if tied.count == 1 { votes[tied[0]] += 1 }
        }
        var callIndex = candidates.indices.reduce(0) { chosen, index in
            let (a, b) = (totals[index].syscallRank, totals[chosen].syscallRank)
            return (votes[index], a.0, a.1, a.2) > (votes[chosen], b.0, b.1, b.2) ? index : chosen
        }
        // A part of another operation (the handshake's last ACK, within connect) is not the call's.
        if let whole = candidates[callIndex].within, let index = candidates.firstIndex(where: { $0.name == whole }) { callIndex = index }
        let perSample = scores.map { sample -> Int in
            let index = best(sample)
            return sample[index].syscallRank == sample[callIndex].syscallRank ? callIndex : index
        }
        return (callIndex, perSample)
    }

    /// How well `operation` explains a sample's syscall frames (cached: the
    /// same chains come back).
    func syscallScore(_ sample: KernelSample, _ operation: StackOperation, syscall: String) -> ChainAligner.Score {
        let key = AlignmentKey(operation: operation.name, sample: sample)
        if let known = scoreCache[key] { return known }
        let parts = ChainAligner.parts(sample.frames)
        let score = parts.syscall.isEmpty ? ChainAligner.Score(shown: 0, contradicted: 0)
            : ChainAligner.score(syscallAlignment(parts, operation: operation, entry: syscall, context: ChainAlignment.syscallContext))
        if scoreCache.count >= Self.alignmentCacheLimit { scoreCache.removeAll(keepingCapacity: true) }
        scoreCache[key] = score
        return score
    }

    /// The syscall part aligned with the path of the operation's call tree
    /// that explains it best (ChainAligner.score; the main path among equals).
    func syscallAlignment(_ parts: ChainAligner.Parts, operation: StackOperation, entry syscall: String, context: String) -> ChainAlignment {
        let candidates = paths(operation, entry: syscall).map { path in
            aligner.align(frames: parts.syscall, with: path, operation: operation.name, context: context, caller: parts.entry,
                          interrupted: parts.interrupted)
        }
        let best = candidates.indices.reduce(0) { ChainAligner.score(candidates[$1]) > ChainAligner.score(candidates[$0]) ? $1 : $0 }
        return candidates[best]
    }

    /// Every path of the operation's call tree for the syscall on this kernel, the main one first.
    func paths(_ operation: StackOperation, entry syscall: String) -> [[ModelFunction]] {
        let key = ExpectedKey(operation: operation.name, syscall: syscall)
        if let known = pathsCache[key] { return known }
        let found = operation.paths(for: syscall, kernel: kernel)
        pathsCache[key] = found
        return found
    }

    func expected(_ operation: StackOperation?, entry syscall: String) -> (functions: [ModelFunction], names: [String]) {
        guard let operation else { return ([], []) }
        let key = ExpectedKey(operation: operation.name, syscall: syscall)
        if let known = expectedCache[key] { return known }
        let functions = operation.chain(for: syscall, kernel: kernel)
        let found = (functions, functions.map(\.name))
        expectedCache[key] = found
        return found
    }

    /// `code` is the kernel's code (the evidence behind tail calls and
    /// calls beside the path), or why it cannot be read.
    public init(model: StackModel?, symbols: KernelSymbols?, kernel: KernelVersion? = .running,
                code: Result<KernelCodeSource, TraceError>? = nil) {
        self.model = model
        switch code {
        case let .success(source)?:
            self.aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: source))
        case let .failure(error)?:
            self.aligner = ChainAligner(symbols: symbols, codeUnreadable: "the kernel's code cannot be read (\(error.description))")
        case nil:
            self.aligner = ChainAligner(symbols: symbols)
        }
        self.kernel = kernel
    }

    /// With `--vmlinux`: DWARF for the inline copies in functions entered
    /// by tail calls (frames carry their own, from the sampler).
    public func useDWARF(_ resolver: KernelSourceResolver) {
        aligner.dwarf = resolver
        alignmentCache.removeAll()
        scoreCache.removeAll()
        choiceCache.removeAll()
    }

    /// The running kernel's code, read through BPF, or why it cannot be.
    public static func readCode(_ symbols: KernelSymbols?) -> Result<KernelCodeSource, TraceError> {
        guard let symbols else { return .failure(TraceError(operation: "no kernel symbols")) }
        do {
            return .success(KernelCode(symbols: symbols, text: try KernelText()))
        } catch let error as TraceError {
            return .failure(error)
        } catch {
            return .failure(TraceError(operation: "\(error)"))
        }
    }

    public func add(_ samples: [KernelSample]) {
        connectionStates.record(samples)
        for sample in samples { pending[sample.tid, default: SampleQueue()].append(sample) }
    }

    /// Threads with samples waiting for a call.
    var waitingThreads: [Int32] { Array(pending.keys) }

    /// Samples on `tid` taken before `time` (all of them if nil): they belong to no traced call.
    public func takeStray(tid: Int32, before time: MonotonicTime?) -> [KernelSample] {
        guard pending[tid] != nil else { return [] }
        var stray = pending[tid]!.take(before: time)
        if pending[tid]!.isEmpty { pending[tid] = nil }
        let abandoned = abandonedCalls[tid]
        if let abandoned, let inode = abandoned.inode, !heldFiles.isEmpty {
            // The free of a file a close left to that call, on its socket: the call's reference, the last.
            stray = stray.map { sample in
                guard sample.time >= abandoned.from, FileRelease.isFileFree(sample), let pointer = sample.fields["ptr"]?.number,
                      let held = heldFiles[UInt64(bitPattern: pointer)], held.inode == inode else { return sample }
                heldFiles[UInt64(bitPattern: pointer)] = nil
                var sample = sample
                sample.releasesHeldFile = "the file's last reference, which \(held.close) left to this call, dropped as the thread "
                    + "ended in it (the release of that close's file)"
                return sample
            }
        }
        if let abandoned, abandoned.releasesHeld {
            // Files freed as that call, which held sockets another thread's
            // call closed, left the kernel (audit 83 P2: left out).
            stray = stray.map { sample in
                guard sample.time >= abandoned.from, sample.releasesHeldFile == nil, FileRelease.isFileFree(sample),
                      sample.atSyscallStop == .exit else { return sample }
                var sample = sample
                sample.releasesHeldFile = "a file freed as that call left the kernel: of a socket another thread's call closed while it held it, "
                    + "or one its release let go of (not shown which)"
                return sample
            }
        }
        stray = keepingOwnFileFree(markingHeldFileFreesBetweenCalls(stray), in: nil).map { sample in
            var sample = sample
            // Work in a call its thread ended in (audit 80 F1).
            if let abandoned, sample.time >= abandoned.from {
                sample.inTracedTask = Self.inAbandonedCall(abandoned.name, atExitStop: sample.atSyscallStop == .exit)
                    + (sample.releasesHeldFile.map { ": " + $0 } ?? "")
                return sample
            }
            // The release of a file a close left to a call in flight on
            // it: where that reference went (audit 70: linked to no call).
            guard let release = sample.releasesHeldFile else { return sample }
            sample.inTracedTask = sample.outsideCallsContext + ": " + release
            return sample
        }
        var events = stray.filter { $0.role != .hit && $0.role != .returned }
        // In a call its thread ended in, a hit no other sample continues is
        // a stack of its own, as in a call that returned (audit 81 N3: an
        // abandoned connect's state change left out).
        if abandoned != nil {
            let hits = stray.filter { $0.role == .hit && abandonedContext(of: $0) != nil }
            events = (events + Self.leaves(hits, among: stray)).sorted { $0.time < $1.time }
        }
        strayHits += stray.count - events.count
        // Hits of probes sampled everywhere are kept only for traced flows,
        // in a call or not (chains aligned there): a timer that fired in this
        // thread for another program's connection is not this thread's
        // (audit 9: an untraced SYN's timeout shown as a traced thread's event).
        // In a call its thread ended in, they are that call's work, its own
        // flow or not (audit 81 N3: a connect's CLOSE → SYN_SENT, port 0, left out).
        let (everywhere, others) = events.partitioned {
            $0.everywhere && ($0.role == .chain || $0.flowEndpoints != nil) && abandonedContext(of: $0) == nil
        }
        background.waiting += everywhere.map { sample in
            var sample = sample
            sample.inTracedTask = abandonedContext(of: sample) ?? sample.outsideCallsContext
            return sample
        }
        // Softirq work not known to be a traced socket's is shown too, with
        // its chain aligned as any softirq work's (audit 20: hidden).
        return withFlowsBetweenCalls(withoutUntracedTimerWork(others, named: everywhere), named: everywhere, taken: stray, before: time).map { sample in
            var sample = sample
            // Work on the way to a stop, not an interrupt's (a file's last
            // reference dropped as a call returned: `syscall_exit_work →
            // ptrace_notify → task_work_run → __fput → … tcp_close`, audit
            // 69 M1) says where it was, in the trace file as in the text.
            if sample.inTracedTask == nil, sample.atSyscallStop != nil { sample.inTracedTask = sample.outsideCallsContext }
            // Whoever's packet it handled (a traced socket's receive
            // between its calls was said "unmodelled", unaligned).
            guard sample.alignments == nil, sample.role == .chain, sample.sides.softirq else { return sample }
            sample.alignments = softirqAlignments(sample)
            return sample
        }
    }

    /// Softirq work a traced thread ran between its calls (an interrupt's
    /// softirqs run on whatever task the CPU was in) says whose packet it
    /// handled: a receive by its skb, when a traced call queued it (a
    /// traced socket's packet, or the kernel's answer to one), what that
    /// receive sent after it the same way turned round; anything else is
    /// said not known, since these tracepoints give no addresses and the
    /// work may be another program's (audit 11: another connection's
    /// receives, ACKs and loss probes shown as the thread's events).
    /// `before`: the time the samples were taken before (the thread's
    /// next call's entry), all of the thread's samples before it drained.
    /// `taken`: all the thread's samples taken with them (those left out too).
    func withFlowsBetweenCalls(_ samples: [KernelSample], named: [KernelSample], taken: [KernelSample] = [],
                               before bound: MonotonicTime? = nil) -> [KernelSample] {
        // A traced flow's retransmissions, named by tcp_retransmit_skb: the packet each sent is that flow's.
        let retransmissions = named.filter { $0.role == .chain && $0.sides.softirq && !$0.addresses.isEmpty && background.isTraced($0) }
        // The receive being handled: what it is said to be, and its sender when a traced call queued it.
        var current: (packet: String, owner: PacketFlow.Owner, sender: QueuedPackets.Sender?)?
        return samples.sorted { $0.time < $1.time }.map { sample in
            var sample = sample
            let sides = sample.sides
            // A packet the thread queued itself in a call the trace does not
            // record (`-e trace=!sendto`): its receive then names that call
            // (audit 31 M3: "may be another program's").
            if !sides.softirq, !sample.everywhere, sample.tracepoint == KernelSample.transmitTracepoint {
                if let (ends, anchor) = releasedConnection(sending: sample, among: samples + named), let skb = sample.skbAddress {
                    // A socket's release in task work (a file's last
                    // reference dropped as a call returned, or a call its
                    // thread ended in): its state change names it.
                    let context = abandonedContext(of: sample) ?? sample.outsideCallsContext
                    queuedPackets.queued(skb: skb, device: sample.device, by: .init(
                        local: ends.source, peer: ends.destination,
                        call: "\(Self.releaseWork(anchor)) in thread \(sample.tid) \(context.prefix { $0 != "," })",
                        time: sample.time, length: sample.packetLength))
                } else if sample.chain.contains(where: ChainAligner.isSyscallEntry), abandonedContext(of: sample) != nil,
                          let abandoned = abandonedCalls[sample.tid], abandoned.inode != nil || abandoned.peer != nil, let skb = sample.skbAddress {
                    // Queued in the call its thread ended in, on that call's
                    // socket (audit 82 minor a: "whose socket, not known").
                    queuedPackets.queued(skb: skb, device: sample.device, by: .init(
                        local: abandoned.peer == nil ? nil : abandoned.local, peer: abandoned.local == nil ? nil : abandoned.peer,
                        inode: abandoned.inode, call: "its \(abandoned.name) in thread \(sample.tid) (which never returned)",
                        time: sample.time, length: sample.packetLength))
                } else if let entry = sample.chain.last(where: ChainAligner.isSyscallEntry) {
                    register(sample, as: .unrecordedCall, by: "\(entry) in this thread, "
                                + (abandonedContext(of: sample) != nil ? "a call its thread ended in" : "a call the trace does not record"))
                }
            }
            guard sides.softirq, !sample.everywhere, sample.flow == nil else { return sample }
            let context = abandonedContext(of: sample) ?? sample.outsideCallsContext
            sample.inTracedTask = context
            let work = "\(sides.softirqKind ?? "unknown") softirq work run " + sample.placeOutsideCalls(context)
            let notKnown = "whose packet it handled is not known (\(sample.tracepoint) gives no addresses): it may be another program's"
            // (In a receive too: a retransmission an ACK set off, audit 12.)
            if let start = retransmissions.first(where: { Self.continues(sample, $0) }),
               let ends = start.flowEndpoints, let owner = background.owner(of: ends.source, ends.destination) {
                // The segment a traced flow's retransmission sent (audit 10's link, for the traced flow's own);
                // in a receive, what follows is still that receive's.
                if sides.softirqKind != "NET_RX" { current = nil }
                let said = "\(ends.source) → \(ends.destination)"
                sample.flow = PacketFlow(owner: owner, evidence: "\(work): taken in the call of \(start.chain[0]) that \(start.tracepoint) for \(said), "
                                            + "a traced socket's, then reported (the next such hit on CPU \(start.cpu), with the same return addresses from there out)")
                queueRetransmitted(sample, named: start, ends: ends, in: work)
            } else if sides.softirqKind == "NET_RX", sample.tracepoint == KernelSample.receiveTracepoint, let skb = sample.skbAddress {
                let name = "skb 0x" + String(UInt64(bitPattern: skb), radix: 16)
                let sender = queuedPackets.takeSender(of: skb, at: sample.time, length: sample.packetLength, device: sample.device)
                if let sender, sender.kind == .socket || sender.kind == .kernelReply {
                    current = ("\(name) queued by \(sender.described)", sender.kind == .kernelReply ? .kernelReply : .ownSocket, sender)
                    sample.flow = PacketFlow(owner: current!.owner, evidence: "\(work): \(current!.packet), a traced socket's packet")
                } else if let sender, sender.kind == .unrecordedCall {
                    current = ("\(name) queued by \(sender.described)", .unverified, nil)
                    sample.flow = PacketFlow(owner: .unverified, evidence: "\(work): \(name) queued by \(sender.described): whose socket, not known")
                } else if let crossed = queuedPackets.takeCrossDevice(of: skb, at: sample.time, length: sample.packetLength, device: sample.device) {
                    current = ("\(name) \(crossed)", .unverified, nil)
                    sample.flow = PacketFlow(owner: .unverified, evidence: "\(work): \(name) \(crossed)")
                } else {
                    current = ("\(name), not seen leaving a traced call", .unverified, nil)
                    sample.flow = PacketFlow(owner: .unverified, evidence: "\(work): \(name) was not seen leaving a traced call; \(notKnown)")
                }
            } else if sides.softirqKind == "NET_RX", let packet = current, sample.chain.contains(where: KernelSample.packetReceiveFrames.contains) {
                let transmit = sample.tracepoint == KernelSample.transmitTracepoint
                if transmit, let sender = packet.sender, sender.kind == .socket, !sample.isNeighbourSolicitation,
                   (sender.local != nil && sender.peer != nil) || sender.inode != nil {
                    // Sent back to the traced socket that sent the packet being received.
                    let reply = sample.isKernelReply
                    sample.flow = PacketFlow(owner: reply ? .kernelReply : .peer,
                                             evidence: "\(work): sent in the receive of \(packet.packet), back to that traced socket"
                                                + (reply ? " by the kernel (built by \(sample.replySender ?? "?"): \(KernelSample.replyMaker(sample.replySender ?? "")))" : " by its peer"))
                    if let skb = sample.skbAddress { queueAnswer(sample, skb: skb, to: sender) }
                } else {
                    let proven = packet.sender != nil && !transmit
                    sample.flow = PacketFlow(owner: proven ? packet.owner : .unverified,
                                             evidence: "\(work): in the receive of \(packet.packet)" + (proven ? "" : "; " + notKnown))
                    register(sample, as: sample.isNeighbourSolicitation ? .neighbour : .unknown, by: work)
                }
            } else if sample.tracepoint == KernelSample.transmitTracepoint, let socket = socketOfPacket(sample, among: samples + taken, before: bound),
                      let ends = socket.ends, let written = socket.written {
                // A timer's transmit (a delayed ACK) on the thread: its
                // packet's socket as the BPF program read it at the same
                // event (audit 87: "may be another program's" here, while
                // the same timer on another CPU was told by these).
                // Which socket, by its struct sock: a 4-tuple is another
                // socket's once the traced one is gone (audit 90 F1: an
                // untraced program's connection on a closed traced one's
                // 4-tuple, "a traced socket's").
                current = nil
                let sock = "0x" + String(socket.sock, radix: 16)
                let said = "the packet's socket (skb->sk \(sock), read by the BPF program at this event) is \(written.source) → \(written.destination)"
                let flow = BackgroundWork.Flow(source: ends.source, destination: ends.destination)
                let owner = background.owner(of: ends.source, ends.destination)
                if owner == .ownSocket, background.tracedSocks[flow]?.contains(Int64(bitPattern: socket.sock)) == true {
                    sample.flow = PacketFlow(owner: .ownSocket, evidence: "\(work): \(said), a traced socket's (traced calls on it acted on \(sock))",
                                             ofSocket: true)
                    if let skb = sample.skbAddress {
                        queuedPackets.queued(skb: skb, device: sample.device, by: .init(local: ends.source, peer: ends.destination, call: work,
                                                                                      time: sample.time, length: sample.packetLength))
                    }
                } else {
                    let why = owner == nil ? "no traced socket's 4-tuple"
                        : "a traced socket's 4-tuple (or its peer's), but no traced call was seen to act on \(sock)"
                    sample.flow = PacketFlow(owner: .unverified, evidence: "\(work): \(said), \(why): whose, not known")
                    register(sample, as: .unknown, by: work)
                }
            } else {
                current = nil
                sample.flow = PacketFlow(owner: .unverified, evidence: "\(work); \(notKnown)")
                register(sample, as: .unknown, by: work)
            }
            return sample
        }
    }

    /// A call's socket's `struct sock`, from its own samples outside
    /// softirq work: its state changes (naming its 4-tuple) and its sends'
    /// and receives' (`BackgroundWork.tracedSocks`); or the one socket the
    /// sampled state changes left open on its 4-tuple when the call
    /// returned (an accepted connection's, made in softirq work), and on
    /// its peer's.
    func learnTracedSocks(of call: SyscallInvocation, from samples: [KernelSample]) {
        guard let local = call.socket?.local?.forPairing, let peer = call.socket?.peer?.forPairing else { return }
        let flow = BackgroundWork.Flow(source: local, destination: peer)
        if !samplesLost(), let exit = call.exitTime {
            // Its peer's too, on this machine: the other end's socket then.
            let reverse = BackgroundWork.Flow(source: peer, destination: local)
            if let sock = connectionStates.openSock(flow, at: exit) { background.tracedSock(sock, of: flow) }
            if let sock = connectionStates.openSock(reverse, at: exit) { background.tracedSock(sock, of: reverse) }
        }
        for sample in samples where !sample.sides.softirq {
            let sock: Int64?
            switch sample.tracepoint {
            case "sock:inet_sock_set_state":
                sock = sample.flowEndpoints.map { $0.source == local && $0.destination == peer } == true ? sample.fields["skaddr"]?.number : nil
            case "sock:sock_send_length", "sock:sock_recv_length":
                sock = sample.fields["sk"]?.number
            default:
                sock = nil
            }
            guard let sock else { continue }
            background.tracedSock(sock, of: flow)
        }
    }

    /// When each thread's latest finished call ended in the kernel (its
    /// `sys_exit` where known): the packets it queued were before.
    var callEnded: [Int32: MonotonicTime] = [:]

    /// The socket of a packet a traced thread queued between its calls,
    /// as the BPF program kept it by skb and time (`PacketSocket`), when the entry
    /// is this packet's: the program's time for it within
    /// `PacketSocket.tolerance` of the sample's, and no later packet at
    /// the same address can have replaced it — none of the thread's
    /// samples since has that skb, and the entry was written before the
    /// thread's next call began (its packets come after that; the
    /// thread's samples before it are all drained; with samples lost, not
    /// taken), nor can it be an earlier packet's left there (written after
    /// the thread's previous call ended, and no other sample of the thread
    /// at that address within the tolerance). An entry another packet wrote
    /// is not taken for this one's.
    func socketOfPacket(_ sample: KernelSample, among samples: [KernelSample], before bound: MonotonicTime?) -> PacketSocket? {
        // A lost sample may be another packet at the address close by.
        guard !samplesLost(), let socket = packetSocket?(sample), let skb = sample.skbAddress else { return nil }
        let time = sample.time.nanoseconds, written = socket.time
        guard written &+ PacketSocket.tolerance >= time, written <= time &+ PacketSocket.tolerance else { return nil }
        if let bound, written >= bound.nanoseconds { return nil }
        // A packet with no socket writes no entry: an earlier packet's at
        // the address may still be there (one of the thread's previous
        // call, or of its samples since).
        if let previous = callEnded[sample.tid], written <= previous.nanoseconds { return nil }
        let ambiguous = samples.contains { other in
            guard other.tid == sample.tid, other.time != sample.time, other.tracepoint == KernelSample.transmitTracepoint,
                  other.skbAddress == skb else { return false }
            return other.time > sample.time ? other.time.nanoseconds <= written &+ PacketSocket.tolerance
                : other.time.nanoseconds &+ PacketSocket.tolerance >= written
        }
        return ambiguous ? nil : socket
    }

    /// The TCP state a successful connect's own state changes left its
    /// socket in: the last sampled change of the socket (skaddr) that its
    /// own TCP_CLOSE → TCP_SYN_SENT, under __inet_stream_connect, names. A
    /// connect returning 0 with it still in TCP_SYN_SENT sent no SYN: TCP
    /// Fast Open deferred it to the first send (`leaves`).
    /// A sample on tcp_connect's path (its SYN queued, or dropped before
    /// leaving: audit 38 F1, a SYN netfilter dropped, sent again by the
    /// timer) shows the SYN was sent: Fast Open's deferral never calls it.
    static func leftState(of call: SyscallInvocation, samples: [KernelSample]) -> Int64? {
        guard call.syscall == .connect, call.result?.failed == false,
              !samples.contains(where: { $0.chain.contains("tcp_connect") }),
              let own = samples.first(where: { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["oldstate"]?.number == TCPState.close
                  && $0.fields["newstate"]?.number == TCPState.synSent && $0.chain.contains("__inet_stream_connect") }),
              let sock = own.fields["skaddr"]?.number else { return nil }
        return samples.last { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["skaddr"]?.number == sock }?.fields["newstate"]?.number
    }

    /// A connect (or Fast Open sendto) whose socket left TCP_SYN_SENT in
    /// another task while the call slept (a reset or ICMP error answering a
    /// retransmitted SYN, taken in by a softirq on another CPU): found among
    /// the hits waiting outside the traced tasks by the socket's kernel
    /// address, which the call's own CLOSE → SYN_SENT names. Its 4-tuple is
    /// then a traced flow, so the retransmitted SYNs and the reset are kept
    /// and shown (audit 20: a refusal after a dropped SYN had no record and
    /// none of its kernel events).
    func closedElsewhere(for call: SyscallInvocation, samples: [KernelSample], until exit: MonotonicTime) -> KernelActivity.ClosedElsewhere? {
        guard call.connectAddress != nil, call.result?.failed == true, (call.socket?.local?.port ?? 0) == 0,
              let own = samples.first(where: { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["oldstate"]?.number == TCPState.close
                  && $0.fields["newstate"]?.number == TCPState.synSent && $0.chain.contains("__inet_stream_connect") }),
              let sock = own.fields["skaddr"]?.number,
              let ended = background.waiting.first(where: { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["skaddr"]?.number == sock
                  && $0.fields["oldstate"]?.number == TCPState.synSent && $0.time >= call.entryTime && $0.time <= exit }),
              let (source, destination) = ended.flowEndpoints, source.port != 0 else { return nil }
        background.traced(flow: source, destination, until: exit)
        let address = "0x" + String(UInt64(bitPattern: sock), radix: 16)
        return KernelActivity.ClosedElsewhere(local: "\(source)", peer: "\(destination)",
                                              evidence: "\(ended.heading), in \(background.task(of: ended)) on CPU \(ended.cpu), of the socket "
                                                + "(\(address)) this call's own TCP_CLOSE → TCP_SYN_SENT named")
    }

    /// Another program's retransmission that a timer ran in this thread
    /// between its calls: the packet it sent (taken before the
    /// tcp_retransmit_skb that names its flow, in the same call of
    /// __tcp_retransmit_skb), and that packet's receive and drop by its
    /// skb, are dropped with it; they are not the thread's (audit 10). A
    /// traced flow's stay the thread's events, as before.
    func withoutUntracedTimerWork(_ samples: [KernelSample], named: [KernelSample]) -> [KernelSample] {
        let untraced = named.filter { $0.role == .chain && $0.sides.softirq && $0.flowEndpoints != nil && !background.isTraced($0) }
        guard !untraced.isEmpty else { return samples }
        var foreign: Set<Int64> = []
        var kept: [KernelSample] = []
        for sample in samples.sorted(by: { $0.time < $1.time }) {
            if sample.sides.softirq, untraced.contains(where: { Self.continues(sample, $0) }) {
                if let skb = sample.skbAddress { foreign.insert(skb) }
                background.dropped += 1
            } else if let skb = sample.skbAddress, foreign.contains(skb) {
                // Once freed, the address may be another packet's.
                if sample.tracepoint == "skb:kfree_skb" { foreign.remove(skb) }
                background.dropped += 1
            } else {
                kept.append(sample)
            }
        }
        return kept
    }

    /// The kernel activity of a finished call, taking its samples (those
    /// from before its entry, not taken as stray, are dropped).
    public func activity(for call: SyscallInvocation) -> KernelActivity {
        let exit = call.exitTime ?? .now()
        var taken: [KernelSample] = []
        if pending[call.tid] != nil {
            let through = pending[call.tid]!.take(through: exit)
            taken = through.filter { $0.time >= call.entryTime }
            beforeTheirCall += through.count - taken.count
        }
        // Whether a close released its file, from all its samples (those at
        // its stops too).
        let released = FileRelease.released(by: call, window: taken, sampled: releasesSampled, samplesLost: samplesLost())
        var leftBy: String?
        taken = keepingOwnFileFree(markingFilesItClosed(markingHeldFileReleases(taken, of: call, leftBy: &leftBy), of: call), in: call)
        let returnRelease = releaseOnReturn(taken, of: call, leftBy: leftBy)
        // Work an interrupt ran while the thread was at the call's entry
        // or exit stop is inside the tracer's times for the call but
        // outside the kernel's: not the call's, nor in its duration. It
        // waits with the thread's strays, said to be at that stop
        // (audit 68 P2: a pacing timer's transmit at a recvfrom's exit
        // stop, 114 µs after its sys_exit, shown as the recvfrom's own
        // and its <192 µs> made <228 µs>).
        if taken.contains(where: { $0.atSyscallStop != nil }) {
            for sample in taken where sample.atSyscallStop != nil { pending[call.tid, default: SampleQueue()].append(sample) }
            taken.removeAll { $0.atSyscallStop != nil }
        }
        if pending[call.tid]?.isEmpty == true { pending[call.tid] = nil }
        var hitSamples: [KernelSample] = [], returns: [KernelSample] = [], mine: [KernelSample] = []
        mine.reserveCapacity(taken.count)
        for sample in taken {
            switch sample.role {
            case .hit: hitSamples.append(sample)
            case .returned: returns.append(sample)
            default: mine.append(sample)
            }
        }
        // A hit whose stack no other sample of the call continues is a stack
        // of its own: it is aligned as a tracepoint's chain is.
        if !hitSamples.isEmpty { mine = (mine + Self.leaves(hitSamples, among: taken)).sorted { $0.time < $1.time } }
        background.traced(call.socket, until: exit)
        let closedElsewhere = closedElsewhere(for: call, samples: taken, until: exit)
        let attributed = attributeFlows(mine, to: call)
        mine = attributed.kept
        otherFlows += attributed.others
        connectionStates.learn(call.socket, from: mine)
        learnTracedSocks(of: call, from: mine)
        if packetSocket != nil {
            if callEnded.count >= Self.heldFilesLimit, callEnded[call.tid] == nil { callEnded.removeAll(keepingCapacity: true) }
            callEnded[call.tid] = call.kernelExitTime ?? exit
        }
        connectionStates.attribute(mine, to: "\(call.name) in thread \(call.tid)")
        // A connection the kernel closed (a reset received) while the
        // program's calls on it all succeeded: its operations are a closed
        // socket's.
        // A connect's operation depends on the socket as the call found it
        // (a second connect sends nothing), not as it left it.
        var found = call.socket
        if let state = call.connectStart?.state { found?.state = state }
        // As the kernel found it when it began the call (its sys_enter), not
        // when the tracer let the thread go (audit 65 M2: a FIN_WAIT2 →
        // TCP_CLOSE 170 µs after the release, 299 µs before the close's
        // sys_enter, left the close named tcp_close_after_shutdown).
        var (socket, closedByKernel) = connectionStates.asKernelLeftIt(found, before: call.startTime)
        // A close the kernel showed release its file, or leave it to
        // another reference, is that close whatever the descriptors say.
        if released != nil { socket?.releasedByClose = released }
        let chains = mine.filter { $0.role == .chain && !$0.chain.isEmpty }
        // An operation told by its own functions (`shown_by`) is a
        // candidate only when a sample shows one of them (audit 95 F1: a
        // send on a connected socket whose backlog took in a reset, which
        // fits a Fast Open send's SYN-ACK branch better than tcp_send's
        // frames, was called a Fast Open send).
        let candidates = candidateOperations(call.syscall, socket: socket, arguments: call.arguments,
                                             addressFamily: call.connectStart?.addressFamily, leftState: Self.leftState(of: call, samples: mine))
            .filter { candidate in candidate.shownBy.map { names in chains.contains { $0.chain.contains(where: names.contains) } } ?? true }
        var (operation, perSample) = operations(for: chains, candidates: candidates, entry: call.syscall.rawValue)
        // A failed call is counted under the operation that stands for its
        // error (a refused connect), its chains each keeping their own; not
        // one for wider sockets than the call's (a second connect told
        // ECONNREFUSED did not take in the reset).
        if let errno = call.result?.errno, let name = ErrnoName.name(Int(errno)),
           let failure = candidates.first(where: { $0.result == name && $0.precedence == candidates[0].precedence }) {
            operation = failure
        }
        // A connect that left its socket where only one operation does (a
        // deferred Fast Open connect, in TCP_SYN_SENT with nothing sent) is
        // that one's, whatever its samples of the route and port share with
        // others.
        if let leaving = candidates.first(where: { $0.leaves != nil }) { operation = leaving }
        // A call a sample shows on a path only one operation runs (its
        // `shown_by` functions on the stack) is that one's.
        if let shown = candidates.first(where: { $0.shownBy != nil }) { operation = shown }
        // A call that failed with an error no operation stands for, with
        // nothing sampled: the model's chain is a successful call's, not
        // this one's (audit: a shutdown failing with ENOTCONN was said to
        // send a FIN, "expected (not observed)"). EINPROGRESS is a
        // non-blocking connect under way: its SYN leaves.
        let failedUnmodelled = call.result?.errno.map { $0 != EINPROGRESS && operation?.result == nil } ?? false
        let expectedNames = failedUnmodelled && taken.isEmpty ? [] : self.expected(operation, entry: call.syscall.rawValue).names
        var alignments: [ChainAlignment] = []
        for (sample, sampleOperation) in zip(chains, perSample) {
            let key = AlignmentKey(operation: sampleOperation?.name, sample: sample, family: sample.pathFamily)
            let found: [ChainAlignment]
            if let known = alignmentCache[key] {
                found = known
            } else {
                found = align(sample.frames, operation: sampleOperation, entry: call.syscall.rawValue, family: sample.pathFamily,
                              subject: sample.allocatingFunction)
                if alignmentCache.count >= Self.alignmentCacheLimit { alignmentCache.removeAll(keepingCapacity: true) }
                alignmentCache[key] = found
            }
            let hitsByFunction = hitSamples.isEmpty ? [:] : Dictionary(grouping: hitSamples, by: Self.hitFunction)
            for var alignment in found {
                if !hitsByFunction.isEmpty { alignment = Self.withHits(alignment, sample: sample, hits: hitsByFunction) }
                if chains.count > 1 { alignment = Self.withSamplesBeside(alignment, of: sample, samples: chains) }
                alignment.sample = sample.heading
                alignments.append(alignment)
            }
        }
        var activity = KernelActivity(operation: operation?.name, source: taken.isEmpty ? .expected : .observed,
                                      expected: expectedNames, samples: mine, alignments: alignments)
        activity.closedElsewhere = closedElsewhere
        if released == false {
            activity.fileRelease = FileRelease.heldStatement(call)
            if let file = call.closedFile, let inode = call.socket?.inode {
                if heldFiles.count >= Self.heldFilesLimit { heldFiles.removeAll(keepingCapacity: true) }
                heldFiles[file] = HeldFile(close: "\(call.name)(\(call.socket?.fd ?? Int32(truncatingIfNeeded: call.argument(0)))) of \(call.tid) "
                                           + "(file 0x\(String(file, radix: 16)))",
                                           inode: inode, closeEnded: call.kernelExitTime ?? call.exitTime ?? call.startTime,
                                           local: call.socket?.local?.forPairing, peer: call.socket?.peer?.forPairing)
            }
        } else if released == true {
            activity.fileRelease = FileRelease.releasedStatement(call)
        } else if let returnRelease {
            activity.fileRelease = returnRelease
        }
        if let closedByKernel, operation?.sockets == .tcpUnconnected {
            activity.socketState = "the socket was already in TCP_CLOSE before this call, put there \(closedByKernel.cause) (\(closedByKernel.heading))"
        }
        if let functionProbes {
            activity.hits = functionHits(hitSamples, operation: operation, syscall: call.syscall)
            if !returns.isEmpty { Self.addTimes(to: &activity.hits, entries: hitSamples, returns: returns) }
            let entered = Set(activity.hits.map(\.function))
            var seen: Set<String> = []
            var inPlay = expectedNames
            for alignment in alignments where alignment.operation != operation?.name {
                inPlay += model?.operation(named: alignment.operation)?.chain(for: nil, kernel: kernel).map(\.name) ?? []
            }
            for name in inPlay where !entered.contains(name) && seen.insert(name).inserted {
                activity.notHit.append(MissedFunction(function: name, reason: functionProbes.notHitReason(name)))
            }
        }
        return activity
    }

    /// Each function's time inside the call, from its return probe: a
    /// return closes the latest entry of the same function not yet closed
    /// (a recursive call returns first). Entries whose return the call did
    /// not see (a missed kretprobe, none placed) count in `count` only.
    static func addTimes(to hits: inout [FunctionHit], entries: [KernelSample], returns: [KernelSample]) {
        let events = (entries.map { (sample: $0, entry: true) } + returns.map { (sample: $0, entry: false) })
            .sorted { $0.sample.time < $1.sample.time }
        var open: [String: [MonotonicTime]] = [:]
        var inside: [String: (returned: Int, nanoseconds: UInt64)] = [:]
        for event in events {
            let name = hitFunction(event.sample)
            if event.entry {
                open[name, default: []].append(event.sample.time)
            } else if let entered = open[name]?.popLast() {
                inside[name, default: (0, 0)].returned += 1
                inside[name]!.nanoseconds += event.sample.time.nanoseconds &- entered.nanoseconds
            }
        }
        for index in hits.indices {
            let found = inside[hits[index].function]
            hits[index].returned = found?.returned ?? 0
            hits[index].insideNanoseconds = found?.nanoseconds ?? 0
        }
    }

    /// The function a kprobe sample is at (`kprobe:tcp_sendmsg`).
    static func hitFunction(_ sample: KernelSample) -> String {
        String(sample.tracepoint.dropFirst(Probe.kprobeGroup.count + 1))
    }

    /// Kprobe samples whose stack no other sample of the call continues
    /// (the innermost places the call's functions reached), as chain samples.
    static func leaves(_ hits: [KernelSample], among all: [KernelSample]) -> [KernelSample] {
        hits.filter { hit in
            let callers = hit.addresses.dropFirst()
            return !all.contains { other in
                other.addresses.count > hit.addresses.count && other.addresses.suffix(callers.count).elementsEqual(callers)
                    && other.chain[other.chain.count - hit.chain.count] == hit.chain[0]
            }
        }.map { hit in
            var leaf = KernelSample(tracepoint: hit.tracepoint, role: .chain, pid: hit.pid, tid: hit.tid, time: hit.time, cpu: hit.cpu,
                                    chain: hit.chain, fields: hit.fields)
            leaf.addresses = hit.addresses
            leaf.offsets = hit.offsets
            leaf.sources = hit.sources
            leaf.inlined = hit.inlined
            leaf.chainSerial = hit.chainSerial
            leaf.knownSides = hit.knownSides
            return leaf
        }
    }

    /// A function the model calls beside the path that the code left
    /// unproven (`beside`) is proven to have run by a sample taken inside
    /// it: another sample of the same
    /// call whose chain has it directly under a frame of the function that
    /// holds its call (the nearest matched function above its place), that
    /// frame's callers being this sample's, return address for return
    /// address (the same way down to it: in a loop, the same call of it).
    /// Then it ran beside the path (`ranBeside`), the witness quoted.
    ///
    /// A function the model nests that the code found called only off
    /// this path by the frames around its place (`notOnPath`) may still have
    /// run in this call beside it, called by the frame above its place at
    /// another site (through a pointer, which the code does not follow:
    /// inet_shutdown's `sk_prot->shutdown` before its release_sock, audit
    /// 95 F2). A witness with another return address in that frame proves
    /// it: it was called beside the path (`sibling`), and the model, which
    /// nests the path's next functions under it, differs.
    static func withSamplesBeside(_ alignment: ChainAlignment, of sample: KernelSample, samples: [KernelSample]) -> ChainAlignment {
        guard alignment.steps.contains(where: { $0.status == .beside || $0.status == .notOnPath }), !sample.addresses.isEmpty else {
            return alignment
        }
        var steps = alignment.steps
        var changed = false
        // In a softirq, one loop (process_backlog's) takes in packet after
        // packet under the same frames: there the witness must have the
        // sample's own packet (audit 16).
        let packet = alignment.isSyscallPart ? nil : sample.fields["skbaddr"]
        if !alignment.isSyscallPart && packet == nil { return alignment }
        for (index, step) in steps.enumerated() where step.status == .beside || step.status == .notOnPath {
            guard let caller = steps[..<index].last(where: { $0.status == .matched })?.function,
                  let mine = sample.chain.firstIndex(of: caller), mine < sample.addresses.count else { continue }
            let outward = sample.addresses[(mine + 1)...]
            // Off the path: called at another site of the frame's function
            // than the call in flight (at the same one it may be the path's
            // own call, left by a jump).
            let offPath = step.status == .notOnPath
            var witness: (sample: KernelSample, depth: Int)?
            search: for other in samples where other.addresses.count == other.chain.count
                && (packet == nil || other.fields["skbaddr"] == packet) {
                for position in other.chain.indices.dropLast() where other.chain[position] == step.function
                    && other.chain[position + 1] == caller && other.addresses[(position + 2)...].elementsEqual(outward)
                    && (!offPath || other.addresses[position + 1] != sample.addresses[mine]) {
                    witness = (other, position)
                    break search
                }
            }
            guard let (other, depth) = witness else { continue }
            let stack = (0...depth + 1).reversed().map { other.location($0) }.joined(separator: " → ")
            if offPath {
                // Starts with the calling frame's place, where a timeline draws it.
                let evidence = "\(other.location(depth + 1)) (its return address) called it in this call, beside the call in flight "
                    + "(\(sample.location(mine))): \(other.heading) was taken inside it, under the same frames: … \(stack)"
                steps[index] = .init(function: step.function, layer: step.layer, status: .sibling, evidence: evidence)
            } else {
                let evidence = "\(other.heading) was taken inside it in this call, under the same frames: … \(stack)"
                    + (step.evidence.map { "; as modelled: " + $0 } ?? "")
                steps[index] = .init(function: step.function, layer: step.layer, status: .ranBeside, evidence: evidence)
            }
            changed = true
        }
        guard changed else { return alignment }
        return ChainAlignment(operation: alignment.operation, steps: steps, extraFrames: alignment.extraFrames,
                              observed: alignment.observed, context: alignment.context, sample: alignment.sample)
    }

    /// A model function missing from a stack whose kprobe fired in the call
    /// under the same frame (the one above its place: the same call site of
    /// the same path) is `hit`: it ran there, entered and left before the
    /// sample or after it. What the code proved before is kept beside.
    static func withHits(_ alignment: ChainAlignment, sample: KernelSample, hits: [String: [KernelSample]]) -> ChainAlignment {
        let parts = ChainAligner.parts(sample.frames)
        let part = alignment.isSyscallPart ? parts.syscall : parts.softirq
        var outer = alignment.isSyscallPart ? parts.entry : parts.connecting.last
        var position = -1
        var steps = alignment.steps
        var changed = false
        for (index, step) in steps.enumerated() {
            if step.status == .matched {
                if let found = part.indices.first(where: { $0 > position && part[$0].function == step.function }) {
                    position = found
                    outer = part[found]
                }
                continue
            }
            guard step.status != .outOfOrder, let above = outer, above.address != 0, let candidates = hits[step.function] else { continue }
            let under = candidates.filter { $0.addresses.dropFirst().contains(above.address) }
            guard let first = under.first, let depth = first.addresses.firstIndex(of: above.address) else { continue }
            let stack = ([first.chain[0]] + (1...max(depth, 1)).prefix(depth).map { first.location($0) }).joined(separator: " ← ")
            var evidence = "\(under.count) of its kprobe's hits in this call had this stack's \(first.location(depth)) (its return address) on their stack: \(stack)"
            if step.status.isProven, let before = step.evidence { evidence += "; and \(step.status.label): \(before)" }
            steps[index] = .init(function: step.function, layer: step.layer, status: .hit, evidence: evidence)
            changed = true
        }
        guard changed else { return alignment }
        return ChainAlignment(operation: alignment.operation, steps: steps, extraFrames: alignment.extraFrames,
                              observed: alignment.observed, context: alignment.context, sample: alignment.sample)
    }

    /// The call's kprobe hits by function, in the order of first entry.
    func functionHits(_ samples: [KernelSample], operation: StackOperation?, syscall: Syscall) -> [FunctionHit] {
        var order: [String] = []
        var byFunction: [String: FunctionHit] = [:]
        let own = expected(operation, entry: syscall.rawValue).functions
        for sample in samples.sorted(by: { $0.time < $1.time }) {
            let name = Self.hitFunction(sample)
            if byFunction[name] != nil {
                byFunction[name]!.count += 1
                continue
            }
            let parts = ChainAligner.parts(sample.frames)
            let context = parts.softirq.isEmpty ? ChainAlignment.syscallContext : "softirq " + (parts.softirqKind ?? "?")
            var named = own.first { $0.name == name }.map { (operation?.name, $0) }
            if named == nil, let model {
                // Its own operation: a softirq one for softirq work, else any naming it.
                let pool = parts.softirq.isEmpty ? model.operations : model.softirqOperations
                for candidate in pool {
                    if let function = candidate.chain(for: nil, kernel: kernel).first(where: { $0.name == name })
                        ?? candidate.allFunctions.first(where: { $0.name == name }) {
                        named = (candidate.name, function)
                        break
                    }
                }
            }
            // The probed function itself by name: where in it the kprobe fired says nothing.
            let stack = ChainAligner.shownIndices(sample.chain).map { $0 == 0 ? sample.chain[0] : sample.location($0) }
            byFunction[name] = FunctionHit(function: name, operation: named?.0, layer: named?.1.layer, count: 1, time: sample.time,
                                           context: context, stack: stack)
            order.append(name)
        }
        return order.compactMap { byFunction[$0] }
    }

    /// Hits of probes sampled everywhere, taken outside the traced tasks.
    public func addBackground(_ samples: [KernelSample]) {
        connectionStates.record(samples)
        // A traced flow's hit is named now: a task that sent a reset and exited
        // is gone by the time it is shown. (Other flows' hits, the most, are
        // not named unless their socket is revealed later: no /proc read for each.)
        // (Thread 0 is each CPU's own idle task, swapper/N: named per sample,
        // audit 48 F1: CPU 0's idle task named for CPU 1's, once it was seen.)
        var names: [Int32: String] = [:]
        for var sample in samples {
            if sample.task == nil, background.isTraced(sample) {
                sample.task = names[sample.tid] ?? background.task(of: sample)
                if sample.tid != 0 { names[sample.tid] = sample.task }
            }
            background.waiting.append(sample)
        }
    }

    /// Those of them that are a traced flow's, decided by `now` (all when
    /// nil), each with its chain's softirq part aligned.
    public func takeBackground(upTo now: MonotonicTime?, through limit: MonotonicTime? = nil) -> [KernelSample] {
        background.take(upTo: now, through: limit) { softirqAlignments($0) }
    }

    /// A chain's softirq part aligned with the softirq operation that explains it (none: unmodelled).
    func softirqAlignments(_ sample: KernelSample) -> [ChainAlignment] {
        guard sample.role == .chain, let model else { return [] }
        let parts = ChainAligner.parts(sample.frames)
        guard let found = aligner.softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model, kernel: kernel,
                                                   caller: parts.connecting.last, family: sample.pathFamily,
                                                   subject: sample.allocatingFunction) else { return [] }
        return [found]
    }

    /// Other connections' samples waiting to be written.
    public var otherFlowsWaiting: Int { otherFlows.count }
    /// Hits outside the traced tasks waiting for a call to reveal their flow.
    public var backgroundWaiting: Bool { !background.waiting.isEmpty }
    /// Other connections' samples held for the next idle moment, at most.
    public static let otherFlowsHeld = 4096

    /// Samples of other connections' packets taken during the calls
    /// correlated so far, softirq work's chains aligned (a delayed ACK's
    /// timer in a UNIX call is still tcp_delack_timer's).
    public func takeOtherFlows() -> [KernelSample] {
        defer { otherFlows.removeAll() }
        return otherFlows.map { sample in
            guard sample.alignments == nil, sample.role == .chain, sample.sides.softirq else { return sample }
            var sample = sample
            sample.alignments = softirqAlignments(sample)
            return sample
        }
    }

    /// The syscall side of a chain against the sample's operation, and the
    /// softirq side (if any) against the softirq operation that explains it
    /// best (none: it is unmodelled, and shown as it is).
    func align(_ frames: [KernelFrame], operation: StackOperation?, entry syscall: String, family: UInt64? = nil,
               subject: String? = nil) -> [ChainAlignment] {
        let parts = ChainAligner.parts(frames)
        var found: [ChainAlignment] = []
        if let operation {
            // Under softirq work the syscall's frames are that sample's context:
            // the sample counts under the softirq's operation, not again here.
            let context = parts.softirq.isEmpty ? ChainAlignment.syscallContext : ChainAlignment.syscallUnderSoftirq
            if !parts.syscall.isEmpty {
                found.append(syscallAlignment(parts, operation: operation, entry: syscall, context: context))
            }
        }
        if let model, let softirq = aligner.softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model, kernel: kernel,
                                                            caller: parts.connecting.last, family: family, subject: subject) {
            found.append(softirq)
        }
        return found
    }
}
