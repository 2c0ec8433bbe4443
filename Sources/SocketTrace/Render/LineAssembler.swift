/// Builds output lines the way strace does when several tracees interleave:
/// a syscall's line opens at entry; if another tracee prints first, the open
/// line ends with ` <unfinished ...>` and the call later continues on a line
/// of its own, `<... accept resumed>…`.
final class LineAssembler {
    let output: TraceOutput
    /// The tid whose line is open (written up to its entry text), if any.
    private(set) var openTid: Int32?
    private var column = 0

    init(output: TraceOutput) { self.output = output }

    /// Starts a new line for `tid`, closing another tracee's open line first.
    func begin(_ tid: Int32, leader: String) {
        closeOpenLine()
        write(leader)
    }

    func write(_ text: String) {
        output.write(text)
        column += text.count
    }

    /// Pads to strace's result column (40) before `= …`.
    func padToResultColumn() {
        write(column < 40 ? String(repeating: " ", count: 40 - column) : " ")
    }

    func end() {
        output.write("\n")
        column = 0
        openTid = nil
    }

    /// Leaves the current line open for `tid`'s syscall exit.
    func keepOpen(for tid: Int32) { openTid = tid }

    func closeOpenLine(marker: String = " <unfinished ...>") {
        guard openTid != nil else { return }
        output.write(marker + "\n")
        column = 0
        openTid = nil
    }
}
