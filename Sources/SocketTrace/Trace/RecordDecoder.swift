import Foundation

/// Reads the frequent records of a trace file (the syscall records) straight
/// from their JSON, the inverse of `RecordEncoder`: JSONDecoder spends most
/// of a report's time on its generic containers and key conversion. Any
/// other record, and any line this decoder does not accept, goes through
/// Codable, which also names what is wrong with a bad line.
struct RecordDecoder {
    /// Decodes a call's `kernel` member (chains may refer to earlier `chain` records).
    let kernelDecoder: JSONDecoder

    func decode(_ line: UnsafeBufferPointer<UInt8>) -> TraceRecord? {
        // Only the syscall records take this path; others are cheap to spot by their type.
        var scanner = JSONScanner(line, captureKey: "kernel")
        guard let value = try? scanner.parseDocument(), let type = value["type"]?.string else { return nil }
        switch type {
        case "syscall", "syscall_entry", "syscall_abandoned":
            guard var call = Self.call(value) else { return nil }
            if let range = scanner.captured {
                let data = Data(UnsafeBufferPointer(rebasing: line[range]))
                guard let kernel = try? kernelDecoder.decode(KernelActivity.self, from: data) else { return nil }
                call.kernel = kernel
            }
            switch type {
            case "syscall": return .syscall(call)
            case "syscall_entry": return .syscallEntry(call)
            default: return .syscallAbandoned(call)
            }
        default:
            return nil
        }
    }

    static func call(_ value: JSONValue) -> SyscallInvocation? {
        guard let pid = value["pid"]?.integer(Int32.self), let tid = value["tid"]?.integer(Int32.self),
              let architecture = value["architecture"]?.string.flatMap(Architecture.init(rawValue:)),
              let syscall = value["syscall"]?.string.flatMap(Syscall.init(rawValue:)),
              let arguments = value["arguments"]?.array?.compactMap(\.uint64),
              let viaSocketcall = value["via_socketcall"]?.bool,
              let entryTime = value["entry_time"]?.uint64 else { return nil }
        var call = SyscallInvocation(pid: pid, tid: tid, architecture: architecture, syscall: syscall, arguments: arguments,
                                     viaSocketcall: viaSocketcall, entryTime: MonotonicTime(nanoseconds: entryTime))
        if let wall = value["wall_clock"] {
            guard let seconds = wall["seconds"]?.integer(Int.self), let microseconds = wall["microseconds"]?.integer(Int.self) else { return nil }
            call.wallClock = WallClock(seconds: seconds, microseconds: microseconds)
        }
        call.recordedBy = value["recorded_by"]?.string
        call.entryText = value["entry_text"]?.string ?? ""
        call.exitText = value["exit_text"]?.string ?? ""
        call.saved = value["saved"]?.array?.compactMap(\.int64) ?? []
        call.transferredBytes = value["transferred_bytes"]?.int64
        call.exitTime = value["exit_time"]?.uint64.map(MonotonicTime.init(nanoseconds:))
        call.kernelEntryTime = value["kernel_entry_time"]?.uint64.map(MonotonicTime.init(nanoseconds:))
        call.kernelExitTime = value["kernel_exit_time"]?.uint64.map(MonotonicTime.init(nanoseconds:))
        call.closedFile = value["closed_file"]?.uint64
        if let result = value["result"] {
            guard let returned = result["value"]?.int64 else { return nil }
            call.result = SyscallResult(value: returned, errno: result["errno"]?.integer(Int32.self))
        }
        call.returnText = value["return_text"]?.string ?? ""
        if let plain = value["plain_text"] {
            call.plainText = PlainText(entryText: plain["entry_text"]?.string ?? "", exitText: plain["exit_text"]?.string ?? "",
                                       returnText: plain["return_text"]?.string ?? "")
        }
        if let socket = value["socket"] {
            guard let snapshot = Self.socket(socket) else { return nil }
            call.socket = snapshot
        }
        if let carried = value["released_in_messages"]?.array {
            call.releasedInMessages = carried.compactMap { value in
                guard let socket = value["socket"].flatMap(Self.socket) else { return nil }
                return CarriedSocket(socket: socket, waitingAt: value["waiting_at"]?.integer(Int32.self),
                                     perhapsEarlier: value["perhaps_earlier"]?.bool ?? false)
            }
        }
        if let start = value["connect_start"] {
            call.connectStart = ConnectStart(state: start["state"]?.string.flatMap(SocketInfo.State.init(rawValue:)),
                                             addressFamily: start["address_family"]?.uint64)
        }
        if let functions = value["functions"]?.array {
            call.functions = functions.compactMap(\.string)
        }
        if let stack = value["user_stack"]?.array {
            call.userStack = stack.map { frame in
                var decoded = UserFrame(module: frame["module"]?.string ?? "?", function: frame["function"]?.string,
                                        offset: frame["offset"]?.uint64 ?? 0, moduleOffset: frame["module_offset"]?.uint64 ?? 0,
                                        file: frame["file"]?.string, line: frame["line"]?.integer(Int.self))
                decoded.exportedName = frame["exported_name"]?.string
                decoded.exportedOffset = frame["exported_offset"]?.uint64
                return decoded
            }
        }
        return call
    }

    static func socket(_ value: JSONValue) -> SocketSnapshot? {
        guard let fd = value["fd"]?.integer(Int32.self), let family = value["family"]?.uint64, let type = value["type"]?.uint64,
              let label = value["protocol_label"]?.string,
              let state = value["state"]?.string.flatMap(SocketInfo.State.init(rawValue:)) else { return nil }
        var snapshot = SocketSnapshot(fd: fd, family: family, type: type, protocolLabel: label,
                                      local: value["local"]?.string.map(SocketEndpoint.init(text:)),
                                      peer: value["peer"]?.string.map(SocketEndpoint.init(text:)), state: state,
                                      inode: value["inode"]?.uint64)
        snapshot.otherReferences = value["other_references"]?.integer(Int.self)
        snapshot.otherReferencesInMessages = value["other_references_in_messages"]?.integer(Int.self)
        snapshot.tcpState = value["tcp_state"]?.integer(Int64.self)
        snapshot.netns = value["netns"]?.uint64
        return snapshot
    }
}
