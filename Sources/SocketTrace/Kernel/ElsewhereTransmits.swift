import CLibbpf
import Glibc

/// Traced connections' packets queued outside the traced tasks, with their
/// kernel stacks: net:net_dev_queue on every CPU, kept in the kernel by
/// `ElsewhereTransmitProgram` for the ports of traced flows (a `probes.conf`
/// probe marked `elsewhere`). The tracer names the traced processes
/// (`follow`, `forget`) and the ports of the sockets its calls use
/// (`watch`); the sampler takes the records (`take`) as samples.
public final class ElsewhereTransmits {
    let maps: ElsewhereTransmitProgram.Maps
    var program: Int32 = -1
    var link: Int32 = -1
    /// The drop program's (`ElsewhereDropProgram`), when loaded.
    var dropProgram: Int32 = -1
    var dropLink: Int32 = -1
    public var samplesDrops: Bool { dropLink >= 0 }
    var ring: BPFRing?
    var isOpen = true
    /// Ports given to the kernel (each once).
    var watched: Set<UInt16> = []
    static let processes: UInt32 = 8192, ports: UInt32 = 65536
    static let ringBytes: UInt32 = 4 << 20
    /// The traced tasks' latest packets whose sockets are kept (`PacketSocket`), by skb and time.
    static let packetSockets: UInt32 = 4096
    /// The raw tracepoints and the programs' names (their kernel symbols end with them).
    static let tracepoint = "net_dev_queue", programName = "st_tx_elsewhere"
    static let dropTracepoint = "kfree_skb", dropProgramName = "st_drop_elsewhere"

    /// Loads the program and attaches it, and with `drops` the drop
    /// program too (same maps and ring); throws where BPF, BTF or raw
    /// tracepoints are not allowed.
    public init(drops: Bool = false) throws {
        let offsets = try SocketTupleOffsets.running()
        var made = BPFMapSet(purpose: "that samples packets sent elsewhere")
        maps = ElsewhereTransmitProgram.Maps(
            tgids: try made.create(BPF_MAP_TYPE_HASH, "st_tx_tgids", key: 4, value: 1, entries: Self.processes),
            ports: try made.create(BPF_MAP_TYPE_HASH, "st_tx_ports", key: 4, value: 4, entries: Self.ports),
            destinations: try made.create(BPF_MAP_TYPE_HASH, "st_tx_dests", key: 4, value: 4, entries: Self.ports),
            scratch: try made.create(BPF_MAP_TYPE_PERCPU_ARRAY, "st_tx_scratch", key: 4, value: UInt32(ElsewhereTransmitProgram.recordSize), entries: 1),
            ring: try made.create(BPF_MAP_TYPE_RINGBUF, "st_tx_ring", key: 0, value: 0, entries: Self.ringBytes),
            sockets: try made.create(BPF_MAP_TYPE_LRU_HASH, "st_tx_socks", key: 16, value: UInt32(PacketSocket.size), entries: Self.packetSockets))
        do {
            program = try BPFProgram.load(Self.programName, ElsewhereTransmitProgram.program(maps, offsets: offsets))
            link = bpf_raw_tracepoint_open(Self.tracepoint, program)
            guard link >= 0 else { throw TraceError(operation: "attaching the BPF program to \(Self.tracepoint)", errno: -link) }
            if drops {
                dropProgram = try BPFProgram.load(Self.dropProgramName, ElsewhereDropProgram.program(maps, offsets: offsets))
                dropLink = bpf_raw_tracepoint_open(Self.dropTracepoint, dropProgram)
                guard dropLink >= 0 else { throw TraceError(operation: "attaching the BPF program to \(Self.dropTracepoint)", errno: -dropLink) }
            }
            ring = try BPFRing(map: maps.ring, purpose: "of packets sent elsewhere")
        } catch {
            close()
            throw error
        }
    }

    /// Process `pid`'s packets are its own events' from now on (its ports learnt).
    public func follow(_ pid: Int32) {
        BPFProcessSet(map: maps.tgids).insert(pid)
    }

    public func forget(_ pid: Int32) {
        BPFProcessSet(map: maps.tgids).remove(pid)
    }

    /// Packets of sockets with these local ports are kept (a traced call's
    /// socket's own port and its peer's).
    public func watch(ports: [UInt16]) {
        for port in ports where port != 0 && watched.insert(port).inserted {
            var key = UInt32(port)
            var value: UInt32 = 1
            _ = bpf_map_update_elem(maps.ports, &key, &value, UInt64(BPF_ANY))
        }
    }

    /// Connects under way to each destination port, each counted once.
    var destinations: [UInt16: Int] = [:]

    /// A traced connect to `port` began: its socket's packets are kept
    /// before its local port is known (`ElsewhereTransmitProgram`).
    public func watch(destination port: UInt16) {
        guard port != 0 else { return }
        destinations[port, default: 0] += 1
        guard destinations[port] == 1 else { return }
        var key = UInt32(port)
        var value: UInt32 = 1
        _ = bpf_map_update_elem(maps.destinations, &key, &value, UInt64(BPF_ANY))
    }

    /// That connect ended (its socket's own ports watched from now on).
    public func unwatch(destination port: UInt16) {
        guard let count = destinations[port] else { return }
        if count > 1 {
            destinations[port] = count - 1
            return
        }
        destinations[port] = nil
        var key = UInt32(port)
        _ = bpf_map_delete_elem(maps.destinations, &key)
    }

    /// The socket of the packet a traced task queued at the address `skb`
    /// close to `time` (within `PacketSocket.tolerance`), as the program
    /// read it at its event (`PacketSocket`), when that was in thread
    /// `tid` on `cpu`; nil when two such packets were written there.
    /// Whether it is the packet of a given sample is for the sample to
    /// tell (`KernelCorrelator.socketOfPacket`).
    func socket(ofSkb skb: UInt64, at time: UInt64, tid: Int32, cpu: UInt32) -> PacketSocket? {
        guard isOpen else { return nil }
        var found: [PacketSocket] = []
        for bucket in PacketSocket.buckets(around: time) {
            var key = [skb, bucket]
            var bytes = [UInt8](repeating: 0, count: PacketSocket.size)
            guard bpf_map_lookup_elem(maps.sockets, &key, &bytes) == 0 else { continue }
            let socket = PacketSocket(bytes)
            if socket.tid == tid, socket.cpu == cpu, socket.time &+ PacketSocket.tolerance >= time, socket.time <= time &+ PacketSocket.tolerance {
                found.append(socket)
            }
        }
        return found.count == 1 ? found[0] : nil
    }

    /// The records the ring holds, oldest first.
    func take() -> [ElsewhereTransmit] {
        var records: [ElsewhereTransmit] = []
        ring?.consume { bytes in
            if let record = ElsewhereTransmit(bytes) { records.append(record) }
        }
        return records
    }

    /// Detaches the program and frees the maps.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        ring?.free()
        ring = nil
        for fd in [dropLink, dropProgram, link, program, maps.tgids, maps.ports, maps.destinations, maps.scratch, maps.ring, maps.sockets] where fd >= 0 {
            Glibc.close(fd)
        }
        link = -1
        program = -1
        dropLink = -1
        dropProgram = -1
    }

    deinit { close() }
}

/// One packet the program kept (`ElsewhereTransmitProgram`): its task,
/// time, CPU, skb, length, device and kernel stack (innermost first), and
/// its socket's family, ports and addresses; or one the drop program kept
/// (`ElsewhereDropProgram`, `isDrop`), with the kernel's reason and where
/// it was freed, its ports and addresses its headers' (source first).
struct ElsewhereTransmit: Equatable {
    typealias P = ElsewhereTransmitProgram
    let time: UInt64
    let skb: UInt64
    let cpu: UInt32
    let pid: Int32
    let tid: Int32
    let length: UInt32
    let device: String
    let family: UInt16
    let localPort: UInt16
    let remotePort: UInt16
    let localAddress: [UInt8]
    let remoteAddress: [UInt8]
    let stack: [UInt64]
    /// A transmit's socket's `struct sock` (0 for a drop).
    let sock: UInt64
    let isDrop: Bool
    let reason: UInt32
    let location: UInt64
    /// A drop's packet's IP protocol (6 TCP, 17 UDP).
    let ipProtocol: UInt16

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= P.recordSize else { return nil }
        func load<T: FixedWidthInteger>(_ offset: Int16, as type: T.Type) -> T { bytes.loadUnaligned(fromByteOffset: Int(offset), as: T.self) }
        time = load(P.time, as: UInt64.self)
        skb = load(P.skb, as: UInt64.self)
        cpu = load(P.cpu, as: UInt32.self)
        let ids = load(P.pidTgid, as: UInt64.self)
        pid = Int32(truncatingIfNeeded: ids >> 32)
        tid = Int32(truncatingIfNeeded: ids)
        length = load(P.length, as: UInt32.self)
        let name = bytes[Int(P.device)..<Int(P.device) + 16].prefix { $0 != 0 }
        device = String(decoding: name, as: UTF8.self)
        family = load(P.family, as: UInt16.self)
        localPort = load(P.localPort, as: UInt16.self)
        isDrop = load(P.kind, as: UInt32.self) == 1
        reason = load(P.reason, as: UInt32.self)
        location = load(P.location, as: UInt64.self)
        sock = load(P.sock, as: UInt64.self)
        ipProtocol = load(P.ipProtocol, as: UInt16.self)
        // A socket's remote port is in network order; a drop's ports are the headers', swapped by the program.
        remotePort = isDrop ? load(P.remotePort, as: UInt16.self) : UInt16(bigEndian: load(P.remotePort, as: UInt16.self))
        let size = family == UInt16(AF_INET6) ? 16 : 4
        localAddress = Array(bytes[Int(P.localAddress)..<Int(P.localAddress) + size])
        remoteAddress = Array(bytes[Int(P.remoteAddress)..<Int(P.remoteAddress) + size])
        let stackBytes = Int(min(max(load(P.stackBytes, as: Int64.self), 0), Int64(P.frames) * 8))
        stack = (0..<stackBytes / 8).map { bytes.loadUnaligned(fromByteOffset: Int(P.stack) + $0 * 8, as: UInt64.self) }
    }

    /// The tracepoint's own fields, and those a TCP tracepoint names its
    /// flow with (`flowEndpoints`): the packet goes from the socket's end
    /// to its peer's.
    var fields: [String: TracepointValue] {
        var fields: [String: TracepointValue] = [
            "skbaddr": .number(Int64(bitPattern: skb)), "len": .number(Int64(length)), "name": .string(device),
            "family": .number(Int64(family)), "sport": .number(Int64(localPort)), "dport": .number(Int64(remotePort)),
        ]
        if sock != 0 { fields["sk"] = .number(Int64(bitPattern: sock)) }
        if family == UInt16(AF_INET6) {
            fields["saddr"] = .bytes([0, 0, 0, 0])
            fields["daddr"] = .bytes([0, 0, 0, 0])
            fields["saddr_v6"] = .bytes(localAddress)
            fields["daddr_v6"] = .bytes(remoteAddress)
        } else {
            fields["saddr"] = .bytes(localAddress)
            fields["daddr"] = .bytes(remoteAddress)
        }
        return fields
    }
}
