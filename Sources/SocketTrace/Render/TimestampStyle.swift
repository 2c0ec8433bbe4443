import Glibc

/// strace's `-t`, `-tt`, `-ttt` and `-r` prefixes.
public enum TimestampStyle: Sendable {
    case none
    case seconds            // -t  17:00:01
    case microseconds       // -tt 17:00:01.123456
    case epochMicroseconds  // -ttt 1763744401.123456
    case relative           // -r  seconds since the previous line

    func text(wall: WallClock, monotonic: MonotonicTime, previous: inout MonotonicTime?) -> String {
        switch self {
        case .none:
            return ""
        case .seconds, .microseconds:
            var seconds = time_t(wall.seconds)
            var parts = tm()
            localtime_r(&seconds, &parts)
            var text = pad2(parts.tm_hour) + ":" + pad2(parts.tm_min) + ":" + pad2(parts.tm_sec)
            if self == .microseconds { text += "." + pad6(wall.microseconds) }
            return text + " "
        case .epochMicroseconds:
            return "\(wall.seconds)." + pad6(wall.microseconds) + " "
        case .relative:
            let delta = previous.map { monotonic.nanoseconds &- $0.nanoseconds } ?? 0
            previous = monotonic
            let whole = String(delta / 1_000_000_000)
            return String(repeating: " ", count: max(0, 6 - whole.count)) + whole + "." + pad6(Int((delta % 1_000_000_000) / 1000)) + " "
        }
    }
}

func pad2(_ value: Int32) -> String { value < 10 ? "0\(value)" : String(value) }
func pad6(_ value: Int) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, 6 - text.count)) + text
}
