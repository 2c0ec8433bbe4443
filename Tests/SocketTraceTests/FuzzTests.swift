import Foundation
import Testing

/// A short run of the fuzzer (benchmarks/fuzz.sh runs it for minutes):
/// random memory images and arguments for every decoder on both
/// architectures, random and mutated trace files for the reader.
struct FuzzTests {
    @Test("decoders and the trace reader survive random input", arguments: [1, 2])
    func fuzz(_ seed: Int) throws {
        let fuzzer = URL(fileURLWithPath: TestSupport.sockettrace).deletingLastPathComponent().appendingPathComponent("sockettrace-fuzz").path
        let result = try TestSupport.run(fuzzer, ["4", String(seed * 7919)], timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("no crash"))
    }
}
