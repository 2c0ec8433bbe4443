/// Function prototypes from the kernel's BTF (/sys/kernel/btf/vmlinux):
/// for a function name, its return and parameter types as C text.
public struct BTF: Sendable {
    struct TypeEntry {
        let kind: UInt32
        let nameOffset: UInt32
        let sizeOrType: UInt32
        /// FUNC_PROTO parameters: (name offset, type id).
        let parameters: [(UInt32, UInt32)]
    }

    let types: [TypeEntry]
    let strings: [UInt8]
    let functions: [String: UInt32]

    /// Parses BTF bytes; nil when they are not BTF.
    public init?(_ data: [UInt8]) {
        guard data.count >= 24, data.loadLittleEndian(UInt16.self, at: 0) == 0xeB9F else { return nil }
        let headerLength = Int(data.loadLittleEndian(UInt32.self, at: 4))
        let typeOffset = headerLength + Int(data.loadLittleEndian(UInt32.self, at: 8))
        let typeLength = Int(data.loadLittleEndian(UInt32.self, at: 12))
        let stringOffset = headerLength + Int(data.loadLittleEndian(UInt32.self, at: 16))
        let stringLength = Int(data.loadLittleEndian(UInt32.self, at: 20))
        guard typeOffset + typeLength <= data.count, stringOffset + stringLength <= data.count else { return nil }
        strings = Array(data[stringOffset..<stringOffset + stringLength])
        var types: [TypeEntry] = [TypeEntry(kind: 0, nameOffset: 0, sizeOrType: 0, parameters: [])]
        var functions: [String: UInt32] = [:]
        var at = typeOffset
        let end = typeOffset + typeLength
        while at + 12 <= end {
            let nameOffset = data.loadLittleEndian(UInt32.self, at: at)
            let info = data.loadLittleEndian(UInt32.self, at: at + 4)
            let sizeOrType = data.loadLittleEndian(UInt32.self, at: at + 8)
            let kind = (info >> 24) & 0x1f
            let count = Int(info & 0xffff)
            at += 12
            var parameters: [(UInt32, UInt32)] = []
            switch kind {
            case 1, 14, 17: at += 4                      // INT, VAR, DECL_TAG
            case 3: at += 12                             // ARRAY
            case 4, 5, 15, 19: at += 12 * count          // STRUCT, UNION, DATASEC, ENUM64
            case 6: at += 8 * count                      // ENUM
            case 13:                                     // FUNC_PROTO
                for index in 0..<count {
                    parameters.append((data.loadLittleEndian(UInt32.self, at: at + index * 8),
                                       data.loadLittleEndian(UInt32.self, at: at + index * 8 + 4)))
                }
                at += 8 * count
            default: break
            }
            types.append(TypeEntry(kind: kind, nameOffset: nameOffset, sizeOrType: sizeOrType, parameters: parameters))
            if kind == 12 { functions[Self.string(strings, nameOffset)] = UInt32(types.count - 1) }
        }
        self.types = types
        self.functions = functions
    }

    /// The running kernel's BTF, if it publishes one.
    public static func load() -> BTF? {
        guard let file = fopen("/sys/kernel/btf/vmlinux", "rb") else { return nil }
        defer { fclose(file) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = fread(&chunk, 1, chunk.count, file)
            if got <= 0 { break }
            data.append(contentsOf: chunk[0..<got])
        }
        return BTF(data)
    }

    static func string(_ strings: [UInt8], _ offset: UInt32) -> String {
        let start = Int(offset)
        guard start < strings.count else { return "" }
        return String(decoding: strings[start...].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)`.
    public func prototype(of function: String) -> String? {
        guard let id = functions[function], Int(types[Int(id)].sizeOrType) < types.count else { return nil }
        let proto = types[Int(types[Int(id)].sizeOrType)]
        guard proto.kind == 13 else { return nil }
        let parameters = proto.parameters.map { name, type in
            let typeText = typeName(type)
            let parameterName = Self.string(strings, name)
            return parameterName.isEmpty ? typeText : typeText + (typeText.hasSuffix("*") ? "" : " ") + parameterName
        }
        let returnType = typeName(proto.sizeOrType)
        return returnType + (returnType.hasSuffix("*") ? "" : " ") + function + "(" + (parameters.isEmpty ? "void" : parameters.joined(separator: ", ")) + ")"
    }

    func typeName(_ id: UInt32, depth: Int = 0) -> String {
        guard id != 0, Int(id) < types.count, depth < 16 else { return id == 0 ? "void" : "?" }
        let entry = types[Int(id)]
        let name = Self.string(strings, entry.nameOffset)
        switch entry.kind {
        case 1, 8, 16: return name
        case 2: return typeName(entry.sizeOrType, depth: depth + 1) + " *"
        case 3: return "array"
        case 4: return "struct " + name
        case 5: return "union " + name
        case 6, 19: return "enum " + name
        case 7: return "struct " + name
        case 9: return "volatile " + typeName(entry.sizeOrType, depth: depth + 1)
        case 10: return "const " + typeName(entry.sizeOrType, depth: depth + 1)
        case 11, 18: return typeName(entry.sizeOrType, depth: depth + 1)
        case 13: return "fn"
        default: return name.isEmpty ? "?" : name
        }
    }
}

import Glibc
