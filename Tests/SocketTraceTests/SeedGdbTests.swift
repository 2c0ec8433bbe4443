import Foundation
import Testing
@testable import SocketTrace

/// The seeds' gdb sessions on a QEMU kernel (Linux 5.x) as evidence for
/// the model's older versions: the breakpoints hit for one call, in the
/// order gdb stopped at them, copied from the seeds (the function of each
/// `Breakpoint N, FUNCTION (…)` line). For the seeds' kernel, the model's
/// chain must name every function of the excerpt it knows of in the same
/// order (gdb stops at a function's entry, so siblings show in call order
/// too), and must not leave out by a version range a function gdb stopped in.
@Suite struct SeedGdbTests {
    struct Excerpt {
        let seed: String
        let kernel: KernelVersion
        let operation: String
        let syscall: String?
        /// The functions gdb stopped in, in order, as the seed's log shows them.
        let hits: [String]
    }

    /// Seed 002 ("调试环境为linux5.0.1", its vmlinux from linux-5.2.7): a send and a receive.
    /// Seed 004 (the same QEMU setup): a segment received, and a send down to the device.
    static let excerpts: [Excerpt] = [
        Excerpt(seed: "002 send", kernel: KernelVersion(5, 2, 7), operation: "tcp_send", syscall: "sendto",
                hits: ["__sys_sendto", "tcp_sendmsg_locked", "tcp_push", "__tcp_push_pending_frames", "tcp_write_xmit", "__tcp_transmit_skb"]),
        Excerpt(seed: "002 recv", kernel: KernelVersion(5, 2, 7), operation: "tcp_recv", syscall: "recvfrom",
                hits: ["__sys_recvfrom", "sock_recvmsg", "tcp_recvmsg", "__skb_datagram_iter"]),
        Excerpt(seed: "004 receive", kernel: KernelVersion(5, 2, 7), operation: "tcp_receive_softirq", syscall: nil,
                hits: ["net_rx_action", "process_backlog", "__netif_receive_skb", "ip_rcv", "ip_rcv_finish", "ip_local_deliver",
                       "ip_local_deliver_finish", "tcp_v4_rcv", "__inet_lookup_skb", "__inet_lookup_established", "tcp_v4_do_rcv",
                       "tcp_fast_path_check", "tcp_data_queue"]),
        Excerpt(seed: "004 send", kernel: KernelVersion(5, 2, 7), operation: "tcp_send", syscall: "sendto",
                hits: ["__sys_sendto", "import_single_range", "sockfd_lookup_light", "sock_sendmsg", "tcp_sendmsg", "tcp_write_xmit",
                       "tcp_send_head", "tcp_transmit_skb", "__tcp_transmit_skb", "ip_queue_xmit", "ip_local_out", "dst_output",
                       "ip_finish_output", "ip_finish_output2", "dev_queue_xmit", "xmit_one", "netdev_start_xmit"]),
    ]

    @Test("the model for the seeds' kernel reproduces the order of the seeds' gdb breakpoints", arguments: excerpts.indices)
    func order(_ index: Int) throws {
        let excerpt = Self.excerpts[index]
        let model = try ModelParser.load(directory: TestSupport.packageRoot.appendingPathComponent("Probes").path)
        let operation = try #require(model.operation(named: excerpt.operation))
        let everywhere = Set(operation.chain(for: excerpt.syscall, kernel: nil).map(\.name))
        let forKernel = operation.chain(for: excerpt.syscall, kernel: excerpt.kernel).map(\.name)
        // Functions the model names for some kernel, gdb stopped in, yet left out for this one: a wrong range.
        let excluded = excerpt.hits.filter { everywhere.contains($0) && !forKernel.contains($0) }
        #expect(excluded.isEmpty, "\(excerpt.seed): gdb stopped in \(excluded), which the model leaves out for \(excerpt.kernel)")
        let known = excerpt.hits.filter { forKernel.contains($0) }
        // The model stops the receive copy at skb_copy_datagram_iter (a call beside the path, whose
        // own callees a chain format cannot nest yet): 002's __skb_datagram_iter is not named.
        #expect(known.count >= 3, "\(excerpt.seed): the model names only \(known) of \(excerpt.hits)")
        let modelOrder = forKernel.filter { known.contains($0) }
        var unique: [String] = []
        for name in modelOrder where !unique.contains(name) { unique.append(name) }
        #expect(unique == known, "\(excerpt.seed): gdb's order \(known), the model's \(unique)")
    }
}
