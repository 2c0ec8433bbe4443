import Glibc

/// A kernel release as `major.minor[.patch]`, compared numerically.
public struct KernelVersion: Comparable, Sendable, CustomStringConvertible, Codable {
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Parses `6.18.0-1-amd64`, `5.2`, `4.15.9`.
    public init?(_ text: some StringProtocol) {
        let numbers = text.prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        self.init(numbers[0], numbers[1], numbers.count > 2 ? numbers[2] : 0)
    }

    /// The running kernel's release (uname -r).
    public static var running: KernelVersion? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return KernelVersion(release)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { patch == 0 ? "\(major).\(minor)" : "\(major).\(minor).\(patch)" }
}

/// The kernels a model function exists in: `4.17-` (from 4.17 on), `-4.16`
/// (up to and including every 4.16.x), `5.0-5.2`, or any kernel.
public struct KernelRange: Sendable, Equatable, CustomStringConvertible, Codable {
    public let from: KernelVersion?
    public let through: KernelVersion?

    public static let any = KernelRange(from: nil, through: nil)

    public init(from: KernelVersion?, through: KernelVersion?) {
        self.from = from
        self.through = through
    }

    /// Parses the range syntax; nil when it is not one.
    public init?(parsing text: String) {
        guard text.contains("-") else { return nil }
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let lower = parts[0].isEmpty ? nil : KernelVersion(parts[0])
        let upper = parts[1].isEmpty ? nil : KernelVersion(parts[1])
        if !parts[0].isEmpty && lower == nil { return nil }
        if !parts[1].isEmpty && upper == nil { return nil }
        if lower == nil && upper == nil { return nil }
        self.init(from: lower, through: upper)
    }

    public func contains(_ version: KernelVersion) -> Bool {
        if let from, version < from { return false }
        // `-4.16` covers 4.16.x: compare major.minor only for the upper bound.
        if let through, (version.major, version.minor) > (through.major, through.minor) { return false }
        return true
    }

    public var description: String {
        if from == nil && through == nil { return "any" }
        return (from?.description ?? "") + "-" + (through?.description ?? "")
    }
}
