import Testing
@testable import SocketTrace

/// The pieces between the sampler and a call's kernel activity, without a
/// kernel: kallsyms parsing, per-thread sample queues, attribution by time.
@Suite struct CorrelatorTests {
    static func sample(_ tid: Int32, at time: UInt64, _ tracepoint: String = "net:net_dev_queue", chain: [String] = ["__dev_queue_xmit", "__x64_sys_sendto"]) -> KernelSample {
        KernelSample(tracepoint: tracepoint, role: .chain, pid: tid, tid: tid, time: MonotonicTime(nanoseconds: time), cpu: 0,
                     chain: chain, fields: [:])
    }

    @Test("kallsyms: text symbols only, names without compiler suffixes, specialised copies")
    func kallsyms() {
        let text = """
        ffffffff81000000 T _stext
        ffffffff81001000 t tcp_sendmsg_locked
        ffffffff81001400 T tcp_sendmsg
        ffffffff81002000 t __netif_receive_skb_core.constprop.0
        ffffffff81003000 D some_data
        ffffffff81004000 t ip_finish_output2\t[somemodule]
        ffffffff81005000 t tcp_push.part.0
        ffffffff81005100 t tcp_push
        """
        let symbols = KernelSymbols(kallsyms: text)
        #expect(symbols.location(of: 0xffffffff81001410)?.function == "tcp_sendmsg")
        #expect(symbols.location(of: 0xffffffff81001410)?.offset == 0x10)
        #expect(symbols.location(of: 0xffffffff81002020)?.function == "__netif_receive_skb_core")
        #expect(symbols.location(of: 0xffffffff81004001)?.function == "ip_finish_output2")
        #expect(symbols.location(of: 0xffffffff80000000) == nil)
        #expect(symbols.presence(of: "tcp_sendmsg") == .symbol)
        #expect(symbols.presence(of: "__netif_receive_skb_core") == .specialised("__netif_receive_skb_core.constprop.0"))
        #expect(symbols.presence(of: "tcp_push") == .symbol)
        #expect(symbols.presence(of: "some_data") == .absent)
        #expect(symbols.presence(of: "tcp_send") == .absent)
        #expect(symbols.presence(of: "tcp_sendmsg_lock") == .absent)
    }

    @Test("sample queue: kept in time order when read out of order, taken from the front")
    func sampleQueue() {
        var queue = SampleQueue()
        for time in [10, 30, 20, 40, 5] as [UInt64] { queue.append(Self.sample(1, at: time)) }
        #expect(queue.count == 5)
        #expect(queue.take(before: MonotonicTime(nanoseconds: 20)).map(\.time.nanoseconds) == [5, 10])
        #expect(queue.take(through: MonotonicTime(nanoseconds: 30)).map(\.time.nanoseconds) == [20, 30])
        #expect(queue.take(through: MonotonicTime(nanoseconds: 35)).isEmpty)
        #expect(queue.take(before: nil).map(\.time.nanoseconds) == [40])
        #expect(queue.isEmpty)
        // Long queues compact as they are taken.
        for time in 0..<5000 as Range<UInt64> { queue.append(Self.sample(1, at: time)) }
        for end in stride(from: 100, through: 5000, by: 100) {
            #expect(queue.take(before: MonotonicTime(nanoseconds: UInt64(end))).count == 100)
        }
        #expect(queue.isEmpty)
    }

    @Test("a call takes its thread's samples between its entry and exit; earlier ones are stray, later ones wait")
    func attribution() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        correlator.add([Self.sample(7, at: 100), Self.sample(7, at: 250), Self.sample(8, at: 260), Self.sample(7, at: 300), Self.sample(7, at: 900)])
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .sendto, arguments: [3, 0, 1, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 200))
        call.exitTime = MonotonicTime(nanoseconds: 400)
        #expect(correlator.takeStray(tid: 7, before: call.entryTime).map(\.time.nanoseconds) == [100])
        let activity = correlator.activity(for: call)
        #expect(activity.samples.map(\.time.nanoseconds) == [250, 300])
        #expect(activity.source == .observed)
        #expect(correlator.takeStray(tid: 7, before: nil).map(\.time.nanoseconds) == [900])
        #expect(correlator.takeStray(tid: 8, before: nil).map(\.tid) == [8])
        #expect(correlator.waitingThreads.isEmpty)
    }
}
