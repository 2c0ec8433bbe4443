import Glibc
import Testing
@testable import SocketTrace

/// The tracer's loop on scripted stops, without ptrace: a backend replays
/// wait statuses with the syscall infos, event messages and siginfos the
/// kernel would give at each, and records how the tracer resumed, listened
/// and detached. Task ids are above the kernel's pid limit, so /proc and
/// memory reads of them find nothing.
@Suite struct TracerLoopTests {
    // MARK: the scripted backend

    /// One stop as wait reports it, with what the tracer may ask about it.
    struct ScriptedStop {
        var tid: Int32
        var status: Int32
        var syscall: SyscallStopInfo?
        var message: UInt64?
        var signalInfo: SignalInfo?
    }

    enum Action: Equatable {
        case resume(Int32, Resumption, signal: Int32)
        case listen(Int32)
        case detach(Int32, signal: Int32)
        case interrupt(Int32)
    }

    final class ScriptedPtrace: PtraceBackend {
        var script: [ScriptedStop]
        /// Thread group and parent of each task, as /proc/TID/status gives them.
        var ids: [Int32: (tgid: Int32, parent: Int32?)] = [:]
        var actions: [Action] = []
        /// Whether the loop waited after the script's last stop.
        var ranDry = false
        /// SIGINT reaches the tracer when this many stops are left.
        var interruptWhenLeft: Int?
        var threads: [Int32: [Int32]] = [:]
        /// Each process's memory: what its calls' arguments point at.
        var memories: [Int32: MemoryImage] = [:]
        private var current: [Int32: ScriptedStop] = [:]

        init(_ script: [ScriptedStop]) { self.script = script }

        func waitAny(_ mode: WaitMode) -> WaitResult {
            guard !script.isEmpty else {
                ranDry = true
                return .failed(errno: ECHILD)
            }
            let stop = script.removeFirst()
            current[stop.tid] = stop
            return .stop(tid: stop.tid, status: stop.status)
        }

        func waitStatus(of tid: Int32, allThreads: Bool) -> Int32? { nil }
        func optionFlags(followForks: Bool, seccomp: Bool, exitKill: Bool, traceExit: Bool) -> UInt64 { 0 }
        func seize(_ tid: Int32, options: UInt64) -> Int32 { 0 }
        func interrupt(_ tid: Int32) -> Int32 {
            actions.append(.interrupt(tid))
            return 0
        }
        func detach(_ tid: Int32, signal: Int32) -> Int32 {
            actions.append(.detach(tid, signal: signal))
            return 0
        }
        func resume(_ tid: Int32, _ mode: Resumption, signal: Int32) -> Int32 {
            actions.append(.resume(tid, mode, signal: signal))
            return 0
        }
        func listen(_ tid: Int32) -> Int32 {
            actions.append(.listen(tid))
            return 0
        }
        func eventMessage(_ tid: Int32) -> UInt64? { current[tid]?.message }
        func syscallInfo(_ tid: Int32) -> SyscallStopInfo? { current[tid]?.syscall }
        func signalInfo(_ tid: Int32) -> SignalInfo? { current[tid]?.signalInfo }
        func registers(_ tid: Int32) -> Registers? { nil }
        func setInstructionPointer(_ tid: Int32, to address: UInt64) -> Int32 { ESRCH }
        func peekWord(_ tid: Int32, at address: UInt64) -> UInt64? { nil }
        func pokeWord(_ tid: Int32, at address: UInt64, _ word: UInt64) -> Int32 { ESRCH }
        func installInterruptHandlers() {}
        func takeInterruptSignal() -> Int32 {
            guard script.count == interruptWhenLeft else { return 0 }
            interruptWhenLeft = nil
            return SIGINT
        }
        func ids(of tid: Int32) -> (tgid: Int32, parent: Int32?) { ids[tid] ?? (tid, nil) }
        func name(of tid: Int32) -> String { "task\(tid)" }
        func commandLine(of pid: Int32) -> [String] { ["/bin/program\(pid)"] }
        func threadIDs(of pid: Int32) -> [Int32] { threads[pid] ?? [pid] }
        func exists(_ pid: Int32) -> Bool { true }
        func memory(of pid: Int32) -> any TraceeMemory { memories[pid] ?? MemoryImage() }

        /// How each task was resumed, in order.
        func resumptions(of tid: Int32) -> [Action] {
            actions.filter { if case let .resume(resumed, _, _) = $0 { resumed == tid } else { false } }
        }
    }

    final class Events: TraceSink {
        var events: [TraceEvent] = []
        var finished = false
        func handle(_ event: TraceEvent) { events.append(event) }
        func flush() {}
        func finish() { finished = true }

        func process(_ kind: ProcessEvent.Kind, tid: Int32? = nil) -> [ProcessEvent] {
            events.compactMap { event in
                guard case let .process(process) = event, process.kind == kind, tid.map({ $0 == process.tid }) ?? true else { return nil }
                return process
            }
        }

        var entered: [SyscallInvocation] { events.compactMap { if case let .syscallEntered(call) = $0 { call } else { nil } } }
        var exited: [SyscallInvocation] { events.compactMap { if case let .syscallExited(call) = $0 { call } else { nil } } }
        var abandoned: [SyscallInvocation] { events.compactMap { if case let .syscallAbandoned(call) = $0 { call } else { nil } } }
    }

    final class Records: ExitRecordSource {
        var exitSyscalls: Set<Syscall> = [.write]
        var asked: [Int32] = []
        func exitRecordsAtRisk() -> Bool { false }
        func sampleExits(of tid: Int32) -> Bool {
            asked.append(tid)
            return true
        }
    }

    // MARK: stops, as the kernel encodes them

    /// Above PID_MAX_LIMIT: no task of the machine has these ids.
    static let parent: Int32 = 5_000_001, child: Int32 = 5_000_002, thread: Int32 = 5_000_003

    static func stopped(_ signal: Int32, event: Int32 = 0) -> Int32 { 0x7f | (signal << 8) | (event << 16) }

    static func entry(_ tid: Int32, _ syscall: Syscall, _ arguments: [UInt64], seccomp: Bool = false) -> ScriptedStop {
        let number = UInt64(syscall.number(on: .x86_64)!)
        let padded = arguments + Array(repeating: 0, count: 6 - arguments.count)
        return ScriptedStop(tid: tid, status: seccomp ? stopped(SIGTRAP, event: 7) : stopped(SIGTRAP | 0x80),
                            syscall: .entry(auditArch: auditArchX86_64, number: number, arguments: padded))
    }

    /// AUDIT_ARCH_X86_64, as PTRACE_GET_SYSCALL_INFO reports it.
    static let auditArchX86_64: UInt32 = 0xc000_003e

    static func exit(_ tid: Int32, _ rval: Int64) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(SIGTRAP | 0x80), syscall: .exit(rval: rval, isError: rval < 0))
    }

    static func fork(_ tid: Int32, child: Int32) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(SIGTRAP, event: 1), message: UInt64(child))
    }

    static func clone(_ tid: Int32, thread: Int32) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(SIGTRAP, event: 3), message: UInt64(thread))
    }

    /// An execve that succeeded: reported under the leader's id, the
    /// execing thread's former id in the event message.
    static func exec(_ tid: Int32, former: Int32) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(SIGTRAP, event: 4), message: UInt64(former))
    }

    /// PTRACE_EVENT_STOP: a new task's first stop (SIGSTOP), or a group-stop.
    static func eventStop(_ tid: Int32, _ signal: Int32 = SIGSTOP) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(signal, event: 128))
    }

    static func signal(_ tid: Int32, _ signal: Int32, sender: Int32 = 1) -> ScriptedStop {
        ScriptedStop(tid: tid, status: stopped(signal), signalInfo: SignalInfo(
            signal: signal, code: 0, errno: 0, senderPid: sender, senderUid: 0, status: 0, userTime: 0, systemTime: 0, address: 0))
    }

    static func exited(_ tid: Int32, _ code: Int32) -> ScriptedStop { ScriptedStop(tid: tid, status: code << 8) }
    static func killed(_ tid: Int32, _ signal: Int32) -> ScriptedStop { ScriptedStop(tid: tid, status: signal) }

    /// socket(AF_INET, SOCK_STREAM, 0) = 3, by `tid`.
    static func tcpSocket(_ tid: Int32, seccomp: Bool = false) -> [ScriptedStop] {
        [entry(tid, .socket, [2, 1, 0], seccomp: seccomp), exit(tid, 3)]
    }

    /// Runs the launched `parent` through `script`, returning its exit status.
    static func run(_ script: [ScriptedStop], ids: [Int32: (tgid: Int32, parent: Int32?)] = [:], memories: [Int32: MemoryImage] = [:],
                    prepare: (Tracer) -> Void = { _ in }) throws -> (Tracer.ExitStatus?, ScriptedPtrace, Events) {
        let backend = ScriptedPtrace(script)
        backend.ids = ids
        backend.memories = memories
        let sink = Events()
        var configuration = TracerConfiguration()
        configuration.resolveAddresses = false
        let tracer = Tracer(configuration: configuration, sink: sink, ptrace: backend)
        tracer.traceLaunched(parent)
        prepare(tracer)
        let status = try tracer.run()
        #expect(sink.finished)
        return (status, backend, sink)
    }

    /// The launched program's first stop: the SIGCONT that let it exec, the tracer's own.
    static let start = [signal(parent, SIGCONT)]

    // MARK: the scenarios

    @Test("the launched program's SIGCONT is hidden, a signal of its own is shown and passed on")
    func signals() throws {
        let (status, backend, sink) = try Self.run(Self.start + [Self.signal(Self.parent, SIGUSR1, sender: 77), Self.exited(Self.parent, 0)])
        #expect(status == .exited(0))
        let signals = sink.process(.signal)
        #expect(signals.map(\.signal) == [SIGUSR1], "SIGCONT is the tracer's")
        #expect(signals.first?.signalInfo?.senderPid == 77)
        #expect(backend.resumptions(of: Self.parent) == [
            .resume(Self.parent, .toSyscall, signal: SIGCONT), .resume(Self.parent, .toSyscall, signal: SIGUSR1),
        ])
        #expect(!backend.ranDry, "the loop ends when the last task is gone")
    }

    @Test("the launched program's exit code, or its killing signal, is the tracer's; a child's is not",
          arguments: [(Int32(3 << 8), Tracer.ExitStatus.exited(3)), (SIGKILL, .killed(signal: SIGKILL, coreDumped: false))])
    func exitStatus(_ endStatus: Int32, _ expected: Tracer.ExitStatus) throws {
        let end = ScriptedStop(tid: Self.parent, status: endStatus)
        let script = Self.start + [Self.fork(Self.parent, child: Self.child), Self.eventStop(Self.child),
                                   Self.exited(Self.child, 9), end]
        let (status, _, sink) = try Self.run(script, ids: [Self.child: (Self.child, Self.parent)])
        #expect(status == expected)
        #expect(sink.process(.exited, tid: Self.child).first?.status == 9)
    }

    @Test("a call in flight when its thread is killed is abandoned")
    func killedInsideCall() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [Self.entry(Self.parent, .accept, [3, 0, 0]), Self.killed(Self.parent, SIGTERM)]
        let (status, _, sink) = try Self.run(script)
        #expect(status == .killed(signal: SIGTERM, coreDumped: false))
        #expect(sink.abandoned.map(\.syscall) == [.accept])
        #expect(sink.process(.killed).first?.name == "task\(Self.parent)")
    }

    @Test("fork, the child's first stop after the fork event: one start, the parent's sockets inherited")
    func forkThenFirstStop() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.fork(Self.parent, child: Self.child),
            Self.eventStop(Self.child),
            Self.entry(Self.child, .close, [3]), Self.exit(Self.child, 0),
            Self.exited(Self.child, 0), Self.exited(Self.parent, 0),
        ]
        let (_, backend, sink) = try Self.run(script, ids: [Self.child: (Self.child, Self.parent)])
        let started = sink.process(.started, tid: Self.child)
        #expect(started.count == 1)
        #expect(started.first?.pid == Self.child && started.first?.parent == Self.parent)
        #expect(sink.process(.stopped).isEmpty, "a new task's first stop is not a group-stop to show")
        #expect(sink.exited.map(\.syscall) == [.socket, .close], "fd 3 is a socket in the child's copy of the table")
        #expect(sink.exited.last?.pid == Self.child)
        #expect(backend.resumptions(of: Self.child).count == 3)
    }

    @Test("fork, the child's first stop before the fork event: started once, from /proc's parent")
    func firstStopThenFork() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.eventStop(Self.child),
            Self.fork(Self.parent, child: Self.child),
            Self.entry(Self.child, .close, [3]), Self.exit(Self.child, 0),
            Self.exited(Self.child, 0), Self.exited(Self.parent, 0),
        ]
        let (status, _, sink) = try Self.run(script, ids: [Self.child: (Self.child, Self.parent)])
        #expect(status == .exited(0))
        let started = sink.process(.started, tid: Self.child)
        #expect(started.count == 1, "the fork event finds the child known")
        #expect(started.first?.parent == Self.parent)
        #expect(sink.exited.map(\.syscall) == [.socket, .close], "the child copied the parent's table at its first stop")
    }

    @Test("a child that ends before its parent's fork event comes (its exit stop and status first) is not made anew by that event")
    func childEndedBeforeForkEvent() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.eventStop(Self.child),
            Self.exiting(Self.child), Self.exited(Self.child, 0),
            Self.fork(Self.parent, child: Self.child),
            Self.exiting(Self.parent), Self.exited(Self.parent, 0),
        ]
        var tracer: Tracer?
        let (_, backend, sink, captures) = try Self.runCapturing(script, ids: [Self.child: (Self.child, Self.parent)]) { tracer = $0 }
        #expect(sink.process(.started, tid: Self.child).count == 1)
        #expect(tracer?.tasks.isEmpty == true, "no task left for the dead child")
        #expect(!backend.ranDry, "the loop ends with the last task")
        // The child held the parent's socket (its copy of the table), the parent still did: the parent's exit releases it.
        #expect(sink.process(.exited, tid: Self.parent).first?.releasedSockets?.map(\.fd) == [3])
        #expect(captures.requests.last == .end(pid: Self.parent))
    }

    @Test("exec by a non-leader thread: it takes the leader's id, the former id is gone, close-on-exec sockets too")
    func execByNonLeader() throws {
        let script = Self.start + [
            // socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3
            Self.entry(Self.parent, .socket, [2, 0x80001, 0]), Self.exit(Self.parent, 3),
            Self.clone(Self.parent, thread: Self.thread),
            Self.eventStop(Self.thread),
            Self.exec(Self.parent, former: Self.thread),
            Self.entry(Self.parent, .close, [3]),
            Self.exited(Self.parent, 0),
        ]
        var tracer: Tracer?
        let (status, backend, sink) = try Self.run(script, ids: [Self.thread: (Self.parent, 1)]) { tracer = $0 }
        #expect(status == .exited(0))
        #expect(!backend.ranDry, "the former thread's id left the table with the exec")
        #expect(sink.process(.started, tid: Self.thread).first?.pid == Self.parent, "a thread of the launched process")
        let exec = try #require(sink.process(.exec).first)
        #expect(exec.tid == Self.parent && exec.pid == Self.parent && exec.formerTid == Self.thread)
        #expect(exec.command == ["/bin/program\(Self.parent)"])
        #expect(sink.process(.exited, tid: Self.thread).isEmpty)
        #expect(sink.entered.map(\.syscall) == [.socket], "fd 3 was closed by the exec")
        #expect(tracer?.tasks.isEmpty == true)
    }

    @Test("arguments are read from the stopped process's memory through the backend: connect's address, the socket's peer")
    func memoryThroughBackend() throws {
        var memory = MemoryImage()
        // struct sockaddr_in { AF_INET, htons(8080), 127.0.0.1 } at 0x1000.
        memory.place([2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], at: 0x1000)
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.entry(Self.parent, .connect, [3, 0x1000, 16]), Self.exit(Self.parent, 0),
            Self.exited(Self.parent, 0),
        ]
        let (_, _, sink) = try Self.run(script, memories: [Self.parent: memory])
        let connect = try #require(sink.exited.first { $0.syscall == .connect })
        #expect(connect.entryText.contains("sin_port=htons(8080)") && connect.entryText.contains("127.0.0.1"), "\(connect.entryText)")
        #expect(connect.socket?.peer?.description == "127.0.0.1:8080", "\(String(describing: connect.socket?.peer))")
        // Nothing placed: the same call shows the pointer, as strace does for an unreadable address.
        let (_, _, blind) = try Self.run(script)
        let unread = try #require(blind.exited.first { $0.syscall == .connect })
        #expect(unread.entryText.contains("0x1000") && !unread.entryText.contains("8080"), "\(unread.entryText)")
    }

    @Test("a group-stop is shown and held with PTRACE_LISTEN; SIGCONT then is the program's")
    func groupStop() throws {
        let script = Self.start + [
            Self.eventStop(Self.parent, SIGTSTP),
            Self.signal(Self.parent, SIGCONT),
            Self.exited(Self.parent, 0),
        ]
        let (_, backend, sink) = try Self.run(script)
        #expect(sink.process(.stopped).map(\.signal) == [SIGTSTP])
        #expect(sink.process(.signal).map(\.signal) == [SIGCONT])
        #expect(backend.actions == [
            .resume(Self.parent, .toSyscall, signal: SIGCONT),
            .listen(Self.parent),
            .resume(Self.parent, .toSyscall, signal: SIGCONT),
        ])
    }

    @Test("with seccomp and exit records, a lone thread's write runs to its exit: no exit stop asked")
    func exitStopSkipped() throws {
        let records = Records()
        let script = [Self.signal(Self.parent, SIGCONT)] + Self.tcpSocket(Self.parent, seccomp: true) + [
            Self.entry(Self.parent, .write, [3, 0x1000, 5], seccomp: true),
            Self.exited(Self.parent, 0),
        ]
        let (_, backend, sink) = try Self.run(script) { tracer in
            tracer.seccompActive = true
            tracer.exitRecords = records
        }
        #expect(records.asked == [Self.parent])
        #expect(backend.resumptions(of: Self.parent) == [
            .resume(Self.parent, .toSeccompStop, signal: SIGCONT),
            .resume(Self.parent, .toSyscall, signal: 0), // socket: its exit is needed
            .resume(Self.parent, .toSeccompStop, signal: 0), // socket's exit
            .resume(Self.parent, .toSeccompStop, signal: 0), // write: run through its exit
        ])
        #expect(sink.entered.map(\.syscall) == [.socket, .write])
        #expect(sink.exited.map(\.syscall) == [.socket])
        #expect(sink.abandoned.map(\.syscall) == [.write], "no kernel record came for its result")
    }

    @Test("with two threads traced, the same write stops at its exit")
    func exitStopKeptWithTwoThreads() throws {
        let records = Records()
        let script = [Self.signal(Self.parent, SIGCONT)] + Self.tcpSocket(Self.parent, seccomp: true) + [
            Self.clone(Self.parent, thread: Self.thread),
            Self.entry(Self.parent, .write, [3, 0x1000, 5], seccomp: true), Self.exit(Self.parent, 5),
            Self.exited(Self.thread, 0), Self.exited(Self.parent, 0),
        ]
        let (_, backend, sink) = try Self.run(script, ids: [Self.thread: (Self.parent, 1)]) { tracer in
            tracer.seccompActive = true
            tracer.exitRecords = records
        }
        #expect(records.asked.isEmpty)
        #expect(backend.resumptions(of: Self.parent).suffix(2) == [
            .resume(Self.parent, .toSyscall, signal: 0), .resume(Self.parent, .toSeccompStop, signal: 0),
        ])
        #expect(sink.exited.map(\.syscall) == [.socket, .write])
        #expect(sink.exited.last?.result?.value == 5)
    }

    @Test("attach seizes and interrupts every thread; SIGINT then detaches each, a pending signal delivered")
    func attachThenDetach() throws {
        let backend = ScriptedPtrace([
            Self.eventStop(Self.parent, SIGTRAP), // the interrupt that followed the seize
            Self.signal(Self.thread, SIGUSR1),
            // After SIGINT: the detach's interrupts.
            Self.eventStop(Self.parent, SIGTRAP),
            Self.signal(Self.thread, SIGUSR2),
        ])
        backend.threads = [Self.parent: [Self.parent, Self.thread]]
        backend.interruptWhenLeft = 2
        let sink = Events()
        let tracer = Tracer(configuration: TracerConfiguration(), sink: sink, ptrace: backend)
        try tracer.attach([Self.parent])
        #expect(try tracer.run() == nil, "no launched program")
        #expect(sink.process(.attached).map(\.tid) == [Self.parent, Self.thread])
        #expect(sink.process(.attached).allSatisfy { $0.pid == Self.parent })
        #expect(sink.process(.signal).map(\.signal) == [SIGUSR1])
        #expect(Set(sink.process(.detached).map(\.tid)) == [Self.parent, Self.thread])
        #expect(backend.actions.prefix(2) == [.interrupt(Self.parent), .interrupt(Self.thread)])
        #expect(backend.actions.contains(.detach(Self.parent, signal: 0)))
        #expect(backend.actions.contains(.detach(Self.thread, signal: SIGUSR2)), "the signal about to be delivered goes with the detach")
        #expect(!backend.ranDry)
    }

    // MARK: exits that release sockets

    /// An exit capture that records what the tracer asked of it, and how
    /// many backend actions had happened then (to tell before a resume from after).
    final class Captures: ExitCaptureSource {
        enum Request: Equatable {
            case capture(pid: Int32, threads: [Int32], actionsBefore: Int)
            case end(pid: Int32)
        }
        var requests: [Request] = []
        var open: Set<Int32> = []
        weak var backend: ScriptedPtrace?
        func captureExit(of pid: Int32, threads: [Int32]) -> Bool {
            requests.append(.capture(pid: pid, threads: threads, actionsBefore: backend?.actions.count ?? -1))
            open.insert(pid)
            return true
        }
        func endExitCapture(of pid: Int32) -> [KernelSample] {
            requests.append(.end(pid: pid))
            open.remove(pid)
            return []
        }
        var capturedExits: [Int32] { Array(open) }
    }

    /// PTRACE_EVENT_EXIT: SIGTRAP with event 6.
    static func exiting(_ tid: Int32) -> ScriptedStop { ScriptedStop(tid: tid, status: stopped(SIGTRAP, event: 6)) }

    static func runCapturing(_ script: [ScriptedStop], ids: [Int32: (tgid: Int32, parent: Int32?)] = [:],
                             prepare: (Tracer) -> Void = { _ in }) throws -> (Tracer.ExitStatus?, ScriptedPtrace, Events, Captures) {
        let captures = Captures()
        let (status, backend, sink) = try run(script, ids: ids) { tracer in
            captures.backend = tracer.ptrace as? ScriptedPtrace
            tracer.exitCaptures = captures
            prepare(tracer)
        }
        return (status, backend, sink, captures)
    }

    @Test("an exit stop of a process holding a socket opens the capture before the thread is resumed; its end closes it")
    func exitStopCapturesRelease() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [Self.exiting(Self.parent), Self.exited(Self.parent, 0)]
        let (status, backend, sink, captures) = try Self.runCapturing(script)
        #expect(status == .exited(0))
        guard case let .capture(pid, threads, actionsBefore)? = captures.requests.first else {
            Issue.record("no capture: \(captures.requests)")
            return
        }
        #expect(pid == Self.parent && threads == [Self.parent])
        // The resumes so far: the SIGCONT's, the socket call's entry and exit; the exit stop's comes after the capture.
        #expect(backend.actions[actionsBefore...].first == .resume(Self.parent, .toSyscall, signal: 0), "\(backend.actions)")
        #expect(captures.requests.last == .end(pid: Self.parent))
        #expect(captures.open.isEmpty)
        let exited = try #require(sink.process(.exited).first)
        #expect(exited.releasedSockets?.map(\.fd) == [3])
        #expect(exited.exitKernel == nil, "no kernel observer: nothing attributed")
        #expect(Stop(waitStatus: Self.stopped(SIGTRAP, event: 6)) == .exiting)
    }

    @Test("a socket another live process holds: the first exit releases nothing and captures nothing; the last holder's does")
    func sharedSocketNotCaptured() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.fork(Self.parent, child: Self.child), Self.eventStop(Self.child),
            Self.exiting(Self.child), Self.exited(Self.child, 0),
            Self.exiting(Self.parent), Self.exited(Self.parent, 0),
        ]
        let (_, _, sink, captures) = try Self.runCapturing(script, ids: [Self.child: (Self.child, Self.parent)])
        #expect(sink.process(.exited, tid: Self.child).first?.releasedSockets == nil)
        #expect(captures.requests.map { if case let .capture(pid, _, _) = $0 { pid } else { -1 } }.filter { $0 == Self.child }.isEmpty,
                "\(captures.requests)")
        #expect(captures.requests.count == 2 && captures.requests.last == .end(pid: Self.parent), "\(captures.requests)")
    }

    @Test("SIGKILL: the killed process's threads stop at their exit too; every exiting thread is in the filter; the capture ends")
    func killedProcessCaptured() throws {
        let script = Self.start + Self.tcpSocket(Self.parent) + [
            Self.clone(Self.parent, thread: Self.thread), Self.eventStop(Self.thread),
            Self.exiting(Self.thread), Self.exiting(Self.parent),
            Self.killed(Self.thread, SIGKILL), Self.killed(Self.parent, SIGKILL),
        ]
        let (status, _, sink, captures) = try Self.runCapturing(script, ids: [Self.thread: (Self.parent, 1)])
        #expect(status == .killed(signal: SIGKILL, coreDumped: false))
        let threadSets = captures.requests.compactMap { if case let .capture(_, threads, _) = $0 { threads } else { nil } }
        #expect(threadSets == [[Self.thread], [Self.parent, Self.thread].sorted()])
        #expect(captures.requests.last == .end(pid: Self.parent) && captures.open.isEmpty)
        let killed = sink.process(.killed)
        #expect(killed.last?.tid == Self.parent && killed.last?.releasedSockets?.map(\.fd) == [3])
    }

    @Test("no capture source (kernel observation off): threads do not stop at their exit, the exit event says nothing of the kernel")
    func noExitStopsWithoutCapture() throws {
        let backend = ScriptedPtrace([])
        let tracer = Tracer(configuration: TracerConfiguration(), sink: Events(), ptrace: backend)
        #expect(!tracer.stopsAtExits)
        #expect(LinuxPtrace().optionFlags(followForks: true, seccomp: true, exitKill: true, traceExit: false) & LinuxPtrace.traceExitOption == 0)
        #expect(LinuxPtrace().optionFlags(followForks: true, seccomp: true, exitKill: true, traceExit: true) & LinuxPtrace.traceExitOption != 0)
    }
}
