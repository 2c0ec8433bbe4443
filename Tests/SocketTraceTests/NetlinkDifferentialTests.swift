import Foundation
import Testing

/// Real netlink peers (ip, ss, the C library's getaddrinfo) traced by strace
/// 6.1 and by `sockettrace --format strace`: the decoded netlink messages of
/// every sendto, sendmsg and recvmsg must read the same, after masking what
/// differs between two runs of the same program (`NetlinkComparison.mask`).
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.hasStrace && TestSupport.hasNetlinkTools,
                             "needs ptrace, strace, ip and ss"))
struct NetlinkDifferentialTests {
    /// How many lines were compared and how many of them differ.
    struct Figures: CustomStringConvertible {
        let name: String
        let compared: Int
        let differing: Int
        var description: String { "\(name): \(compared) lines compared, \(differing) differ" }
    }

    /// Runs `command` under both tracers (in a network namespace of their
    /// own when `unshared`), masks and compares the lines.
    func compare(_ name: String, _ command: [String], options: [String] = [], unshared: Bool = false,
                 status: Int32 = 0) throws -> (strace: [String], ours: [String], figures: Figures) {
        let straceFile = TestSupport.temporaryFile("netlink-strace")
        let oursFile = TestSupport.temporaryFile("netlink-ours")
        let selection = ["-f", "-e", "trace=%net"] + options
        let s = try trace("/usr/bin/strace", selection + ["-o", straceFile] + command, unshared: unshared)
        #expect(s.status == status, "strace \(name): \(s.stderr)")
        let o = try trace(TestSupport.sockettrace, ["--format", "strace"] + selection + ["-o", oursFile] + command, unshared: unshared)
        #expect(o.status == status, "sockettrace \(name): \(o.stderr)")
        let strace = NetlinkComparison.mask(StraceComparison.normalize(try String(contentsOfFile: straceFile, encoding: .utf8), port: 0))
        let ours = NetlinkComparison.mask(StraceComparison.normalize(try String(contentsOfFile: oursFile, encoding: .utf8), port: 0))
        var unmatched = ours
        var differing = 0
        for line in strace {
            if let index = unmatched.firstIndex(of: line) { unmatched.remove(at: index) } else { differing += 1 }
        }
        let figures = Figures(name: name, compared: strace.count, differing: max(differing, unmatched.count))
        print("netlink differential: \(figures)")
        return (strace, ours, figures)
    }

    func trace(_ tracer: String, _ arguments: [String], unshared: Bool) throws -> TestSupport.Output {
        if unshared { return try TestSupport.run("/usr/bin/env", ["unshare", "-n", tracer] + arguments) }
        return try TestSupport.run(tracer, arguments)
    }

    @Test("ip addr show lo: RTM_GETLINK and RTM_GETADDR requests, ifinfomsg and ifaddrmsg replies with their attributes")
    func ipAddress() throws {
        let (strace, ours, figures) = try compare("ip addr show lo", ["ip", "addr", "show", "lo"])
        #expect(ours.contains { $0.contains("nla_type=IFA_ADDRESS}, inet_addr(\"127.0.0.1\")") })
        #expect(ours.contains { $0.contains("nlmsg_type=NLMSG_DONE") && $0.contains("}, 0]") })
        #expect(figures.compared > 15 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("ip -4 route show: RTM_GETROUTE dump, rtmsg replies with tables, gateways and output interfaces")
    func ipRoute() throws {
        let (strace, ours, figures) = try compare("ip -4 route show", ["ip", "-4", "route", "show"])
        #expect(ours.contains { $0.contains("nlmsg_type=RTM_GETROUTE, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP") })
        #expect(figures.compared > 15 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("ip rule show and ip -6 rule show: RTM_GETRULE, fib_rule_hdr replies with FRA_ attributes", arguments: [["ip", "rule", "show"], ["ip", "-6", "rule", "show"]])
    func ipRule(_ command: [String]) throws {
        let (strace, ours, figures) = try compare(command.joined(separator: " "), command)
        #expect(ours.contains { $0.contains("RTM_NEWRULE") && $0.contains("FRA_TABLE") })
        #expect(figures.compared > 5 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("ip link show lo: IFLA_ attributes, link statistics, the list cut after -s of them")
    func ipLink() throws {
        let (strace, ours, figures) = try compare("ip link show lo", ["ip", "link", "show", "lo"])
        #expect(ours.contains { $0.contains("nla_type=IFLA_STATS64}, {STATISTICS}") && $0.contains("], ...]") })
        #expect(figures.compared > 15 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("ip link show of a missing device: NLMSG_ERROR with -ENODEV and the request it answers")
    func ipLinkMissing() throws {
        let (strace, ours, figures) = try compare("ip link show nosuch0", ["ip", "link", "show", "nosuch0"], status: 1)
        #expect(ours.contains { $0.contains("{error=-ENODEV, msg=") })
        #expect(figures.compared > 10 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("getaddrinfo with AI_ADDRCONFIG: the C library's RTM_GETADDR dump by sendto and recvmsg")
    func getaddrinfo() throws {
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let script = "import socket; socket.getaddrinfo('localhost', 80, flags=socket.AI_ADDRCONFIG)"
        let (strace, ours, figures) = try compare("getaddrinfo AI_ADDRCONFIG", [python, "-c", script])
        // A bare struct rtgenmsg: shorter than an ifaddrmsg.
        #expect(ours.contains { $0.contains("{ifa_family=AF_UNSPEC, ...}") })
        #expect(figures.compared > 3 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("payload options on ip addr show lo: -v, -s 4, -s 0, -x, -xx", arguments: [["-v"], ["-s", "4"], ["-s", "0"], ["-x"], ["-xx"]])
    func options(_ options: [String]) throws {
        let (strace, ours, figures) = try compare("ip addr show lo " + options.joined(separator: " "), ["ip", "addr", "show", "lo"],
                                                  options: options)
        #expect(figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }

    @Test("ss -tan and ss -xa in a namespace of their own: inet_diag and unix_diag requests and replies, an acknowledged RTM_NEWLINK",
          .enabled(if: TestSupport.canUnshareNetwork, "needs a network namespace (root)"))
    func socketDiagnostics() throws {
        // Both tracers run in the namespace: strace asks its own namespace's
        // kernel which protocol a netlink socket has, and decodes messages
        // in hex when it cannot find the socket there.
        let peers = try TestSupport.build("diag_peers.c")
        // Within -s 32 bytes: the name is shown whole.
        let path = "/tmp/sockettrace-diag-\(getpid()).sock"
        let script = "ip link set lo up && \(peers) 23456 \(path) ss -tan -- ss -xa >/dev/null"
        let (strace, ours, figures) = try compare("ss -tan, ss -xa", ["/bin/sh", "-c", script], unshared: true)
        #expect(ours.contains { $0.contains("{error=0, msg={nlmsg_len=32, nlmsg_type=RTM_NEWLINK") })
        #expect(ours.contains { $0.contains("{sdiag_family=AF_INET, sdiag_protocol=IPPROTO_TCP") })
        #expect(ours.contains { $0.contains("idiag_state=TCP_LISTEN") && $0.contains("idiag_sport=htons(23456)") })
        #expect(ours.contains { $0.contains("{udiag_family=AF_UNIX, udiag_type=SOCK_STREAM, udiag_state=TCP_LISTEN") })
        #expect(ours.contains { $0.contains("nla_type=UNIX_DIAG_NAME}, \"\(path)\"") })
        #expect(figures.compared > 40 && figures.differing == 0, "\(StraceComparison.difference(strace, ours) ?? "")")
    }
}

extension TestSupport {
    /// iproute2's ip and ss, the netlink peers traced.
    static let hasNetlinkTools = underCI || (commandExists("ip") && commandExists("ss"))

    /// A network namespace of its own (root, unshare), where the sockets
    /// `ss` lists are only the test's.
    static let canUnshareNetwork: Bool = underCI
        || ((try? run("/usr/bin/env", ["unshare", "-n", "true"], timeout: 20))?.status == 0)
}

/// What differs between two runs of a netlink peer, masked so the lines
/// compare: request sequence numbers (ip takes the time), port ids (the
/// process's pid or a number the kernel picks), interface counters (they
/// move with traffic; an interface's promiscuity counts the packet
/// captures open on it, which other programs come and go with), address
/// lifetimes (they count down), socket inodes
/// and cookies (new sockets each run); and the order of the messages of a
/// dump, which follows the kernel's hash tables, so the messages of each
/// received buffer are sorted. A child's SIGCHLD is left out: its CPU
/// times, and strace's comment on them, depend on timing.
enum NetlinkComparison {
    static func mask(_ lines: [String]) -> [String] {
        lines.filter { !$0.hasPrefix("--- SIGCHLD") }.map { line in
            var text = line
            text.replace(/nlmsg_seq=\d+/, with: "nlmsg_seq=SEQ")
            text.replace(/(nlmsg_pid|nl_pid)=(-?\d+|PID)/) { "\($0.output.1)=PORTID" }
            text.replace(/\{rx_packets=[^}]*\}/, with: "{STATISTICS}")
            text.replace(/nla_type=IFLA_PROMISCUITY\}, \d+/, with: "nla_type=IFLA_PROMISCUITY}, COUNT")
            text.replace(/ifa_prefered=\d+, ifa_valid=\d+/, with: "ifa_prefered=T, ifa_valid=T")
            text.replace(/(idiag_inode|udiag_ino)=\d+/) { "\($0.output.1)=INODE" }
            text.replace(/(idiag_cookie|udiag_cookie)=\[\d+, \d+\]/) { "\($0.output.1)=COOKIE" }
            text.replace(/nla_type=UNIX_DIAG_PEER\}, \d+/, with: "nla_type=UNIX_DIAG_PEER}, INODE")
            return sortingDumps(text)
        }.sorted()
    }

    /// The line with the messages of each `iov_base=[[{nlmsg_len=…}…], …]` in sorted order.
    static func sortingDumps(_ line: String) -> String {
        var characters = Array(line)
        var searchFrom = 0
        let marker = Array("iov_base=[")
        while let start = find(marker, in: characters, from: searchFrom) {
            let open = start + marker.count - 1
            guard let (close, elements) = topLevelElements(characters, open: open) else { break }
            let texts = elements.map { String(characters[$0]) }
            // Several messages, not one message's header and payload.
            guard texts.count > 1, texts.allSatisfy({ $0.hasPrefix("[{nlmsg_len=") || $0.hasPrefix("{nlmsg_len=") }) else {
                searchFrom = close
                continue
            }
            let sorted = texts.sorted()
            let replacement = Array("[" + sorted.joined(separator: ", ") + "]")
            characters.replaceSubrange(open...close, with: replacement)
            searchFrom = open + replacement.count
        }
        return String(characters)
    }

    static func find(_ needle: [Character], in haystack: [Character], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for index in from...(haystack.count - needle.count) where Array(haystack[index..<index + needle.count]) == needle {
            return index
        }
        return nil
    }

    /// The index of the `]` closing the bracket at `open`, and the ranges
    /// of the elements at its top level (brackets in strings do not count).
    static func topLevelElements(_ text: [Character], open: Int) -> (Int, [Range<Int>])? {
        var depth = 0
        var inString = false
        var elementStart = open + 1
        var elements: [Range<Int>] = []
        var index = open
        while index < text.count {
            let character = text[index]
            if inString {
                if character == "\\" { index += 1 } else if character == "\"" { inString = false }
            } else {
                switch character {
                case "\"": inString = true
                case "[", "{": depth += 1
                case "]", "}":
                    depth -= 1
                    if depth == 0 {
                        elements.append(elementStart..<index)
                        return (index, elements)
                    }
                case "," where depth == 1:
                    elements.append(elementStart..<index)
                    elementStart = index + 2
                default: break
                }
            }
            index += 1
        }
        return nil
    }
}
