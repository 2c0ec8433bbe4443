import Foundation
@testable import SocketTrace

/// One sample as `perf script -g` prints it: a block of lines, blank-line
/// separated from the next, its first line the sample's fields (when `-F`
/// asks for any beside the frames), then one line per kernel frame,
/// innermost first: `ADDRESS symbol+0xoffset`.
struct PerfScriptSample {
    /// The sample's own line (`time:`, the tracepoint's fields), empty when
    /// `-F` asked for frames only.
    let head: Substring
    /// The kernel frames, innermost first, as `symbol+0xoffset`: what one
    /// checks against the kernel's code and compares with `KernelFrame.location`.
    let frames: [String]

    /// Every sample in `perf script`'s output, its kernel frames only:
    /// those before the first address below the kernel's half.
    static func parse(_ output: String) -> [PerfScriptSample] {
        output.components(separatedBy: "\n\n").compactMap { block in
            var head: Substring = ""
            var frames: [String] = []
            var inKernel = true
            for (index, line) in block.split(separator: "\n").enumerated() {
                let fields = line.split(whereSeparator: \.isWhitespace)
                if fields.count >= 2, let address = UInt64(fields[0], radix: 16) {
                    // The kernel's part of the chain comes first; the user's
                    // after it can hold any value a frame pointer walk read
                    // (perf printed `ff41799c831c6000 [unknown]` after a
                    // JIT's frame in qemu).
                    inKernel = inKernel && address >= 0xffff_8000_0000_0000
                    if inKernel { frames.append(String(fields[1])) }
                } else if index == 0 {
                    head = line
                }
            }
            return head.isEmpty && frames.isEmpty ? nil : PerfScriptSample(head: head, frames: frames)
        }
    }

    /// The value of the head's `NAME=` field (`skbaddr=0x…`).
    func field(_ name: String) -> Substring? {
        head.split(separator: " ").first { $0.hasPrefix("\(name)=") }?.dropFirst(name.count + 1)
    }

    /// The sample's time in nanoseconds (`--ns`: `SECONDS.NANOSECONDS:`).
    var nanoseconds: UInt64? {
        guard let stamp = head.split(separator: " ").first(where: { $0.hasSuffix(":") && $0.contains(".") }) else { return nil }
        let parts = stamp.dropLast().split(separator: ".")
        guard parts.count == 2, let seconds = UInt64(parts[0]), let fraction = UInt64(parts[1]), parts[1].count == 9 else { return nil }
        return seconds * 1_000_000_000 + fraction
    }

    /// The frames as sockettrace's: the function's name without a
    /// compiler copy's suffix, the copy's symbol, the offset.
    var kernelFrames: [KernelFrame] {
        frames.map { located in
            let parts = located.split(separator: "+")
            let symbol = String(parts[0])
            var frame = KernelFrame(KernelSymbols.baseName(symbol), 0)
            if symbol != frame.function { frame.symbol = symbol }
            frame.offset = parts.count == 2 ? UInt64(parts[1].dropFirst(2), radix: 16) : nil
            return frame
        }
    }
}
