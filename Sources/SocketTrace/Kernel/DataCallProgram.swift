import CLibbpf
import Glibc

/// The two BPF programs with which the kernel records a traced program's
/// reads and writes on sockets, so that they run without a ptrace stop.
///
/// On the raw tracepoint `sys_enter` (every syscall of the machine): a
/// thread of a traced process (`tgids`) entering read or write on a socket
/// leaves its entry time and call number in `inflight`, keyed by thread.
///
/// On `sys_exit`: a thread with an entry there, still in read or write,
/// whose descriptor is a socket (`task->files->fdt->fd[fd]->f_inode`'s
/// mode), gets a record in the ring: its ids, call, arguments (from the
/// saved registers, which the call leaves as they were), entry and exit
/// times (CLOCK_MONOTONIC, the clock of the perf samples), result, socket
/// inode and family, and the bytes written or read: up to `bytesCaptured`
/// for an IPv4, IPv6 or UNIX socket (what `-s` shows), up to
/// `maximumCapture` for the others (netlink messages are decoded whole).
/// A record the ring has no room for is counted in `lost`.
///
/// Every other call of a traced thread that sockettrace knows (`timed`,
/// by number; an i386 call by its number plus `i386Base`) leaves its kernel entry time in `entered` at `sys_enter`
/// (a close of a socket the address of its file too: the file's release
/// frees it, `KernelCallTimes.closedFile`),
/// and its exit time beside it at `sys_exit`: the tracer reads both at
/// the call's exit stop (`KernelCallTimes`). `sys_enter` runs when the
/// thread does, after its entry stop; the time the tracer let it go can
/// be tens of milliseconds earlier on a busy machine (audit 54 F1).
struct DataCallProgram {
    struct Maps {
        let tgids: Int32
        let inflight: Int32
        /// tid → {entry time, call number, exit time or 0, a close's socket
        /// file or 0} of its last timed call.
        let entered: Int32
        /// Call number → 1 for the calls timed in `entered`.
        let timed: Int32
        let scratch: Int32
        let ring: Int32
        let lost: Int32
    }

    // The record (`DataCallRecord` reads it): little-endian 64-bit words, then the bytes.
    static let pidTgid: Int16 = 0, number: Int16 = 8, descriptor: Int16 = 16, buffer: Int16 = 24, count: Int16 = 32
    static let entryTime: Int16 = 40, exitTime: Int16 = 48, result: Int16 = 56, inode: Int16 = 64, family: Int16 = 72
    static let captured: Int16 = 80, header: Int16 = 96
    /// The most bytes a record carries.
    static let maximumCapture: Int32 = 4096
    static var recordSize: Int { Int(header) + Int(maximumCapture) }

    /// The x86-64 calls recorded: read (0) and write (1).
    static let read: Int32 = 0, write: Int32 = 1
    /// close (3): timed, with its socket's file.
    static let close: Int32 = 3
    /// An i386 call (a 32-bit program's: its saved code segment is the
    /// 32-bit user one) is timed under its i386 number plus this; none is
    /// recorded (its reads and writes stop).
    static let i386Base: UInt32 = 512
    static let userCode32: Int32 = 0x23
    /// An i386 close (6): timed, with its socket's file, its descriptor in bx.
    static var i386Close: Int32 { Int32(i386Base) + 6 }
    /// One more than the highest key `timed` holds.
    static let timedNumbers: UInt32 = 2 * i386Base

    /// `sys_enter(regs, id)`.
    /// `recordsData`: false when reads and writes must stop (`--functions`,
    /// `-k`, …): then they are timed as every other call, and nothing is
    /// recorded (the ring stays empty).
    static func enter(_ maps: Maps, offsets o: KernelStructOffsets, recordsData: Bool = true) -> [UInt64] {
        var a = BPFAssembler()
        a.mov(.r6, .r1)
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.mov(.r7, .r0)
        a.shiftRight(.r0, 32)
        a.store(.r0, .word, to: .r10, -8)                        // key = tgid
        a.lookup(maps.tgids, key: -8)
        a.jump(if: .r0, .equal, 0, to: "out")                    // not traced
        // An i386 call: its number moved past the x86-64 ones.
        a.load(.r8, .double, from: .r6, 0)                       // regs
        a.readKernel(into: .r10, at: -56, size: 8, from: .r8, plus: 136)   // cs
        a.jump(if: .r0, .notEqual, 0, to: "out")
        a.load(.r2, .double, from: .r10, -56)
        a.load(.r1, .double, from: .r6, 8)                       // id
        a.jump(if: .r2, .notEqual, userCode32, to: "x86-64")
        a.jump(if: .r1, .greaterOrEqual, Int32(i386Base), to: "out")
        a.add(.r1, Int32(i386Base))
        a.jump(to: "number")
        a.label("x86-64")
        if recordsData {
            a.jump(if: .r1, .equal, read, to: "recorded")
            a.jump(if: .r1, .equal, write, to: "recorded")
        }
        a.label("number")
        // Another call: timed when it is one the tracer stops at.
        a.jump(if: .r1, .greaterOrEqual, Int32(timedNumbers), to: "out")
        // entered = {time -40, number -32, exit -24, a close's file -16}
        a.store(.r1, .double, to: .r10, -32)
        a.store(.r1, .word, to: .r10, -44)
        a.lookup(maps.timed, key: -44)
        a.jump(if: .r0, .equal, 0, to: "out")
        a.load(.r1, .word, from: .r0, 0)
        a.jump(if: .r1, .equal, 0, to: "out")
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r10, -40)
        a.store(0, .double, to: .r10, -24)
        a.store(0, .double, to: .r10, -16)
        // A close of a socket: the file its descriptor held, whose free is
        // the file's release (`closedFile`).
        a.load(.r1, .double, from: .r10, -32)                    // (r8: regs, loaded above)
        a.jump(if: .r1, .equal, close, to: "close")
        a.jump(if: .r1, .notEqual, i386Close, to: "timed")
        a.readKernel(into: .r10, at: -56, size: 8, from: .r8, plus: 40)    // bx: fd
        a.jump(if: .r0, .notEqual, 0, to: "timed")
        a.load(.r1, .double, from: .r10, -56)
        a.mov32(.r1, .r1)                                        // (its upper half is not the program's)
        a.store(.r1, .double, to: .r10, -56)
        a.jump(to: "descriptor")
        a.label("close")
        a.readKernel(into: .r10, at: -56, size: 8, from: .r8, plus: 112)   // di: fd
        a.jump(if: .r0, .notEqual, 0, to: "timed")
        a.label("descriptor")
        socketFile(&a, offsets: o, descriptor: -56, pointer: -64, field: -72, inode: -80, otherwise: "timed")
        a.store(.r8, .double, to: .r10, -16)
        a.label("timed")
        a.mov32(.r7, .r7)
        a.store(.r7, .word, to: .r10, -8)                        // key = tid
        a.update(maps.entered, key: -8, value: -40)
        if recordsData { recordEntry(&a, maps, offsets: o) }
        a.label("out")
        a.mov(.r0, 0)
        a.exit()
        return a.assembled()
    }

    /// A read or write entered on a socket: in flight (`inflight`), for its
    /// record at `sys_exit`.
    static func recordEntry(_ a: inout BPFAssembler, _ maps: Maps, offsets o: KernelStructOffsets) {
        a.jump(to: "out")
        a.label("recorded")
        a.store(.r1, .double, to: .r10, -16)                     // entry = {time, number}
        // Only a call on a socket is in flight: another (a child's blocked
        // read of a pipe) would hold back the records of the calls that
        // began after it (audit 45 F1).
        a.load(.r8, .double, from: .r6, 0)                       // regs
        a.readKernel(into: .r10, at: -40, size: 8, from: .r8, plus: 112)   // di: fd
        a.jump(if: .r0, .notEqual, 0, to: "out")
        socketFile(&a, offsets: o, descriptor: -40, pointer: -32, field: -48, inode: -56, otherwise: "out")
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r10, -24)
        a.mov32(.r7, .r7)
        a.store(.r7, .word, to: .r10, -8)                        // key = tid
        a.update(maps.inflight, key: -8, value: -24)
    }

    /// The current task's file at the descriptor in stack slot `descriptor`
    /// (`task->files->fdt->fd[n]`), left in r8 with its inode's address in
    /// slot `inode`, when that inode is a socket's (S_IFSOCK); otherwise a
    /// jump to `otherwise`. Slots `pointer` and `field` are scratch.
    static func socketFile(_ a: inout BPFAssembler, offsets o: KernelStructOffsets, descriptor: Int16,
                           pointer: Int16, field: Int16, inode: Int16, otherwise: String) {
        func readKernel(into offset: Int16, _ size: Int32, from base: BPFAssembler.Register, plus member: Int32) {
            a.readKernel(into: .r10, at: offset, size: size, from: base, plus: member)
            a.jump(if: .r0, .notEqual, 0, to: otherwise)
        }
        a.call(BPF_FUNC_get_current_task)
        readKernel(into: pointer, 8, from: .r0, plus: o.taskFiles)
        a.load(.r1, .double, from: .r10, pointer)
        a.jump(if: .r1, .equal, 0, to: otherwise)
        readKernel(into: pointer, 8, from: .r1, plus: o.filesTable)
        a.load(.r8, .double, from: .r10, pointer)
        a.jump(if: .r8, .equal, 0, to: otherwise)
        a.store(0, .double, to: .r10, field)
        readKernel(into: field, 4, from: .r8, plus: o.tableMaxDescriptors)
        a.load(.r1, .double, from: .r10, field)
        a.load(.r2, .double, from: .r10, descriptor)
        a.jump(if: .r2, .greaterOrEqual, .r1, to: otherwise)
        readKernel(into: pointer, 8, from: .r8, plus: o.tableDescriptors)
        a.load(.r1, .double, from: .r10, pointer)
        a.load(.r2, .double, from: .r10, descriptor)
        a.shiftLeft(.r2, 3)
        a.add(.r1, .r2)
        readKernel(into: pointer, 8, from: .r1, plus: 0)         // fd[n]: the file
        a.load(.r8, .double, from: .r10, pointer)
        a.jump(if: .r8, .equal, 0, to: otherwise)
        readKernel(into: pointer, 8, from: .r8, plus: o.fileInode)
        a.load(.r1, .double, from: .r10, pointer)
        a.store(.r1, .double, to: .r10, inode)
        a.store(0, .double, to: .r10, field)
        readKernel(into: field, 2, from: .r1, plus: o.inodeMode)
        a.load(.r1, .double, from: .r10, field)
        a.and(.r1, 0o170000)
        a.jump(if: .r1, .notEqual, 0o140000, to: otherwise)      // not S_IFSOCK
    }

    /// `sys_exit(regs, ret)`.
    static func exit(_ maps: Maps, offsets o: KernelStructOffsets, bytesCaptured: Int32) -> [UInt64] {
        var a = BPFAssembler()
        // Stack: -8 tid key, -16 pid_tgid, -24 a pointer read, -32 a small
        // field read, -56…-40 the saved dx, si, di (count, buffer, fd), -64
        // key 0, -72 the file's inode.
        func readKernel(into offset: Int16, _ size: Int32, from base: BPFAssembler.Register, plus field: Int32) {
            a.readKernel(into: .r10, at: offset, size: size, from: base, plus: field)
            a.jump(if: .r0, .notEqual, 0, to: "drop")
        }
        /// record[recordField] = the `size` bytes at `offset` into the
        /// structure whose address is at stack `slot` (zeros if unreadable).
        func readIntoRecord(_ recordField: Int16, _ size: Int32, pointerAt slot: Int16, plus offset: Int32) {
            a.load(.r3, .double, from: .r10, slot)
            a.readKernel(into: .r9, at: recordField, size: size, from: .r3, plus: offset)
        }
        a.mov(.r6, .r1)
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.store(.r0, .double, to: .r10, -16)
        a.mov32(.r0, .r0)
        a.store(.r0, .word, to: .r10, -8)
        // A timed call returning: its exit time beside its entry's (a
        // thread is in one call at a time, so an entry without an exit
        // time is this call's).
        a.lookup(maps.entered, key: -8)
        a.jump(if: .r0, .equal, 0, to: "data")
        a.load(.r1, .double, from: .r0, 16)
        a.jump(if: .r1, .notEqual, 0, to: "data")
        a.mov(.r7, .r0)
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r7, 16)
        a.jump(to: "out")                                        // never a read or write
        a.label("data")
        a.lookup(maps.inflight, key: -8)
        a.jump(if: .r0, .equal, 0, to: "out")                    // no read or write entered
        a.mov(.r7, .r0)
        a.load(.r8, .double, from: .r6, 0)                       // regs
        // The call still running must be the one entered (a thread killed
        // inside a call leaves its entry behind).
        a.mov(.r3, .r8)
        a.add(.r3, 120)                                          // regs->orig_ax
        a.mov(.r1, .r10)
        a.add(.r1, -24)
        a.mov(.r2, 8)
        a.call(BPF_FUNC_probe_read_kernel)
        a.jump(if: .r0, .notEqual, 0, to: "drop")
        a.load(.r1, .double, from: .r10, -24)
        a.load(.r2, .double, from: .r7, 8)
        a.jump(if: .r1, .notEqual, .r2, to: "drop")
        readKernel(into: -56, 24, from: .r8, plus: 96)           // dx, si, di
        socketFile(&a, offsets: o, descriptor: -40, pointer: -24, field: -32, inode: -72, otherwise: "drop")
        // The record, built in this CPU's scratch value.
        a.store(0, .word, to: .r10, -64)
        a.lookup(maps.scratch, key: -64)
        a.jump(if: .r0, .equal, 0, to: "drop")
        a.mov(.r9, .r0)
        readIntoRecord(inode, 8, pointerAt: -72, plus: o.inodeNumber)
        a.store(0, .double, to: .r9, family)
        readKernel(into: -24, 8, from: .r8, plus: o.filePrivateData)
        a.load(.r1, .double, from: .r10, -24)
        readKernel(into: -24, 8, from: .r1, plus: o.socketSock)
        readIntoRecord(family, 2, pointerAt: -24, plus: o.sockFamily)
        a.load(.r1, .double, from: .r10, -16)
        a.store(.r1, .double, to: .r9, pidTgid)
        a.load(.r1, .double, from: .r7, 8)
        a.store(.r1, .double, to: .r9, number)
        a.load(.r1, .double, from: .r10, -40)
        a.store(.r1, .double, to: .r9, descriptor)
        a.load(.r1, .double, from: .r10, -48)
        a.store(.r1, .double, to: .r9, buffer)
        a.load(.r1, .double, from: .r10, -56)
        a.store(.r1, .double, to: .r9, count)
        a.load(.r1, .double, from: .r7, 0)
        a.store(.r1, .double, to: .r9, entryTime)
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r9, exitTime)
        a.load(.r1, .double, from: .r6, 8)
        a.store(.r1, .double, to: .r9, result)
        // What to copy: a write's whole argument, a read's result; then the limit.
        a.load(.r2, .double, from: .r9, count)
        a.load(.r1, .double, from: .r9, number)
        a.jump(if: .r1, .equal, write, to: "limit")
        a.load(.r2, .double, from: .r9, result)
        a.jump(if: .r2, .signedGreater, 0, to: "limit")
        a.mov(.r2, 0)
        a.label("limit")
        a.load(.r1, .double, from: .r9, family)
        a.mov(.r3, maximumCapture)
        a.jump(if: .r1, .equal, Int32(AF_INET), to: "inet")
        a.jump(if: .r1, .equal, Int32(AF_INET6), to: "inet")
        a.jump(if: .r1, .equal, Int32(AF_UNIX), to: "inet")
        a.jump(to: "limited")
        a.label("inet")
        a.mov(.r3, bytesCaptured)
        a.label("limited")
        a.jump(if: .r2, .greater, .r3, to: "cut")
        a.jump(to: "copy")
        a.label("cut")
        a.mov(.r2, .r3)
        a.label("copy")
        a.jump(if: .r2, .greater, maximumCapture, to: "drop")    // for the verifier: never
        a.store(.r2, .double, to: .r9, captured)
        a.jump(if: .r2, .equal, 0, to: "send")
        a.load(.r3, .double, from: .r9, buffer)
        a.mov(.r1, .r9)
        a.add(.r1, Int32(header))
        a.call(BPF_FUNC_probe_read_user)
        a.jump(if: .r0, .equal, 0, to: "send")
        a.store(0, .double, to: .r9, captured)                  // unreadable: the address alone
        a.label("send")
        a.load(.r3, .double, from: .r9, captured)
        a.jump(if: .r3, .greater, maximumCapture, to: "drop")
        a.add(.r3, Int32(header))
        a.loadMap(.r1, maps.ring)
        a.mov(.r2, .r9)
        a.mov(.r4, 0)
        a.call(BPF_FUNC_ringbuf_output)
        a.jump(if: .r0, .equal, 0, to: "drop")
        a.store(0, .word, to: .r10, -64)                         // no room: counted
        a.lookup(maps.lost, key: -64)
        a.jump(if: .r0, .equal, 0, to: "drop")
        a.mov(.r1, 1)
        a.atomicAdd(.r1, to: .r0, 0)
        a.label("drop")
        a.delete(maps.inflight, key: -8)
        a.label("out")
        a.mov(.r0, 0)
        a.exit()
        return a.assembled()
    }
}
