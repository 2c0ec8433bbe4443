import Foundation

/// Reads and writes on sockets that ran without a stop: the kernel
/// recorded them (`DataCallCapture`), and each record goes through the
/// phases of a stop, decoded from the bytes it carries instead of the
/// thread's memory. Records are taken before every stop is handled and
/// before samples are judged to belong to no call, so a thread's calls
/// stay in order with the ones that stop, and its samples with its calls.
extension Tracer {
    /// Loads the kernel's recorder when the configuration and the kernel
    /// allow it (`TracerConfiguration.dataCallsMustStop`); the calls it
    /// records are left out of the seccomp filter.
    func startDataCallCapture() {
        guard dataCalls == nil, seccompActive, let kernel, kernel.sampler != nil, kernel.functionGraph == nil,
              configuration.dataCallsMustStop == nil else { return }
        do {
            dataCalls = try DataCallCapture(bytesCaptured: configuration.decodeOptions.stringLimit)
        } catch {
            diagnostic?("reads and writes stop the program: the kernel cannot record them (\(error))")
        }
    }

    /// Handles the records the ring holds: each is decoded at once (the
    /// socket table must be as the call found it), and written once no
    /// traced thread is inside a read or write it entered earlier, so that
    /// the timeline learns of calls in the order they began (the ring has
    /// them in the order they returned).
    func takeRecordedCalls() {
        guard let dataCalls else { return }
        // Looked at before the ring is read: a call that returns after the
        // look has its record in a later drain.
        let running = dataCalls.inFlight().filter { tasks[$0.key] != nil }.values.min()
        for (index, record) in dataCalls.drain().enumerated() {
            if index % 64 == 63 { drainKernelSamplesIfStale() }
            if let call = recordedCall(record) { heldCalls.append(call) }
        }
        releaseHeldCalls(before: running)
    }

    /// Writes the decoded calls that began before `time` (all without it):
    /// their entries and ends in time order, as stops would have seen them.
    func releaseHeldCalls(before time: MonotonicTime?) {
        guard !heldCalls.isEmpty else { return }
        let (ready, waiting) = heldCalls.partitioned { call in time.map { call.entryTime < $0 } ?? true }
        heldCalls = waiting
        let moments = ready.flatMap { call in [(call.entryTime, false, call), (call.exitTime ?? call.entryTime, true, call)] }
        for (_, isExit, call) in moments.sorted(by: { $0.0 < $1.0 || ($0.0 == $1.0 && !$0.1 && $1.1) }) {
            if isExit { submit(.finishedCall(call)) } else { emit(.syscallEntered(call)) }
        }
    }

    /// The earliest entry of `tid`'s calls recorded but not yet written:
    /// its samples from then on may be theirs.
    func earliestHeldCall(of tid: Int32) -> MonotonicTime? {
        heldCalls.lazy.filter { $0.tid == tid }.map(\.entryTime).min()
    }

    /// Starts or stops recording a process's calls as it starts, execs or ends:
    /// an i386 program's reads and writes stop as before (its filter stops them).
    func recordDataCalls(of process: TracedProcess, running: Bool) {
        guard let dataCalls else { return }
        if running && !ExecutableClass.is32Bit(pid: process.pid) {
            dataCalls.follow(process.pid)
        } else {
            dataCalls.forget(process.pid)
        }
    }

    /// A record as a finished call, decoded as its stops would have;
    /// nil for a call not shown.
    func recordedCall(_ record: DataCallRecord) -> SyscallInvocation? {
        guard let process = tasks[record.tid]?.process ?? tasks.processes[record.pid],
              let syscall = Syscall(number: UInt64(record.number), architecture: .x86_64) else { return nil }
        var call = SyscallInvocation(pid: process.pid, tid: record.tid, architecture: .x86_64, syscall: syscall,
                                     arguments: [record.descriptor, record.buffer, record.count, 0, 0, 0],
                                     viaSocketcall: false, entryTime: record.entryTime)
        let memory = RecordedMemory(address: record.buffer, bytes: record.bytes)
        let (context, tracker) = self.context(for: process, architecture: .x86_64, memory: memory, marking: needsPlainText)
        guard configuration.selection.contains(syscall), involvesSocket(call, tracker: tracker) else { return nil }
        call.wallClock = WallClock.at(record.entryTime)
        call.recordedBy = "kernel"
        decodeShownEntry(&call, context)
        call.exitTime = record.exitTime
        call.result = SyscallResult(rval: record.result, isError: (-4095 ... -1).contains(record.result))
        tracker.apply(call, received: receivedInFlight)
        decodeShownExit(&call, context, tracker: tracker, memory: memory)
        return call
    }

    /// Says how many records the ring had no room for, and unloads the recorder.
    func endDataCallCapture() {
        guard let dataCalls else { return }
        let lost = dataCalls.lost
        if lost > 0 { diagnostic?("\(lost) reads and writes on sockets were lost: the kernel's ring of them was full") }
        dataCalls.close()
    }
}

/// Whether a process runs a 32-bit program: its executable's ELF class.
enum ExecutableClass {
    static func is32Bit(pid: Int32) -> Bool {
        guard let file = fopen("/proc/\(pid)/exe", "rb") else { return false }
        defer { fclose(file) }
        var identification = [UInt8](repeating: 0, count: 5)
        guard fread(&identification, 1, 5, file) == 5, identification[0...3] == [0x7f, 0x45, 0x4c, 0x46] else { return false }
        return identification[4] == 1
    }
}
