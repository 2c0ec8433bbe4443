/// Turns a socket syscall's raw arguments into strace's text: `enter` writes
/// what is known when the call starts, `exit` what only its result tells
/// (received data, returned addresses and lengths), `returnText` the result.
public struct SyscallDecoder {
    let context: DecodingContext

    public init(_ context: DecodingContext) { self.context = context }

    var addresses: SocketAddressDecoder { SocketAddressDecoder(context) }
    var messages: MessageDecoder { MessageDecoder(context) }

    // MARK: entry

    public func enter(_ call: inout SyscallInvocation) {
        let a = call.argument
        var args: [String] = []
        switch call.syscall {
        case .socket:
            args = [SocketConstants.addressFamilies.render(a(0)), SocketConstants.renderSocketType(a(1)),
                    socketProtocol(family: a(0), a(2))]
        case .socketpair:
            args = [SocketConstants.addressFamilies.render(a(0)), SocketConstants.renderSocketType(a(1)),
                    String(UInt32(truncatingIfNeeded: a(2))), ""]
        case .bind, .connect:
            args = [context.descriptor(a(0)), addresses.render(a(1), length: Int(Int32(truncatingIfNeeded: a(2)))),
                    int32Text(a(2))]
        case .listen:
            args = [context.descriptor(a(0)), int32Text(a(1))]
        case .accept, .accept4, .getsockname, .getpeername:
            if a(1) != 0, a(2) != 0, let length = context.int32(at: a(2)) {
                call.saved = [Int64(length)]
                args = [context.descriptor(a(0)), ""]
            } else {
                args = [context.descriptor(a(0)), context.pointer(a(1)), context.pointer(a(2))]
                if call.syscall == .accept4 { args.append(SocketConstants.socketTypeFlags.render(a(3))) }
            }
        case .send:
            args = [context.descriptor(a(0)), context.socketBuffer(fd: a(0), a(1), length: Int(clamping: a(2))), String(a(2)),
                    SocketConstants.messageFlags.render(a(3))]
        case .sendto:
            args = [context.descriptor(a(0)), context.socketBuffer(fd: a(0), a(1), length: Int(clamping: a(2))), String(a(2)),
                    SocketConstants.messageFlags.render(a(3)),
                    addresses.render(a(4), length: Int(Int32(truncatingIfNeeded: a(5)))), int32Text(a(5))]
        case .recv, .read, .readv, .recvmmsg, .recvmmsg_time64, .sendmmsg:
            args = [context.descriptor(a(0)), ""]
            if call.syscall == .recvmmsg || call.syscall == .recvmmsg_time64 {
                // The kernel updates the timeout, so it is read now and shown at exit.
                call.exitText = timeout(a(4), time64: call.syscall == .recvmmsg_time64 || call.architecture == .x86_64)
            }
        case .recvfrom:
            if a(4) != 0, a(5) != 0, let length = context.int32(at: a(5)) {
                call.saved = [Int64(length)]
            }
            args = [context.descriptor(a(0)), ""]
        case .sendmsg:
            args = [context.descriptor(a(0)), messages.messageHeader(a(1), dataLimit: Int.max, fd: a(0)),
                    SocketConstants.messageFlags.render(a(2))]
        case .recvmsg:
            if let header = messages.readHeader(a(1)) { call.saved = [Int64(header.nameLength)] }
            args = [context.descriptor(a(0)), ""]
        case .shutdown:
            args = [context.descriptor(a(0)), SocketConstants.shutdownModes.render(a(1))]
        case .setsockopt:
            let length = Int32(truncatingIfNeeded: a(4))
            args = [context.descriptor(a(0)), level(a(1)), optionName(level: a(1), a(2)),
                    SocketOptionDecoder(context).setValue(level: a(1), name: a(2), address: a(3), length: length),
                    String(length)]
        case .getsockopt:
            if a(4) != 0, let length = context.int32(at: a(4)) {
                call.saved = [Int64(length)]
                args = [context.descriptor(a(0)), level(a(1)), optionName(level: a(1), a(2)), ""]
            } else {
                args = [context.descriptor(a(0)), level(a(1)), optionName(level: a(1), a(2)),
                        context.pointer(a(3)), context.pointer(a(4))]
            }
        case .write:
            args = [context.descriptor(a(0)), context.buffer(a(1), length: Int(clamping: a(2))), String(a(2))]
        case .writev:
            args = [context.descriptor(a(0)), messages.iovecArray(a(1), count: a(2), dataLimit: Int.max), String(a(2))]
        case .close, .dup:
            args = [context.descriptor(a(0))]
        case .close_range:
            args = [String(UInt32(truncatingIfNeeded: a(0))), String(UInt32(truncatingIfNeeded: a(1))),
                    SocketConstants.closeRangeFlags.render(a(2))]
        case .dup2:
            args = [context.descriptor(a(0)), context.descriptor(a(1))]
        case .dup3:
            args = [context.descriptor(a(0)), context.descriptor(a(1)), SocketConstants.fileStatusFlags.render(a(2))]
        case .fcntl, .fcntl64:
            args = [context.descriptor(a(0))] + fcntlArguments(command: a(1), a(2))
        case .sendfile, .sendfile64:
            var offset = context.pointer(a(2))
            if a(2) != 0, let value = offsetValue(a(2), wide: call.syscall == .sendfile64 || call.architecture == .x86_64) {
                offset = "[\(value)]"
            }
            call.entryText = call.name + "(" + [context.descriptor(a(0)), context.descriptor(a(1)), offset].joined(separator: ", ")
            return
        case .splice:
            args = [context.descriptor(a(0)), spliceOffset(a(1)), context.descriptor(a(2)), spliceOffset(a(3)),
                    String(UInt32(truncatingIfNeeded: a(4))), SocketConstants.spliceFlags.render(a(5))]
        case .socketcall:
            args = [String(a(0)), context.pointer(a(1))]
        }
        call.entryText = call.name + "(" + args.joined(separator: ", ")
    }

    // MARK: exit

    public func exit(_ call: inout SyscallInvocation) {
        guard let result = call.result else { return }
        let a = call.argument
        let ok = !result.failed
        let value = Int(clamping: result.value)
        var args: [String] = []
        switch call.syscall {
        case .socket, .bind, .connect, .listen, .send, .sendto, .sendmsg, .shutdown, .setsockopt, .write,
             .writev, .close, .close_range, .dup, .dup2, .dup3, .fcntl, .fcntl64, .splice, .socketcall:
            return
        case .socketpair:
            args = [ok ? pairOfDescriptors(a(3)) : context.pointer(a(3))]
        case .accept, .accept4, .getsockname, .getpeername:
            guard let before = call.saved.first.map({ Int32(truncatingIfNeeded: $0) }) else { return }
            if !ok || context.int32(at: a(2)) == nil {
                args = [context.pointer(a(1)), "[\(before)]"]
            } else {
                let after = context.int32(at: a(2)) ?? 0
                args = [addresses.render(a(1), length: Int(min(before, after))),
                        DecodingContext.valueResult(before, after)]
            }
            if call.syscall == .accept4 { args.append(SocketConstants.socketTypeFlags.render(a(3))) }
        case .recv:
            args = [ok ? context.socketBuffer(fd: a(0), a(1), length: min(value, Int(clamping: a(2)))) : context.pointer(a(1)),
                    String(a(2)), SocketConstants.messageFlags.render(a(3))]
        case .recvfrom:
            args = [ok ? context.socketBuffer(fd: a(0), a(1), length: min(value, Int(clamping: a(2)))) : context.pointer(a(1)),
                    String(a(2)), SocketConstants.messageFlags.render(a(3))]
            let after = (a(4) != 0 && a(5) != 0) ? context.int32(at: a(5)) : nil
            if after == nil {
                args += [context.pointer(a(4)), context.pointer(a(5))]
            } else if let before = call.saved.first.map({ Int32(truncatingIfNeeded: $0) }), let after {
                if !ok {
                    args += [context.pointer(a(4)), "[\(before)]"]
                } else {
                    args += [addresses.render(a(4), length: Int(min(before, after))),
                             DecodingContext.valueResult(before, after)]
                }
            } else {
                args += [context.pointer(a(4)), context.pointer(a(5))]
            }
        case .recvmsg:
            let before = call.saved.first.map { UInt32(truncatingIfNeeded: $0) }
            // A failed call says only what it was given to fill: msg_namelen (strace's form).
            let failed = before.map { "{msg_namelen=\(Int32(bitPattern: $0))}" } ?? context.pointer(a(1))
            args = [ok ? messages.messageHeader(a(1), dataLimit: value, nameLengthBefore: before, fd: a(0)) : failed,
                    SocketConstants.messageFlags.render(a(2))]
        case .sendmmsg:
            args = [ok ? messages.messageVector(a(1), count: value, received: false, fd: a(0)) : context.pointer(a(1)),
                    String(UInt32(truncatingIfNeeded: a(2))), SocketConstants.messageFlags.render(a(3))]
        case .recvmmsg, .recvmmsg_time64:
            args = [ok ? messages.messageVector(a(1), count: value, received: true, fd: a(0)) : context.pointer(a(1)),
                    String(UInt32(truncatingIfNeeded: a(2))), SocketConstants.messageFlags.render(a(3)), call.exitText]
            call.exitText = ""
        case .getsockopt:
            guard let before = call.saved.first.map({ Int32(truncatingIfNeeded: $0) }) else { return }
            if !ok || context.int32(at: a(4)) == nil {
                args = [context.pointer(a(3)), "[\(before)]"]
            } else {
                let after = context.int32(at: a(4)) ?? 0
                args = [SocketOptionDecoder(context).getValue(level: a(1), name: a(2), address: a(3), before: before, after: after),
                        DecodingContext.valueResult(before, after)]
            }
        case .read:
            args = [ok ? context.buffer(a(1), length: min(value, Int(clamping: a(2)))) : context.pointer(a(1)), String(a(2))]
        case .readv:
            args = [ok ? messages.iovecArray(a(1), count: a(2), dataLimit: value) : context.pointer(a(1)), String(a(2))]
        case .sendfile, .sendfile64:
            var text = ""
            if a(2) != 0, ok, let offset = offsetValue(a(2), wide: call.syscall == .sendfile64 || call.architecture == .x86_64) {
                text = " => [\(offset)]"
            }
            call.exitText = text + ", " + String(a(3))
            return
        }
        call.exitText = args.joined(separator: ", ")
    }

    /// The text after `= `.
    public func returnText(_ call: SyscallInvocation) -> String {
        guard let result = call.result else { return "?" }
        if let errno = result.errno {
            let name = ErrnoName.name(Int(errno)) ?? String(errno)
            if result.isRestart { return "? \(name) (\(Self.restartMessage(errno)))" }
            return "-1 \(name) (\(errnoMessage(errno)))"
        }
        let value = result.value
        switch call.syscall {
        case .socket, .accept, .accept4, .dup, .dup2, .dup3:
            return context.describeDescriptor(Int32(truncatingIfNeeded: value))
        case .fcntl, .fcntl64:
            // The flags are an int: a value the kernel cannot return is shown as its bits.
            let bits = UInt64(UInt32(truncatingIfNeeded: value))
            switch call.argument(1) {
            case 0, 1030: return context.describeDescriptor(Int32(truncatingIfNeeded: value))
            case 3: return (value == 0 ? "0" : hex(bits)) + " (flags " + SocketConstants.renderOpenFlags(bits) + ")"
            case 1: return value == 0 ? "0" : hex(bits) + " (flags " + SocketConstants.descriptorFlags.render(bits) + ")"
            default: return String(value)
            }
        default:
            return String(value)
        }
    }

    static func restartMessage(_ errno: Int32) -> String {
        switch errno {
        case 512: "To be restarted if SA_RESTART is set"
        case 513: "To be restarted"
        case 514: "To be restarted if no handler"
        case 516: "Interrupted by signal"
        default: "?"
        }
    }

    // MARK: pieces

    func socketProtocol(family: UInt64, _ value: UInt64) -> String {
        switch family {
        case 2, 10: SocketConstants.ipProtocols.render(value)
        case 16: SocketConstants.netlinkProtocols.render(value)
        case 17: "htons(" + SocketConstants.ethernetProtocols.render(UInt64(UInt16(truncatingIfNeeded: value).byteSwapped)) + ")"
        default: String(UInt32(truncatingIfNeeded: value))
        }
    }

    func level(_ value: UInt64) -> String {
        let level = UInt64(UInt32(truncatingIfNeeded: value))
        if let name = SocketConstants.socketLevels.name(level) { return name }
        return "\(hex(level)) /* SOL_?? */"
    }

    func optionName(level: UInt64, _ value: UInt64) -> String {
        let name = UInt64(UInt32(truncatingIfNeeded: value))
        guard let table = SocketConstants.options(forLevel: UInt64(UInt32(truncatingIfNeeded: level))) else {
            return String(name)
        }
        return table.render(name)
    }

    func pairOfDescriptors(_ address: UInt64) -> String {
        if context.options.arrayLimit == 0 { return "[...]" }
        guard let bytes = context.memory.readExactly(address, count: 8) else { return context.pointer(address) }
        return "[" + context.describeDescriptor(bytes.loadLittleEndian(Int32.self, at: 0)) + ", "
            + context.describeDescriptor(bytes.loadLittleEndian(Int32.self, at: 4)) + "]"
    }

    func offsetValue(_ address: UInt64, wide: Bool) -> Int64? {
        if wide { return context.memory.readUInt64(address).map { Int64(bitPattern: $0) } }
        return context.memory.readInt32(address).map(Int64.init)
    }

    func spliceOffset(_ address: UInt64) -> String {
        if address == 0 { return "NULL" }
        guard let value = offsetValue(address, wide: true) else { return context.pointer(address) }
        return "[\(value)]"
    }

    func timeout(_ address: UInt64, time64: Bool) -> String {
        if address == 0 { return "NULL" }
        if time64 {
            guard let bytes = context.memory.readExactly(address, count: 16) else { return context.pointer(address) }
            return "{tv_sec=\(bytes.loadLittleEndian(Int64.self, at: 0)), tv_nsec=\(bytes.loadLittleEndian(Int64.self, at: 8))}"
        }
        guard let bytes = context.memory.readExactly(address, count: 8) else { return context.pointer(address) }
        return "{tv_sec=\(bytes.loadLittleEndian(Int32.self, at: 0)), tv_nsec=\(bytes.loadLittleEndian(Int32.self, at: 4))}"
    }

    func fcntlArguments(command: UInt64, _ argument: UInt64) -> [String] {
        let cmd = UInt64(UInt32(truncatingIfNeeded: command))
        let name = SocketConstants.fcntlCommands.render(cmd)
        switch cmd {
        case 1, 3, 9, 11, 1025, 1032, 1034: return [name]
        case 4: return [name, SocketConstants.renderOpenFlags(UInt64(UInt32(truncatingIfNeeded: argument)))]
        case 2: return [name, SocketConstants.descriptorFlags.render(UInt64(UInt32(truncatingIfNeeded: argument)))]
        case 0, 1030, 8, 10, 1031: return [name, int32Text(argument)]
        default: return [name, hex(argument)]
        }
    }
}

/// The C library's message for an errno value, as strace prints it.
public func errnoMessage(_ errno: Int32) -> String {
    Errno(rawValue: errno).description
}
