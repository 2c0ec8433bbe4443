import ArgumentParser
import SocketTrace

/// Where the reference model is and which probe set to sample.
struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("probes"), help: ArgumentHelp("The model directory (default: Probes/ of this checkout, or $SOCKETTRACE_PROBES).", valueName: "dir"))
    var directory: String?

    @Option(name: .customLong("probe-set"), help: "The set of tracepoints to sample, from probes.conf: default, minimal, full, functions (a kprobe on every model function; kernels with kprobes), or auto (functions where the kernel has kprobes, else default).")
    var probeSet: String = "default"

    /// The model, or nil when none is found and none is required.
    func load(required: Bool) throws -> StackModel? {
        guard let path = ModelParser.locate(explicit: directory) else {
            if required { throw ModelError(file: "Probes", line: 0, message: "no model directory found; use --probes DIR") }
            return nil
        }
        return try ModelParser.load(directory: path)
    }
}
