import Foundation
import Testing
@testable import SocketTrace

/// sockettrace's claims about packets checked against a witness of its own:
/// bpftrace reads every packet queued or received on loopback (its IP
/// header and TCP flags, from the skb) during the same run, and each
/// softirq sample's operation and whose-packet claim must agree with the
/// packet it names (by skb address and time).
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.hasBpftrace))
struct PacketOracleTests {
    /// One packet as bpftrace saw it.
    struct Packet {
        let time: UInt64
        let event: String
        let skb: UInt64
        let length: Int
        let proto: Int
        let source: String
        let destination: String
        let flags: Int

        static let syn = 0x02, reset = 0x04, ack = 0x10
        var isTCP: Bool { proto == 6 }
    }

    static let witness = """
        tracepoint:net:net_dev_queue, tracepoint:net:netif_receive_skb {
          $skb = (struct sk_buff *)args->skbaddr;
          $nh = $skb->head + $skb->network_header;
          $version = (*(uint8 *)$nh) >> 4;
          if ($version == 4) {
            $ip = (struct iphdr *)$nh; $th = $nh + $ip->ihl * 4;
            printf("PKT %llu %s %llu %d %d %s:%d %s:%d %d\\n", nsecs, probe, (uint64)args->skbaddr, args->len, $ip->protocol,
                   ntop($ip->saddr), bswap(*(uint16 *)$th), ntop($ip->daddr), bswap(*(uint16 *)($th + 2)), *(uint8 *)($th + 13));
          } else if ($version == 6) {
            $ip6 = (struct ipv6hdr *)$nh; $t6 = $nh + 40;
            printf("PKT %llu %s %llu %d %d [%s]:%d [%s]:%d %d\\n", nsecs, probe, (uint64)args->skbaddr, args->len, $ip6->nexthdr,
                   ntop($ip6->saddr.in6_u.u6_addr8), bswap(*(uint16 *)$t6), ntop($ip6->daddr.in6_u.u6_addr8), bswap(*(uint16 *)($t6 + 2)),
                   *(uint8 *)($t6 + 13));
          }
        }
        """

    /// A program of this test's own: a TCP exchange over IPv4 and IPv6 with
    /// their closes, an SO_LINGER-0 reset, a refused connect and a UDP
    /// datagram to a closed port.
    static func program(port: Int) -> String {
        """
        import socket, struct, time
        def exchange(family, host, port, linger=False):
            l = socket.socket(family); l.bind((host, port)); l.listen()
            c = socket.socket(family); c.connect((host, port)); s, _ = l.accept()
            c.sendall(b"ping"); s.recv(10); s.sendall(b"pong"); c.recv(10)
            if linger: c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close(); time.sleep(0.02)
            try: s.recv(10)
            except ConnectionResetError: pass
            s.close(); l.close()
        def half_close(port):
            l = socket.socket(); l.bind(("127.0.0.1", port)); l.listen()
            c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept()
            c.shutdown(socket.SHUT_WR); s.recv(10)
            s.sendall(b"more"); c.recv(10)
            s.close(); c.close(); l.close()
        exchange(socket.AF_INET, "127.0.0.1", \(port))
        half_close(\(port + 5))
        exchange(socket.AF_INET6, "::1", \(port + 1))
        exchange(socket.AF_INET, "127.0.0.1", \(port + 2), linger=True)
        try: socket.create_connection(("127.0.0.1", \(port + 3)))
        except ConnectionRefusedError: pass
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", \(port + 4)))
        time.sleep(0.05)
        """
    }

    /// What each operation's transmit must be, by the packet's protocol and TCP flags.
    static func fits(_ operation: String, _ packet: Packet) -> Bool {
        let flags = packet.flags
        switch operation {
        case "tcp_synack", "tcp6_synack": return packet.isTCP && flags & Packet.syn != 0 && flags & Packet.ack != 0
        case "tcp_reset_softirq": return packet.isTCP && flags & Packet.reset != 0
        case "tcp_receive_softirq", "tcp6_receive_softirq", "tcp_fin_softirq", "tcp_timewait_ack", "tcp6_timewait_ack", "tcp_delack_timer",
             "tcp_receive_after_fin", "tcp6_fin_softirq", "tcp6_receive_after_fin", "tcp6_delack_timer":
            return packet.isTCP && flags & (Packet.syn | Packet.reset) == 0 && flags & Packet.ack != 0
        case "udp_unreachable_softirq": return packet.proto == 1
        default: return true
        }
    }

    @Test("oracle: each softirq transmit's operation fits the packet bpftrace saw (SYN-ACK, reset, ACK, ICMP); each whose-packet claim its 4-tuple")
    func operationsAndOwnersAgreeWithPackets() throws {
        let port = TestSupport.freshPort()
        let script = TestSupport.temporaryFile("oracle") + ".py"
        try Self.program(port: port).write(toFile: script, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("oracle") + ".jsonl"
        let witnessFile = TestSupport.temporaryFile("witness") + ".bt"
        try Self.witness.write(toFile: witnessFile, atomically: true, encoding: .utf8)
        let packets = TestSupport.temporaryFile("packets") + ".txt"
        // The witness runs first (in a mount namespace of its own, for tracefs),
        // attached before the program starts, and stops after it ends.
        let shell = """
            { mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; }
            bpftrace \(witnessFile) > \(packets) 2> \(packets).err & witness=$!
            for i in $(seq 100); do grep -q Attaching \(packets).err \(packets) && break; sleep 0.2; done
            \(TestSupport.sockettrace) --kernel on --format jsonl -o \(trace) /usr/bin/python3 \(script); status=$?
            sleep 0.2; kill -INT $witness; for i in $(seq 50); do kill -0 $witness 2>/dev/null || break; sleep 0.2; done; kill -KILL $witness 2>/dev/null; wait $witness; exit $status
            """
        let result = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", shell], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let seen: [Packet] = try String(contentsOfFile: packets, encoding: .utf8).split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 9, f[0] == "PKT", let time = UInt64(f[1]), let skb = UInt64(f[3]), let length = Int(f[4]), let proto = Int(f[5]),
                  let flags = Int(f[8]) else { return nil }
            return Packet(time: time, event: f[2].replacingOccurrences(of: "tracepoint:", with: ""), skb: skb, length: length, proto: proto,
                          source: f[6], destination: f[7], flags: flags)
        }
        let witnessErrors = (try? String(contentsOfFile: packets + ".err", encoding: .utf8)) ?? ""
        #expect(seen.count > 20, "the witness saw \(seen.count) packets: \(witnessErrors)")

        /// The packet a sample names: the same event and skb, nearest in time (skbs are reused).
        func packet(of sample: KernelSample) -> Packet? {
            guard let skb = sample.skbAddress else { return nil }
            let address = UInt64(bitPattern: skb)
            let event = sample.tracepoint
            return seen.filter { $0.skb == address && $0.event == event }
                .min { $0.time.distance(to: sample.time.nanoseconds).magnitude < $1.time.distance(to: sample.time.nanoseconds).magnitude }
        }
        var operationsChecked = 0, ownersChecked = 0, answersChecked = 0
        for record in try TraceFileReader(path: trace).records {
            guard case let .syscall(call) = record, let activity = call.kernel else { continue }
            for sample in activity.samples where sample.role == .chain {
                let parts = ChainAligner.split(sample.chain)
                guard !parts.softirq.isEmpty, let witnessed = packet(of: sample) else { continue }
                if sample.tracepoint == "net:net_dev_queue",
                   let operation = activity.alignments.first(where: { $0.observed == parts.softirq && $0.countsTheSample })?.operation {
                    #expect(Self.fits(operation, witnessed), "\(call.name): \(operation) for a packet with proto \(witnessed.proto) flags 0x\(String(witnessed.flags, radix: 16)) \(witnessed.source) → \(witnessed.destination)")
                    operationsChecked += 1
                }
                // A packet said to be the call's socket's (or its peer's) is a
                // packet of that connection, one way (or the other): a receive,
                // and what a receive sends back (an ACK, a SYN-ACK, data an
                // ACK let go), which leaves the receiver for the sender.
                if let owner = sample.flow?.owner, owner == .ownSocket || owner == .peer,
                   witnessed.isTCP, let local = call.socket?.local?.forPairing, let peer = call.socket?.peer?.forPairing {
                    let (from, to) = owner == .ownSocket ? ("\(local)", "\(peer)") : ("\(peer)", "\(local)")
                    #expect(witnessed.source == from && witnessed.destination == to,
                            "\(call.name): \(owner) said for a packet \(witnessed.source) → \(witnessed.destination), the socket is \(local) → \(peer)")
                    ownersChecked += 1
                    if sample.tracepoint == "net:net_dev_queue" { answersChecked += 1 }
                }
            }
        }
        #expect(operationsChecked >= 6, "softirq transmits checked: \(operationsChecked)")
        #expect(ownersChecked >= 4, "owners checked: \(ownersChecked)")
        #expect(answersChecked >= 3, "packets sent in a receive checked: \(answersChecked)")
    }
}
