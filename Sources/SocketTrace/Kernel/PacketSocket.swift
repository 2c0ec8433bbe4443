import Glibc

/// The socket of a packet a traced task queued (`skb->sk`), as
/// `ElsewhereTransmitProgram` keeps it by skb in a traced task: its
/// family, ports and addresses, and when, where and in which thread the
/// packet was queued. The task's own sample of net:net_dev_queue gives no
/// addresses; work an interrupt ran on the task between its calls (a
/// delayed-ACK timer's transmit) is then told by these.
struct PacketSocket: Equatable {
    // The map's value: little-endian.
    static let time: Int16 = 0, cpu: Int16 = 8, tid: Int16 = 12, family: Int16 = 16, localPort: Int16 = 18
    static let remotePort: Int16 = 20, localAddress: Int16 = 24, remoteAddress: Int16 = 40, sock: Int16 = 56
    static let size = 64
    /// How far apart the program's time and the sample's may be for the
    /// same event (both CLOCK_MONOTONIC; perf's is taken before it walks
    /// the stack, 20-30 µs before the program's here).
    static let tolerance: UInt64 = 100_000
    /// The map's key is the skb and the program's time shifted right by
    /// this (262 µs buckets, wider than the tolerance both ways): a later
    /// packet at the same address (the slab hands a freed skb out again)
    /// is another entry, not one written over the earlier packet's before
    /// the tracer asks (a delayed ACK's socket lost to the close's ACK).
    static let bucketShift: UInt64 = 18

    /// The buckets a packet sampled at `time` may have been written in.
    static func buckets(around time: UInt64) -> ClosedRange<UInt64> {
        (time &- min(time, tolerance)) >> bucketShift ... (time &+ tolerance) >> bucketShift
    }

    let time: UInt64
    let cpu: UInt32
    let tid: Int32
    let family: UInt16
    let localPort: UInt16
    /// Host order (the socket keeps it in network order).
    let remotePort: UInt16
    let localAddress: [UInt8]
    let remoteAddress: [UInt8]
    /// The socket's `struct sock` (skb->sk): which socket, where a
    /// 4-tuple can be another's after it (audit 90 F1).
    let sock: UInt64
}

extension PacketSocket {
    /// The map's value as the program wrote it.
    init(_ bytes: [UInt8]) {
        func load<T: FixedWidthInteger>(_ offset: Int16, as: T.Type) -> T {
            T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Int(offset), as: T.self) })
        }
        time = load(Self.time, as: UInt64.self)
        cpu = load(Self.cpu, as: UInt32.self)
        tid = load(Self.tid, as: Int32.self)
        family = load(Self.family, as: UInt16.self)
        localPort = load(Self.localPort, as: UInt16.self)
        remotePort = UInt16(bigEndian: load(Self.remotePort, as: UInt16.self))
        let size = family == UInt16(AF_INET6) ? 16 : 4
        localAddress = Array(bytes[Int(Self.localAddress)..<Int(Self.localAddress) + size])
        remoteAddress = Array(bytes[Int(Self.remoteAddress)..<Int(Self.remoteAddress) + size])
        sock = load(Self.sock, as: UInt64.self)
    }

    /// The socket's end and its peer's, as a flow's endpoints are told
    /// from a tracepoint's fields (nil for a socket of another family, or
    /// one with no port).
    var ends: (source: SocketEndpoint, destination: SocketEndpoint)? {
        written.map { (SocketEndpoint(text: $0.source).forPairing, SocketEndpoint(text: $0.destination).forPairing) }
    }

    /// The socket's end and its peer's as the socket itself has them: an
    /// IPv6 socket's v4-mapped addresses stay `[::ffff:a.b.c.d]` (audit 90
    /// m1: written as IPv4, as its packets and the flow lines have them).
    var written: (source: String, destination: String)? {
        guard localPort != 0, remotePort != 0 else { return nil }
        func text(_ address: [UInt8], _ port: UInt16) -> String? {
            switch Int32(family) {
            case AF_INET: address.map(String.init).joined(separator: ".") + ":\(port)"
            case AF_INET6: "[" + KernelSample.ipv6(address) + "]:\(port)"
            default: nil
            }
        }
        guard let local = text(localAddress, localPort), let remote = text(remoteAddress, remotePort) else { return nil }
        return (local, remote)
    }
}
