import Foundation
import Glibc
import Testing

/// Tests run in parallel in one process: a child spawned for one test must
/// not inherit what another test holds open at that moment (a port probe's
/// bound socket kept a port taken for a later test; leaked descriptors moved
/// the numbers a traced program was given, so its strace lines differed).
struct ChildProcessTests {
    @Test("a spawned child has its standard streams and nothing the test process opened without close-on-exec")
    func inheritsOnlyStandardStreams() throws {
        let leaky = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(leaky >= 0)
        defer { close(leaky) }
        #expect(fcntl(leaky, F_GETFD) & FD_CLOEXEC == 0)
        let result = try TestSupport.run("/bin/sh", ["-c", "exec ls /proc/self/fd"])
        #expect(result.status == 0)
        // ls's own descriptor for the directory it lists is the only other one.
        let descriptors = result.stdout.split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(descriptors == [0, 1, 2, 3], "\(descriptors); the test's socket was \(leaky)")
    }
}
