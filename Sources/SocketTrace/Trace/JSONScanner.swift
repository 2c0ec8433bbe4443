/// A JSON value as the trace reader needs it: integers kept exact (64-bit
/// syscall arguments), objects as dictionaries.
enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in their order: a trace record's objects are small, and a
    /// scan of their keys costs less than hashing them.
    case object([(key: String, value: JSONValue)])

    subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    var string: String? { if case let .string(text) = self { return text } else { return nil } }
    var bool: Bool? { if case let .bool(value) = self { return value } else { return nil } }
    var array: [JSONValue]? { if case let .array(items) = self { return items } else { return nil } }

    var int64: Int64? {
        switch self {
        case let .int(value): value
        case let .uint(value): Int64(exactly: value)
        default: nil
        }
    }

    var uint64: UInt64? {
        switch self {
        case let .uint(value): value
        case let .int(value): UInt64(exactly: value)
        default: nil
        }
    }

    func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        switch self {
        case let .int(value): T(exactly: value)
        case let .uint(value): T(exactly: value)
        default: nil
        }
    }
}

/// Parses one JSON text (a trace file's line) from its bytes. Written for
/// speed on the reader's hot path: one pass, no intermediate copies but the
/// strings. `captureKey` names a top-level member whose value is not parsed
/// but returned as its byte range (for a part decoded another way).
struct JSONScanner {
    struct Invalid: Error {}

    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    let captureKey: String?
    var captured: Range<Int>?

    init(_ bytes: UnsafeBufferPointer<UInt8>, captureKey: String? = nil) {
        self.bytes = bytes
        self.captureKey = captureKey
    }

    /// The whole text as one value (nothing but space may follow it).
    mutating func parseDocument() throws(Invalid) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard position == bytes.count else { throw Invalid() }
        return value
    }

    mutating func skipSpace() {
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 else { return }
            position += 1
        }
    }

    mutating func expect(_ byte: UInt8) throws(Invalid) {
        guard position < bytes.count, bytes[position] == byte else { throw Invalid() }
        position += 1
    }

    mutating func parseValue(depth: Int) throws(Invalid) -> JSONValue {
        guard depth < 64 else { throw Invalid() }
        skipSpace()
        guard position < bytes.count else { throw Invalid() }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard position < bytes.count else { throw Invalid() }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func parseObject(depth: Int) throws(Invalid) -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(24)
        skipSpace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipSpace()
            let key = try parseString()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            if depth == 0, let captureKey, key == captureKey {
                skipSpace()
                let start = position
                try skipValue(depth: depth + 1)
                captured = start..<position
            } else {
                members.append((key, try parseValue(depth: depth + 1)))
            }
            skipSpace()
            guard position < bytes.count else { throw Invalid() }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"))
            return .object(members)
        }
    }

    /// Passes over a value, checking only that its brackets and strings close.
    mutating func skipValue(depth: Int) throws(Invalid) {
        skipSpace()
        guard position < bytes.count else { throw Invalid() }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var nesting = 0
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: "\""):
                    try skipString()
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    nesting += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    nesting -= 1
                    if nesting == 0 {
                        position += 1
                        return
                    }
                default:
                    break
                }
                position += 1
            }
            throw Invalid()
        default:
            let start = position
            while position < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0a, 0x0d, 0x09].contains(bytes[position]) {
                position += 1
            }
            guard position > start else { throw Invalid() }
        }
    }

    /// Passes over a string, escapes included.
    mutating func skipString() throws(Invalid) {
        try expect(UInt8(ascii: "\""))
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                position += 2
            default:
                position += 1
            }
        }
        throw Invalid()
    }

    mutating func literal(_ word: StaticString) throws(Invalid) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw Invalid() }
        for index in 0..<count where bytes[position + index] != word.utf8Start[index] { throw Invalid() }
        position += count
    }

    mutating func parseNumber() throws(Invalid) -> JSONValue {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var magnitude: UInt64 = 0
        var digits = 0
        var overflow = false
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(bytes[position] - 0x30))
            overflow = overflow || o1 || o2
            magnitude = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw Invalid() }
        var fractional = false
        while position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[position])
                || (fractional && bytes[position] >= 0x30 && bytes[position] <= 0x39) {
            fractional = true
            position += 1
        }
        if fractional || overflow {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Double(text) else { throw Invalid() }
            return .double(value)
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return .double(-Double(magnitude)) }
            return .int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        return magnitude <= UInt64(Int64.max) ? .int(Int64(magnitude)) : .uint(magnitude)
    }

    mutating func parseString() throws(Invalid) -> String {
        try expect(UInt8(ascii: "\""))
        let start = position
        // The common case: no escapes.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw Invalid() }
            position += 1
        }
        var scalars = String.UnicodeScalarView()
        var pending: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        func flush() {
            scalars.append(contentsOf: String(decoding: pending, as: UTF8.self).unicodeScalars)
            pending.removeAll(keepingCapacity: true)
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw Invalid() }
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): pending.append(escaped)
                case UInt8(ascii: "n"): pending.append(0x0a)
                case UInt8(ascii: "r"): pending.append(0x0d)
                case UInt8(ascii: "t"): pending.append(0x09)
                case UInt8(ascii: "b"): pending.append(0x08)
                case UInt8(ascii: "f"): pending.append(0x0c)
                case UInt8(ascii: "u"):
                    flush()
                    var code = try hex4()
                    if code >= 0xd800 && code < 0xdc00 {
                        // A surrogate pair.
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else { throw Invalid() }
                        position += 2
                        let low = try hex4()
                        guard low >= 0xdc00 && low < 0xe000 else { throw Invalid() }
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw Invalid() }
                    scalars.append(scalar)
                default:
                    throw Invalid()
                }
            default:
                guard byte >= 0x20 else { throw Invalid() }
                pending.append(byte)
            }
        }
        throw Invalid()
    }

    mutating func hex4() throws(Invalid) -> UInt32 {
        guard position + 4 <= bytes.count else { throw Invalid() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            position += 1
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw Invalid()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
