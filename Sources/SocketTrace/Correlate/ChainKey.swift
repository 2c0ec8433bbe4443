/// A call chain as a dictionary key that hashes cheaply: by its length and
/// its outermost and innermost frames, not every frame's name. Equality still
/// compares every frame (at once when both share storage, as chains from
/// the sampler's cache do). A busy trace looks chains up several times per
/// sample; hashing forty names each time was most of that cost.
struct ChainKey: Hashable {
    let frames: [String]

    init(_ frames: [String]) { self.frames = frames }

    static let endsHashed = 3

    func hash(into hasher: inout Hasher) {
        hasher.combine(frames.count)
        for frame in frames.prefix(Self.endsHashed) { hasher.combine(frame) }
        for frame in frames.suffix(Self.endsHashed) { hasher.combine(frame) }
    }

    static func == (a: ChainKey, b: ChainKey) -> Bool { a.frames == b.frames }
}
