/// A message's data as a receive on a UNIX datagram socket can tell it
/// from another: its length and its first bytes. Such a receive takes the
/// oldest message waiting, whole, so one whose data is not that of an
/// SCM_RIGHTS message took another message (a data-only one ahead of it),
/// not that one (audit 77 M2: a recv of a data-only message sent before
/// the rights message cast doubt on it, and an exit said it perhaps
/// released a socket that message still held).
public struct MessageData: Equatable, Sendable {
    /// The message's length in bytes.
    public var length: Int64
    /// Its first bytes (at most `kept`).
    public var prefix: [UInt8]

    /// The most bytes kept of a message.
    static let kept = 64

    /// Whether a receive with room for `room` bytes that returned
    /// `returned` bytes, of which `received` are the first, can have taken
    /// this message (MSG_TRUNC: the receive returns the whole length).
    public func couldBe(returned: Int64, room: Int64, wholeLength: Bool, received: [UInt8]) -> Bool {
        guard returned == (wholeLength ? length : min(length, room)) else { return false }
        let compared = min(prefix.count, received.count)
        return prefix.prefix(compared) == received.prefix(compared)
    }
}
