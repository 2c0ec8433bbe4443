import Foundation

/// A tracepoint's record layout, from tracefs' `format` file: its id for
/// perf_event_open, its fields and, for `__print_symbolic` fields, the names
/// of their values (skb drop reasons).
public struct TracepointFormat: Sendable {
    public struct Field: Sendable {
        public let name: String
        public let offset: Int
        public let size: Int
        public let signed: Bool
        public let isArray: Bool
        /// `__data_loc char[]`: a string stored elsewhere in the record.
        public let isDynamicString: Bool
    }

    public let name: String
    public let id: UInt64
    public let fields: [Field]
    public let symbolicValues: [String: [Int64: String]]

    public init?(name: String, text: String) {
        self.name = name
        var id: UInt64?
        var fields: [Field] = []
        var symbolic: [String: [Int64: String]] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("ID:") {
                id = UInt64(trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces))
            } else if trimmed.hasPrefix("field:") {
                var declaration = "", offset = 0, size = 0, signed = false
                for part in trimmed.split(separator: ";") {
                    let item = part.drop { $0 == " " || $0 == "\t" }
                    if item.hasPrefix("field:") { declaration = String(item.dropFirst(6)) }
                    if item.hasPrefix("offset:") { offset = Int(item.dropFirst(7)) ?? 0 }
                    if item.hasPrefix("size:") { size = Int(item.dropFirst(5)) ?? 0 }
                    if item.hasPrefix("signed:") { signed = item.dropFirst(7) == "1" }
                }
                var fieldName = declaration.split(separator: " ").last.map(String.init) ?? declaration
                let isArray = fieldName.contains("[")
                if let bracket = fieldName.firstIndex(of: "[") { fieldName = String(fieldName[..<bracket]) }
                fields.append(Field(name: fieldName, offset: offset, size: size, signed: signed, isArray: isArray,
                                    isDynamicString: declaration.hasPrefix("__data_loc")))
            } else if trimmed.hasPrefix("print fmt:") {
                symbolic = Self.symbolicValues(in: trimmed)
            }
        }
        guard let id else { return nil }
        self.id = id
        self.fields = fields
        self.symbolicValues = symbolic
    }

    /// The value names of each `__print_symbolic(REC->FIELD, { N, "NAME" }, …)`
    /// in a print fmt line, by field; one whose values are not all numbers
    /// (an enum the kernel left unresolved) has none. Scanned by hand: a
    /// regex was compiled anew for every format read at start.
    static func symbolicValues(in line: Substring) -> [String: [Int64: String]] {
        let marker = Array("__print_symbolic(REC->".utf8)
        let text = Array(line.utf8)
        var result: [String: [Int64: String]] = [:]
        var position = 0
        func skipSpace() { while position < text.count, text[position] == 0x20 || text[position] == 0x09 || text[position] == 0x0a { position += 1 } }
        func take(_ byte: UInt8) -> Bool {
            guard position < text.count, text[position] == byte else { return false }
            position += 1
            return true
        }
        func word() -> String {
            let start = position
            while position < text.count, text[position] == 0x5f || (text[position] | 0x20 >= 0x61 && text[position] | 0x20 <= 0x7a)
                    || (text[position] >= 0x30 && text[position] <= 0x39) { position += 1 }
            return String(decoding: text[start..<position], as: UTF8.self)
        }
        while position + marker.count <= text.count {
            guard text[position..<position + marker.count].elementsEqual(marker) else {
                position += 1
                continue
            }
            position += marker.count
            let field = word()
            guard !field.isEmpty, take(0x2c) else { continue }
            var values: [Int64: String] = [:]
            var complete = false
            while true {
                let pairStart = position
                skipSpace()
                guard take(0x7b) else { position = pairStart; break }
                skipSpace()
                let negative = take(0x2d)
                let digits = word()
                guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let magnitude = Int64(digits),
                      take(0x2c) else { break }
                skipSpace()
                guard take(0x22) else { break }
                let nameStart = position
                while position < text.count, text[position] != 0x22 { position += 1 }
                let name = String(decoding: text[nameStart..<position], as: UTF8.self)
                guard take(0x22) else { break }
                skipSpace()
                guard take(0x7d) else { break }
                values[negative ? -magnitude : magnitude] = name
                _ = take(0x2c)
                if position < text.count, text[position] == 0x29 { complete = true; break }
            }
            if complete, !values.isEmpty { result[field] = values }
        }
        return result
    }

    /// The fields of one raw record (common_* fields left out), as numbers,
    /// byte arrays or strings.
    public func decode(_ raw: [UInt8]) -> [String: TracepointValue] {
        var values: [String: TracepointValue] = [:]
        for field in fields where !field.name.hasPrefix("common_") {
            guard field.offset + field.size <= raw.count else { continue }
            if field.isDynamicString {
                let location = raw.loadLittleEndian(UInt32.self, at: field.offset)
                let start = Int(location & 0xffff), length = Int(location >> 16)
                guard start + length <= raw.count else { continue }
                let bytes = raw[start..<start + length].prefix { $0 != 0 }
                values[field.name] = .string(String(decoding: bytes, as: UTF8.self))
            } else if field.isArray {
                values[field.name] = .bytes(Array(raw[field.offset..<field.offset + field.size]))
            } else {
                var value: Int64
                switch field.size {
                case 1: value = field.signed ? Int64(Int8(bitPattern: raw[field.offset])) : Int64(raw[field.offset])
                case 2: value = field.signed ? Int64(raw.loadLittleEndian(Int16.self, at: field.offset)) : Int64(raw.loadLittleEndian(UInt16.self, at: field.offset))
                case 4: value = field.signed ? Int64(raw.loadLittleEndian(Int32.self, at: field.offset)) : Int64(raw.loadLittleEndian(UInt32.self, at: field.offset))
                default: value = Int64(bitPattern: raw.loadLittleEndian(UInt64.self, at: field.offset))
                }
                if let symbol = symbolicValues[field.name]?[value] {
                    values[field.name] = .symbol(symbol, value)
                } else {
                    values[field.name] = .number(value)
                }
            }
        }
        return values
    }
}

/// One decoded tracepoint field.
public enum TracepointValue: Sendable, Equatable, Codable {
    case number(Int64)
    case symbol(String, Int64)
    case string(String)
    case bytes([UInt8])

    enum SymbolKeys: String, CodingKey { case symbol, value }

    /// A number, a string, an array of bytes, or `{"symbol": "NO_SOCKET", "value": 3}`.
    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: SymbolKeys.self) {
            self = .symbol(try keyed.decode(String.self, forKey: .symbol), try keyed.decode(Int64.self, forKey: .value))
            return
        }
        let single = try decoder.singleValueContainer()
        if let number = try? single.decode(Int64.self) {
            self = .number(number)
        } else if let text = try? single.decode(String.self) {
            self = .string(text)
        } else {
            self = .bytes(try single.decode([UInt8].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case let .symbol(name, value):
            var keyed = encoder.container(keyedBy: SymbolKeys.self)
            try keyed.encode(name, forKey: .symbol)
            try keyed.encode(value, forKey: .value)
        case let .number(value):
            var single = encoder.singleValueContainer()
            try single.encode(value)
        case let .string(text):
            var single = encoder.singleValueContainer()
            try single.encode(text)
        case let .bytes(bytes):
            var single = encoder.singleValueContainer()
            try single.encode(bytes)
        }
    }

    public var number: Int64? {
        switch self {
        case let .number(value), let .symbol(_, value): value
        default: nil
        }
    }
}
