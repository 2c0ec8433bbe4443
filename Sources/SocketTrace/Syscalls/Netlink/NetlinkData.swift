/// A stretch of a netlink buffer in the tracee: where it is, how long the
/// call says it is, and the bytes of it that could be read. The decoders
/// walk it by offset, as strace walks the tracee's memory: a field beyond
/// the readable bytes is nil, and the decoder shows the address instead.
struct NetlinkData {
    /// The tracee's address of the first byte.
    let address: UInt64
    /// The length the message, attribute or call gives.
    let count: Int
    /// The readable bytes of the whole buffer, and where this stretch starts in them.
    let storage: [UInt8]
    let start: Int

    init(address: UInt64, count: Int, storage: [UInt8], start: Int = 0) {
        self.address = address
        self.count = max(count, 0)
        self.storage = storage
        self.start = start
    }

    /// Reads `count` bytes at `address` (at most `limit`: a length beyond any
    /// buffer a program hands the kernel is not read in full).
    init(memory: any TraceeMemory, address: UInt64, count: Int, limit: Int = 1 << 20) {
        let wanted = min(max(count, 0), limit)
        self.init(address: address, count: count, storage: memory.read(address, count: wanted) ?? [])
    }

    /// Whether the first `size` bytes can be read.
    func canRead(_ size: Int) -> Bool { start + size <= storage.count && size <= count }

    /// The part from `offset` on (as long as this one is).
    func dropFirst(_ offset: Int) -> NetlinkData {
        let step = min(max(offset, 0), count)
        return NetlinkData(address: address + UInt64(step), count: count - step, storage: storage, start: start + step)
    }

    /// The first `length` bytes.
    func prefix(_ length: Int) -> NetlinkData {
        NetlinkData(address: address, count: min(max(length, 0), count), storage: storage, start: start)
    }

    /// The readable bytes among the first `length` (all of them by default).
    func bytes(_ length: Int? = nil) -> ArraySlice<UInt8> {
        let wanted = min(length ?? count, count)
        let end = min(start + wanted, storage.count)
        return start < end ? storage[start..<end] : []
    }

    func u8(_ offset: Int) -> UInt8 { storage[start + offset] }
    func u16(_ offset: Int) -> UInt16 { storage.loadLittleEndian(UInt16.self, at: start + offset) }
    func u32(_ offset: Int) -> UInt32 { storage.loadLittleEndian(UInt32.self, at: start + offset) }
    func u64(_ offset: Int) -> UInt64 { storage.loadLittleEndian(UInt64.self, at: start + offset) }
    func s32(_ offset: Int) -> Int32 { Int32(bitPattern: u32(offset)) }
    /// A 16-bit field in network byte order (ports).
    func be16(_ offset: Int) -> UInt16 { storage.loadBigEndian(UInt16.self, at: start + offset) }
}

/// Netlink's 4-byte alignment of messages and attributes (NLMSG_ALIGN, NLA_ALIGN).
func netlinkAligned(_ length: Int) -> Int { (length + 3) & ~3 }
