import Foundation
import CLibbpf
import Glibc
import Testing
@testable import SocketTrace

/// The sockets the BPF program keeps for a traced task's packets
/// (`ElsewhereTransmits.socket(ofSkb:at:tid:cpu:)`), checked against
/// datagrams this test sends itself.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.canObserveKernel, "needs root and BPF"))
struct PacketSocketTests {
    @Test("each of a thread's packets keeps its socket though the slab hands the same skb out again: a delayed ACK's entry is not written over by a later packet's before the tracer asks")
    func packetsAtOneAddressKeptApart() throws {
        let transmits = try ElsewhereTransmits()
        defer { transmits.close() }
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0), sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver); close(sender) }
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: UInt32(0x7f00_0001).bigEndian), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) == 0 && getsockname(receiver, $0, &length) == 0 }
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sender, $0, length) == 0 }
        }
        #expect(bound && connected)
        var own = sockaddr_in()
        var ownLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &own) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sender, $0, &ownLength) } }
        let tid = try #require(Int32(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self").split(separator: "/").last ?? ""))
        // Each datagram received (its skb freed) before the next is sent, a bucket (262 µs) or more apart.
        // 120 of them: once in a README run 40 had 40 addresses, the thread moving between CPUs' slabs.
        let count = 120
        var byte: UInt8 = 0
        transmits.follow(getpid())
        for _ in 0..<count {
            #expect(send(sender, &byte, 1, 0) == 1)
            #expect(recv(receiver, &byte, 1, 0) == 1)
            usleep(400)
        }
        transmits.forget(getpid())
        // Every entry the program wrote for this thread's datagrams.
        var entries: [(skb: UInt64, socket: PacketSocket)] = []
        var key: [UInt64] = [0, 0], next: [UInt64] = [0, 0]
        var first = true
        while (first ? bpf_map_get_next_key(transmits.maps.sockets, nil, &next) : bpf_map_get_next_key(transmits.maps.sockets, &key, &next)) == 0 {
            first = false
            key = next
            var bytes = [UInt8](repeating: 0, count: PacketSocket.size)
            guard bpf_map_lookup_elem(transmits.maps.sockets, &key, &bytes) == 0 else { continue }
            let socket = PacketSocket(bytes)
            if socket.tid == tid, socket.localPort == UInt16(bigEndian: own.sin_port) { entries.append((key[0], socket)) }
        }
        #expect(entries.count == count, "\(entries.count) entries for \(count) datagrams")
        // The slab did give addresses out again (else this proves nothing).
        #expect(Set(entries.map(\.skb)).count < entries.count, "\(Set(entries.map(\.skb)).count) addresses")
        for (skb, socket) in entries {
            #expect(socket.written?.destination == "127.0.0.1:\(UInt16(bigEndian: address.sin_port))")
            // Asked by its sample's time (perf's, up to the tolerance before the program's): found, and only it.
            #expect(transmits.socket(ofSkb: skb, at: socket.time - 30_000, tid: tid, cpu: socket.cpu) == socket)
            #expect(transmits.socket(ofSkb: skb, at: socket.time + 2 * PacketSocket.tolerance, tid: tid, cpu: socket.cpu) == nil)
        }
    }

    @Test("the buckets a sample's time may have been written in: one, or two across a boundary, never below 0")
    func buckets() {
        let width = UInt64(1) << PacketSocket.bucketShift
        #expect(PacketSocket.buckets(around: 5 * width + width / 2) == 5...5)
        #expect(PacketSocket.buckets(around: 5 * width + 10) == 4...5)
        #expect(PacketSocket.buckets(around: 6 * width - 10) == 5...6)
        #expect(PacketSocket.buckets(around: 10) == 0...0)
    }
}
