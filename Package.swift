// swift-tools-version: 6.1
// clowdr: run a command-line pipeline over many subjects, keep a complete record of every execution.
import PackageDescription

/// Every target is built in Swift 6 mode with the same strictness.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// `make`'s release builds (bench, dist) link Swift's runtime into the binary and set CLOWDR_STATIC=1: `clowdr` is then
/// linked as a position-dependent executable. As a PIE it carries 80,000 relative relocations that the loader applies
/// at every start (every command, every worker on a node); without them a start is 0.7-1 ms shorter (docs/running.md).
/// Not with Swift's shared runtime (a debug build, a plain `swift build -c release`): the loader would warn about
/// direct references to the runtime's functions.
let positionDependent: [LinkerSetting] = Context.environment["CLOWDR_STATIC"] == "1" ? [.unsafeFlags(["-Xclang-linker", "-no-pie"])] : []

let package = Package(
    name: "clowdr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "clowdr", targets: ["clowdr"]),
        .executable(name: "clowdr-shim", targets: ["clowdr-shim"]),
        .executable(name: "clowdr-share", targets: ["clowdr-share"]),
        // The libraries a Swift program uses to plan, run, follow and query experiments (docs/library.md, `make docs`).
        .library(name: "EventLog", targets: ["EventLog"]),
        .library(name: "Runner", targets: ["Runner"]),
        .library(name: "Backends", targets: ["Backends"]),
        .library(name: "Query", targets: ["Query"]),
        .library(name: "Export", targets: ["Export"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // clowdr-share's HTTP/1.1 server only (its own executable: clowdr itself, the worker on every node, links none of it).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // What every error of clowdr's libraries has: a stable code, and whether it is a usage error.
        .target(name: "ClowdrErrors", swiftSettings: strict),
        // A command run to its end with its output: Slurm's commands, container engines, credential helpers.
        .target(name: "Subprocess", swiftSettings: strict),
        // The system's libsqlite3, seen from Swift.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // A thin, typed wrapper over the SQLite C API: connections, statements, errors.
        .target(name: "SQLite", dependencies: ["CSQLite", "ClowdrErrors"], swiftSettings: strict),
        // JSON values that keep number literals as written, a strict parser with limits, a compact writer.
        .target(name: "JSON", dependencies: ["ClowdrErrors"], swiftSettings: strict),
        // Boutiques, natively: descriptors and invocations validated, command lines and output paths as bosh makes them.
        .target(name: "Boutiques", dependencies: ["JSON", "ClowdrErrors"], swiftSettings: strict),
        // The append-only, per-experiment event log: events, storage, replay, projections, ingest, fsck.
        .target(
            name: "EventLog",
            dependencies: ["SQLite", "JSON", "ClowdrErrors", "CClowdrVersion", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // Process spawning, pidfds and SHA-256 (system libcrypto, loaded on first use): the few calls Swift cannot make
        // directly.
        .target(name: "CClowdrSystem", linkerSettings: [.linkedLibrary("z")]),
        // clowdr's version as the build stamped it (scripts/version.sh: the release tag, or the commit).
        .target(name: "CClowdrVersion"),
        // The small process between clowdr and each attempt's command, so the command's peak memory is its own
        // (Sources/clowdr-shim/main.c says why). C, linked statically: under 100 KB of private memory.
        .executableTarget(name: "clowdr-shim", linkerSettings: [.unsafeFlags(["-static-executable"])]),
        // SHA-256, HMAC-SHA256 and hex, over CClowdrSystem's libcrypto calls: checksums of outputs and archives, AWS signatures.
        .target(name: "Digest", dependencies: ["CClowdrSystem", "ClowdrErrors"], swiftSettings: strict),
        // Planning and executing tasks, monitoring their process trees.
        .target(
            name: "Runner", dependencies: ["EventLog", "Boutiques", "JSON", "CClowdrSystem", "Digest", "Subprocess", "ClowdrErrors"],
            swiftSettings: strict),
        // One HTTP exchange through libcurl's easy interface, on the calling thread (Sources/CHTTP/include/chttp.h):
        // the AWS client's transport. libcurl (headers from libcurl4-openssl-dev) is loaded on first use, not linked.
        .target(name: "CHTTP", dependencies: ["CClowdrSystem"]),
        // AWS's APIs without an SDK: Signature Version 4 (headers and presigned URLs), from the system's libcrypto.
        .target(name: "AWS", dependencies: ["Digest", "CHTTP", "JSON", "Subprocess", "ClowdrErrors"], swiftSettings: strict),
        // Where attempts run: the local machine, Slurm, AWS Batch.
        .target(
            name: "Backends", dependencies: ["Runner", "EventLog", "Boutiques", "JSON", "AWS", "Digest", "Subprocess", "ClowdrErrors"],
            swiftSettings: strict),
        // Questions asked of an experiment's log.
        .target(name: "Query", dependencies: ["EventLog", "SQLite", "JSON", "ClowdrErrors"], swiftSettings: strict),
        // JSON, W3C PROV, HTML report and archive exports.
        // The report's page, style and script are files of their own (Sources/Export/Report), compiled into the binary.
        .target(
            name: "Export", dependencies: ["EventLog", "Query", "Boutiques", "JSON", "SQLite", "CClowdrSystem", "Digest", "ClowdrErrors"],
            resources: [.embedInCode("Report/report.html"), .embedInCode("Report/report.css"), .embedInCode("Report/report.js")],
            swiftSettings: strict),
        // `clowdr share`: the live report over HTTP, read-only, on loopback by default.
        .target(
            name: "Share", dependencies: ["Export", "EventLog", "SQLite", "ClowdrErrors"],
            swiftSettings: strict),
        // `clowdr share`'s server: SwiftNIO's HTTP/1.1, a deadline per request, the report pushed as Server-Sent Events.
        .target(
            name: "ShareHTTP",
            dependencies: [
                "Share", "EventLog", "ClowdrErrors", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // The server `clowdr share` starts (exec): kept out of clowdr so that no clowdr process loads SwiftNIO.
        .executableTarget(
            name: "clowdr-share",
            dependencies: ["ShareHTTP", "Share", "ClowdrErrors", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // The command line: each command a small type that parses its arguments, calls the libraries and formats
        // their answers. A library, so that tests parse command lines and read help in-process.
        .target(
            name: "ClowdrCLI",
            dependencies: [
                "EventLog", "Boutiques", "Runner", "Backends", "AWS", "Query", "Export", "Share", "JSON", "ClowdrErrors", "SQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The `clowdr` executable: one line, `Clowdr.main()`.
        .executableTarget(name: "clowdr", dependencies: ["ClowdrCLI"], swiftSettings: strict, linkerSettings: positionDependent),
        // The helper processes the tests drive: concurrent and killed writers, synthetic experiments.
        .executableTarget(
            name: "clowdr-testkit",
            dependencies: ["EventLog", "JSON", "Digest", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // clowdr's libraries from a Swift program: plan, run, follow and query an experiment (docs/library.md).
        .executableTarget(
            name: "clowdr-library-example", dependencies: ["Backends", "Runner", "EventLog", "Query"], path: "examples/swift-library",
            exclude: ["tool"], swiftSettings: strict),
        // `make bench`: one file per benchmark.
        .executableTarget(
            name: "clowdr-bench",
            dependencies: ["EventLog", "SQLite", "JSON", "Boutiques", "Runner", "Backends", "AWS", "ClowdrErrors", "Query"],
            path: "Benchmarks/clowdr-bench",
            swiftSettings: strict),
        // Helpers shared by the tests: temporary folders, built binaries, child processes.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        // The promises of `Backend`, checked in-process against any backend, and a scheduler in memory.
        .target(
            name: "BackendTesting", dependencies: ["Backends", "Runner", "EventLog", "Boutiques", "TestSupport"], path: "Tests/BackendTesting",
            swiftSettings: strict),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: strict),
        .testTarget(name: "BoutiquesTests", dependencies: ["Boutiques", "JSON", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RunnerTests",
            dependencies: [
                "Runner", "Backends", "AWS", "EventLog", "Boutiques", "JSON", "CClowdrSystem", "Subprocess", "TestSupport", "BackendTesting",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ExportTests", dependencies: ["Export", "Query", "EventLog", "JSON", "CClowdrSystem", "TestSupport"], exclude: ["golden"],
            swiftSettings: strict),
        .testTarget(
            name: "ShareTests", dependencies: ["Share", "ShareHTTP", "Export", "EventLog", "JSON", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "AWSTests", dependencies: ["AWS", "Digest", "Backends", "Runner", "Boutiques", "ClowdrErrors", "JSON", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite", "TestSupport"], swiftSettings: strict),
        // The read model and the queries, in-process, on logs the tests make.
        .testTarget(name: "QueryTests", dependencies: ["Query", "EventLog", "JSON", "SQLite", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "SQLite", "JSON", "TestSupport"], swiftSettings: strict),
        // End-to-end tests of the built `clowdr` binary: output and exit codes.
        .testTarget(
            name: "clowdrTests",
            dependencies: [
                "EventLog", "SQLite", "JSON", "AWS", "Export", "TestSupport", "Backends", "BackendTesting", "ClowdrCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["help"],
            swiftSettings: strict),
    ]
)
