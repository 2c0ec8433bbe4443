import Foundation
import Testing

/// The lab: Debian's 6.1 kernel booted under QEMU (scripts/lab.sh), where
/// the model is checked on a second kernel. The first run downloads the
/// kernel package, QEMU and virtme-ng (~150 MB), so it runs under CI (these
/// machines have the cache) or when SOCKETTRACE_LAB=1 asks for it.
@Suite(.serialized, .enabled(if: TestSupport.underCI || ProcessInfo.processInfo.environment["SOCKETTRACE_LAB"] == "1",
                             "boots a VM and downloads a kernel: CI=true or SOCKETTRACE_LAB=1"))
struct LabTests {
    @Test("on Debian's 6.1 kernel: model check passes, and the seeds' example has observed chains whose TCP send matches the model")
    func debianKernel() throws {
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let probes = TestSupport.packageRoot.appendingPathComponent("Probes").path
        let trace = TestSupport.temporaryFile("lab-trace") + ".txt"
        let script = """
        uname -r
        \(TestSupport.sockettrace) model check --probes \(probes) >/dev/null; echo "model check: $?"
        \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set minimal -o \(trace) -- \
            /bin/sh -c '\(try TestSupport.serverAndClientScript(port: 12345))'; echo "trace: $?"
        """
        let result = try TestSupport.run(lab, ["--", "/bin/sh", "-c", script], timeout: 900)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("6.1.") == true, "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("model check: 0"), "\(result.stdout)")
        #expect(lines.contains("trace: 0"), "\(result.stdout)\n\(result.stderr)")
        let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        #expect(text.contains("syscall tcp_send: matches"), "\(text.prefix(3000))")
        #expect(result.stderr.contains("lab: booted 6.1."), "\(result.stderr)")
    }
}
