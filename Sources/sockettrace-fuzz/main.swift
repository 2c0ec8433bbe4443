// Fuzzes the syscall decoders (random argument values and memory images, on
// both architectures) and the trace reader (random and mutated lines) for a
// number of seconds: `sockettrace-fuzz [SECONDS] [SEED]`. A crash or a hang
// is a failure; errors thrown by the reader are expected.
import Foundation
import SocketTrace

/// SplitMix64: small, fast, reproducible from its seed.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 10 : 10
var random = Random(state: CommandLine.arguments.count > 2 ? UInt64(CommandLine.arguments[2]) ?? 1 : UInt64(Date().timeIntervalSince1970))
let seed = random.state
let deadline = Date().addingTimeInterval(seconds)
let base: UInt64 = 0x7ffd_0000_0000

/// An argument: small numbers, pointers into the image, or anything.
func argument(_ random: inout Random) -> UInt64 {
    switch random.below(6) {
    case 0: return UInt64(random.below(40))
    case 1: return base + UInt64(random.below(8) * 512)
    case 2: return UInt64(bitPattern: Int64(-random.below(600)))
    case 3: return UInt64(random.below(1 << 17))
    case 4: return 0
    default: return random.next()
    }
}

var decoded = 0
var traces = 0
let syscalls = Syscall.allCases
let validRecord = #"{"type":"syscall","pid":1,"tid":1,"architecture":"x86_64","syscall":"sendto","arguments":[3,0,4,0,0,0],"via_socketcall":false,"entry_time":5,"entry_text":"sendto(3","exit_text":"","saved":[],"result":{"value":4},"return_text":"4"}"#
let header = #"{"type":"header","format":"sockettrace-trace","version":"1.0","kernel_release":"6.18","host":"h","command":["x"],"start_wall":{"seconds":1,"microseconds":2},"start_monotonic":3,"kernel_observation":"off"}"#
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sockettrace-fuzz-\(getpid())")
try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

while Date() < deadline {
    for _ in 0..<200 {
        var memory = MemoryImage()
        for region in 0..<random.below(9) {
            var bytes = random.bytes(random.below(600))
            // Plausible structures now and then: a length, a family, a pointer.
            if bytes.count >= 16, random.below(2) == 0 {
                bytes[0] = UInt8(random.below(46)); bytes[1] = 0
                let pointer = base + UInt64(random.below(8) * 512)
                for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: pointer >> (8 * UInt64(index))) }
            }
            memory.place(bytes, at: base + UInt64(region * 512))
        }
        let architecture: Architecture = random.below(2) == 0 ? .x86_64 : .i386
        let options = DecodeOptions(stringLimit: random.below(70), hexStrings: [.none, .nonASCII, .all][random.below(3)])
        let context = DecodingContext(memory: memory, architecture: architecture, options: options)
        let decoder = SyscallDecoder(context)
        var call = SyscallInvocation(pid: 1, tid: 1, architecture: architecture, syscall: syscalls[random.below(syscalls.count)],
                                     arguments: (0..<6).map { _ in argument(&random) }, entryTime: .now())
        decoder.enter(&call)
        call.result = random.below(3) == 0
            ? SyscallResult(rval: -Int64(random.below(520)), isError: true)
            : SyscallResult(value: Int64(bitPattern: argument(&random)), errno: nil)
        decoder.exit(&call)
        _ = decoder.returnText(call)
        decoded += 1
    }
    // The reader: random bytes, or a valid trace with one line mutated or cut.
    var lines = [header] + Array(repeating: validRecord, count: random.below(4))
    switch random.below(4) {
    case 0: lines.append(String(decoding: random.bytes(random.below(200)), as: UTF8.self))
    case 1:
        let index = random.below(lines.count)
        var bytes = Array(lines[index].utf8)
        for _ in 0..<random.below(4) where !bytes.isEmpty { bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next()) }
        lines[index] = String(decoding: bytes, as: UTF8.self)
    case 2:
        let cut = random.below(lines.last!.count)
        lines[lines.count - 1] = String(lines.last!.prefix(cut))
    default:
        lines.shuffle(using: &random)
    }
    let path = directory.appendingPathComponent("trace-\(traces % 8).jsonl").path
    let text = lines.joined(separator: "\n") + (random.below(2) == 0 ? "\n" : "")
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        print("sockettrace-fuzz: cannot write \(path)")
        exit(1)
    }
    _ = try? TraceFileReader(path: path)
    traces += 1
}

extension Random: RandomNumberGenerator {}

print("sockettrace-fuzz: seed \(seed), \(decoded) decoded calls, \(traces) trace files read in \(Int(seconds)) s, no crash")
