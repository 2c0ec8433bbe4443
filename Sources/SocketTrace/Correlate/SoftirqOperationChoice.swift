/// Which softirq operation a softirq part of a chain performs, by what the
/// chain shows and proves of each operation's path.
extension ChainAligner {
    /// The softirq operation a softirq part of a chain performs: of those
    /// whose path reaches the function the tracepoint fired in, the one
    /// that explains most of the chain (`score`); nil (unmodelled) when
    /// none reaches it or operations tie with nothing to tell them apart.
    /// `family`: the address family of the packets, when the sample's own
    /// fields name it (`KernelSample.pathFamily`): an operation declared
    /// for the other family (`sockets tcp6`) is no candidate, and of
    /// operations that tie the narrowest for it is taken (a retransmission
    /// seen at tcp:tcp_retransmit_skb, whose frames stop before IP).
    /// `subject`: the function a tracepoint's hit was for, where the
    /// sample's own fields name it (kmem's `call_site`, the allocation's
    /// caller: `allocatingFunction`); a path that ends at it reaches the
    /// sample, the allocator's frames below it being its helpers.
    public func softirqAlignment(_ frames: [KernelFrame], kind: String?, model: StackModel, kernel: KernelVersion?,
                                 caller: KernelFrame? = nil, family: UInt64? = nil, subject: String? = nil) -> ChainAlignment? {
        guard let last = frames.last?.function else { return nil }
        // Each path of each operation's call tree is a candidate of its own
        // (the main path, and each call made beside it with its callees).
        let operations = model.softirqOperations.filter { $0.sockets.fits(family: family) }
            .flatMap { operation in operation.paths(for: nil, kernel: kernel).map { (operation: operation, path: $0) } }
        let chains = operations.map(\.path)
        let names = Set(frames.map(\.function))
        let context = "softirq " + (kind ?? "?")
        // Only an operation whose path reaches the function the tracepoint
        // fired in (or ends at the function the hit was for) can explain the sample.
        let reaching = operations.indices.filter { index in
            chains[index].contains { $0.name == last }
                || (subject != nil && chains[index].last?.name == subject && names.contains(subject!))
        }
        let aligned = reaching.map { index in
            (index: index, alignment: align(frames: frames, with: chains[index], operation: operations[index].operation.name, context: context,
                                            caller: caller))
        }
        // The operation with the most of its path shown (frames, proven tail
        // calls, kprobe hits) and the least contradicted (frames it does not
        // name, functions called beside the path). Operations that tie explain
        // the chain equally: when one of them names every frame and is part
        // of all the others (the device receive path, shared by all), that
        // one, claiming no more than was seen; else none (unmodelled), as
        // nothing read tells them apart.
        // Frames before its first one it does not name (but the timers'
        // machinery, which no operation names) count against it too, and
        // one that leaves more of the chain unexplained than it shows
        // explains nothing (a retransmission on an ACK is not the RTO
        // timer's because only the timer's last two functions are there).
        let scored = aligned.map { candidate -> (index: Int, alignment: ChainAlignment, score: Score) in
            var score = Self.score(candidate.alignment)
            let first = candidate.alignment.observed.firstIndex { name in chains[candidate.index].contains { $0.name == name } } ?? 0
            score.shown -= candidate.alignment.observed[..<first].filter { !Self.timerMachinery.contains($0) }.count
            return (candidate.index, candidate.alignment, score)
        }.filter { $0.score.shown > 0 }.filter { candidate in
            // An operation none of whose transport functions before the
            // sample's own is shown (or inlined) explains only what every
            // packet's receive shares: it is not the one (audit 20: a TCP SYN
            // a netfilter rule answered with an ICMP error was aligned as
            // udp_unreachable_softirq, udp_rcv and __udp4_lib_rcv missing).
            let path = chains[candidate.index]
            guard let end = path.firstIndex(where: { $0.name == last }) else { return true }
            let own = Set(path[..<end].filter { $0.layer == .transport }.map(\.name))
            return own.isEmpty || candidate.alignment.steps.contains { own.contains($0.function) && ($0.status.showsPath || $0.status == .inlined) }
        }
        guard let top = scored.map(\.score).max(by: <) else { return nil }
        var tied = scored.filter { $0.score == top }
        if tied.count > 1, family != nil, let narrowest = tied.map({ operations[$0.index].operation.sockets.specificity }).max() {
            tied = tied.filter { operations[$0.index].operation.sockets.specificity == narrowest }
        }
        // Paths of one operation that tie say the same of it: its first.
        if Set(tied.map { operations[$0.index].operation.name }).count == 1 { return tied.first?.alignment }
        let functions = tied.map { Set(chains[$0.index].map(\.name)) }
        return tied.indices.first { index in
            names.isSubset(of: functions[index]) && functions.allSatisfy { functions[index].isSubset(of: $0) }
        }.map { tied[$0].alignment }
    }

    /// The frames that run a timer's callback (softirq, hrtimer, a timer
    /// migrated off an idle CPU): before any operation's own functions.
    static let timerMachinery: Set<String> = [
        "run_timer_softirq", "run_timer_base", "__run_timers", "expire_timers", "call_timer_fn", "tmigr_handle_remote",
        "tmigr_handle_remote_up", "timer_expire_remote", "hrtimer_run_softirq", "__hrtimer_run_queues", "__run_hrtimer",
    ]

    /// How well an alignment explains its chain: the steps shown or proven
    /// less the frames the operation does not name, then the fewest steps
    /// the code contradicts (called beside the path, out of order). A step
    /// nothing explains is no evidence either way.
    static func score(_ alignment: ChainAlignment) -> Score {
        Score(shown: alignment.steps.filter { $0.status.showsPath }.count - alignment.extraFrames.count,
              contradicted: alignment.steps.filter { $0.status == .sibling || $0.status == .notOnPath || $0.status == .outOfOrder }.count,
              unexplained: alignment.steps.filter { $0.status == .unverified }.count)
    }

    /// How well an operation explains a stack: the frames it shows, then
    /// the fewest it contradicts. `unexplained`, its functions the stack
    /// leaves unverified, is no evidence either way: only a call's choice
    /// among operations it must make uses it (`syscallRank`).
    public struct Score: Comparable, Sendable {
        public var shown: Int
        public var contradicted: Int
        public var unexplained = 0
        public static func < (a: Score, b: Score) -> Bool { (a.shown, -a.contradicted) < (b.shown, -b.contradicted) }
        public static func == (a: Score, b: Score) -> Bool { (a.shown, a.contradicted) == (b.shown, b.contradicted) }

        /// For a syscall's operation, which one is chosen however they tie:
        /// of equals, the one whose chain the stack leaves least unexplained
        /// rather than the first in file order (audit 26 F13: a close's reset
        /// sent by __tcp_close itself was given the SO_LINGER operation, whose
        /// tcp_disconnect it does not show).
        public var syscallRank: (Int, Int, Int) { (shown, -contradicted, -unexplained) }
    }
}

extension SocketKind {
    /// Whether a softirq operation declared for these sockets can handle
    /// packets of `family` (nil: not known, any can). The model's softirq
    /// operations are IP's (their paths run through IP's receive, or TCP's
    /// timers), whatever sockets they declare: a socket of another family
    /// named by the sample (tcpdump's AF_PACKET socket woken at
    /// sock:sk_data_ready as a segment left) is none of theirs (audit 50
    /// F2: put under tcp_data_ready_softirq, "TCP data queued").
    func fits(family: UInt64?) -> Bool {
        guard let family else { return true }
        switch self {
        case .tcp6, .udp6, .inet6: return family == AddressFamily.inet6
        case .unix, .unixStream, .unixDatagram: return family == AddressFamily.unix
        default: return family == AddressFamily.inet || family == AddressFamily.inet6
        }
    }
}

extension KernelSample {
    /// The function an allocation was made for, by the sample's own
    /// fields: kmem's `call_site` is the allocator's return address, so the
    /// frame at that address is its caller's (inet_reqsk_alloc under
    /// tcp_conn_request, whose frames below it are the allocator's).
    var allocatingFunction: String? {
        guard let site = fields["call_site"]?.number else { return nil }
        let address = UInt64(bitPattern: site)
        return frames.first { $0.address == address }?.function
    }

    /// The address family of the packets of the socket a tracepoint names
    /// (tcp:tcp_retransmit_skb's `family`): AF_INET6, or AF_INET for an
    /// IPv4 socket or an IPv6 one with IPv4-mapped addresses (its packets
    /// go the IPv4 way), or the socket's own family (AF_PACKET: a capture
    /// socket woken at sock:sk_data_ready); nil when the sample names none.
    var pathFamily: UInt64? {
        guard let family = fields["family"]?.number, family >= 0 else { return nil }
        guard UInt64(family) == AddressFamily.inet6 else { return UInt64(family) }
        if case let .bytes(v6)? = fields["daddr_v6"], v6.count == 16, v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xff, v6[11] == 0xff {
            return AddressFamily.inet
        }
        return AddressFamily.inet6
    }

    /// Why no softirq operation can be this sample's, when its own fields
    /// say so: the socket it names is not an IP socket (nil otherwise).
    var notAnIPSocket: String? {
        guard let family = pathFamily, family != AddressFamily.inet, family != AddressFamily.inet6 else { return nil }
        return "the socket \(tracepoint) names is an \(SocketConstants.addressFamilies.name(family) ?? "AF \(family)") socket (its family field), "
            + "and the model's softirq operations are IP sockets'"
    }
}
