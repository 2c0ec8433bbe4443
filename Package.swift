// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "sockettrace",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sockettrace", targets: ["sockettrace"]),
        .library(name: "SocketTrace", targets: ["SocketTrace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The C layer: only what Swift cannot call or must not run (each
        // header says why); everything else is Swift.
        .target(name: "CPtrace"),
        .target(name: "CSpawn"),
        .target(name: "CPerf"),
        .target(name: "CSyscall"),
        .target(name: "CUnwind", dependencies: ["CPtrace", "CElfUtils"]),
        .systemLibrary(
            name: "CElfUtils",
            pkgConfig: "libdw",
            providers: [.apt(["libelf-dev", "libdw-dev"])]
        ),
        .systemLibrary(
            name: "CLibbpf",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        .systemLibrary(
            name: "CCapstone",
            pkgConfig: "capstone",
            providers: [.apt(["libcapstone-dev"])]
        ),
        .target(
            name: "SocketTrace",
            dependencies: ["CPtrace", "CSpawn", "CPerf", "CSyscall", "CUnwind", "CElfUtils", "CLibbpf", "CCapstone"]
        ),
        .executableTarget(
            name: "sockettrace",
            dependencies: [
                "SocketTrace",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sockettrace-fuzz",
            dependencies: ["SocketTrace"]
        ),
        .testTarget(
            name: "SocketTraceTests",
            dependencies: ["SocketTrace", "CPerf", "CSpawn", "sockettrace", "sockettrace-fuzz"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
