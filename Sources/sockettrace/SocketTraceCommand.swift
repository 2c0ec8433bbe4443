import ArgumentParser
import SocketTrace

@main
struct SocketTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sockettrace",
        abstract: "Trace the socket system calls of a program, strace-grade.",
        discussion: """
            sockettrace ./server 127.0.0.1 12345      trace a program and its children
            sockettrace -p 4242 -p 4243               attach to running processes
            sockettrace --format strace -e trace=%net -o out.txt -- ./prog args
            """,
        version: "sockettrace \(SocketTraceVersion.current) (trace format \(TraceHeader.currentVersion))",
        subcommands: [Run.self, Report.self, Compare.self, Model.self],
        defaultSubcommand: Run.self
    )
}
