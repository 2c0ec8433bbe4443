/// Decodes the option values of setsockopt and getsockopt as strace does:
/// structures where it knows them, `[int]`, or the raw bytes.
struct SocketOptionDecoder {
    let context: DecodingContext

    init(_ context: DecodingContext) { self.context = context }

    /// SOL_SOCKET options whose value is an int: strace shows the address
    /// instead when fewer than four bytes are passed.
    static let intSocketOptions: Set<UInt64> = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 19, 29, 30, 32, 33, 34, 35, 36, 38, 39,
        40, 41, 42, 43, 44, 45, 46, 47, 49, 50, 52, 60, 62, 63, 64, 69, 70, 72, 73, 74, 75, 76,
    ]

    func setValue(level: UInt64, name: UInt64, address: UInt64, length: Int32) -> String {
        if address == 0 { return "NULL" }
        let level = UInt64(UInt32(truncatingIfNeeded: level))
        let name = UInt64(UInt32(truncatingIfNeeded: name))
        if level == 1 && name == 13 {
            guard length >= 8, let bytes = context.memory.readExactly(address, count: 8) else { return context.pointer(address) }
            return linger(bytes)
        }
        if level == 1 && Self.intSocketOptions.contains(name) && length < 4 {
            return context.pointer(address)
        }
        return generic(address: address, length: Int(length))
    }

    func getValue(level: UInt64, name: UInt64, address: UInt64, before: Int32, after: Int32) -> String {
        guard before > 0, after > 0, address != 0 else { return context.pointer(address) }
        let level = UInt64(UInt32(truncatingIfNeeded: level))
        let name = UInt64(UInt32(truncatingIfNeeded: name))
        let length = Int(after)
        if level == 1 {
            switch name {
            case 13:
                guard let bytes = context.memory.read(address, count: min(length, 8)), !bytes.isEmpty else { return context.pointer(address) }
                return linger(bytes)
            case 17:
                guard let bytes = context.memory.read(address, count: min(length, 12)), !bytes.isEmpty else { return context.pointer(address) }
                var fields: [String] = []
                if bytes.count >= 4 { fields.append("pid=\(bytes.loadLittleEndian(Int32.self, at: 0))") }
                if bytes.count >= 8 { fields.append("uid=\(bytes.loadLittleEndian(UInt32.self, at: 4))") }
                if bytes.count >= 12 { fields.append("gid=\(bytes.loadLittleEndian(UInt32.self, at: 8))") }
                return "{" + fields.joined(separator: ", ") + "}"
            case 4:
                guard let bytes = context.memory.read(address, count: min(length, 4)), !bytes.isEmpty else { return context.pointer(address) }
                let code = Int(bytes.loadLittleEndian(UInt32.self, at: 0))
                if code == 0 { return "[0]" }
                return "[" + (ErrnoName.name(code) ?? String(code)) + "]"
            default:
                break
            }
        }
        return generic(address: address, length: length)
    }

    func linger(_ bytes: [UInt8]) -> String {
        var fields: [String] = []
        if bytes.count >= 4 { fields.append("l_onoff=\(bytes.loadLittleEndian(Int32.self, at: 0))") }
        if bytes.count >= 8 { fields.append("l_linger=\(bytes.loadLittleEndian(Int32.self, at: 4))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    func generic(address: UInt64, length: Int) -> String {
        if length == 4 { return context.indirectInt(address) }
        if length < 0 { return context.pointer(address) }
        return context.buffer(address, length: length)
    }
}
