

// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "branchdesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "branchdesk", targets: ["branchdesk"]),
        .executable(name: "branchdesk-bench", targets: ["branchdesk-bench"]),
        .library(name: "TicketModel", targets: ["TicketModel"]),
        .library(name: "Replication", targets: ["Replication"]),
        .library(name: "TicketStore", targets: ["TicketStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Bcrypt for the console's account passwords (HummingbirdBcrypt), not written by hand.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The web console: HTTP server and router, and logic-less templates that escape by default.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // HQ over PostgreSQL (several sync gateways over one database): the pooled async client.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure domain: tickets, lifecycle lattice, field definitions. No I/O, no dependencies.
        .target(name: "TicketModel", swiftSettings: strictSettings),
        // Pure CRDT core: HLC, ops, merge rules, version vectors, reference replica. No I/O.
        .target(name: "Replication", dependencies: ["TicketModel"], swiftSettings: strictSettings),
        // Pure service levels: working-day calendar, policy, deadlines. No I/O.
        .target(name: "ServiceLevels", dependencies: ["TicketModel"], swiftSettings: strictSettings),
        // Pure statistics: the monthly report and its CSV, from facts about tickets.
        .target(name: "Reporting", dependencies: ["TicketModel", "ServiceLevels"], swiftSettings: strictSettings),
        // SQLite through GRDB: op log, materialised tickets, migrations.
        .target(
            name: "TicketStore",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "Reporting", "WireForms",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: strictSettings
        ),
        // HQ's store over PostgreSQL, for several gateways over one database: the store contract
        // (`ReplicaStore`) with the same merge and the same digest as the SQLite store.
        .target(
            name: "PostgresStore",
            dependencies: [
                "TicketModel", "Replication", "WireForms",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Protobuf forms of the merge state: the messages of the sync protocol with their op codecs,
        // and the stored forms the store keeps documents and op payloads in. No I/O.
        .target(
            name: "WireForms",
            dependencies: [
                "TicketModel", "Replication",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The sync protocol without sockets: framing, settings, and the pure session state machine.
        .target(
            name: "SyncWire",
            dependencies: [
                "TicketModel", "Replication", "WireForms",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        // TLS transport, certificates, sync sessions, the server and the dialler.
        .target(
            name: "SyncTransport",
            dependencies: [
                "TicketModel", "Replication", "WireForms", "SyncWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Operability: /metrics in Prometheus format and /health over HTTP, beside a running node.
        .target(
            name: "Monitoring",
            dependencies: [
                "TicketModel", "Replication", "TicketStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The composition root: a node's configuration, its provisioning, and the services it serves.
        // The command line and the tests start nodes through it.
        .target(
            name: "BranchdeskNode",
            dependencies: [
                "TicketModel", "Replication", "TicketStore", "SyncWire", "SyncTransport", "Monitoring", "WebConsole",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The web console each node serves from its own replica (DESIGN §7): pages, accounts'
        // sessions, CSRF; templates and static files ship as resources.
        .target(
            name: "WebConsole",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "Reporting", "TicketStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Templates"), .copy("Static")],
            swiftSettings: strictSettings
        ),
        // The `branchdesk` command line: commands only, over the composition root and the store.
        .executableTarget(
            name: "branchdesk",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "Reporting", "TicketStore", "SyncWire", "SyncTransport",
                "BranchdeskNode",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmarks against raw SQLite and raw TLS: `swift run -c release branchdesk-bench`.
        .executableTarget(
            name: "branchdesk-bench",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "Reporting", "TicketStore", "WireForms", "SyncWire", "SyncTransport", "Monitoring",
                "WebConsole", "ChildProcesses",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Starting `branchdesk` from the CLI tests and the benchmarks, without Foundation's Process.
        .target(name: "ChildProcesses", swiftSettings: strictSettings),
        // Test helpers: seeded randomness, a manual clock, temporary stores, ticket drafts, a link-fault proxy.
        .target(
            name: "TestSupport",
            dependencies: [
                "Replication", "TicketStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .testTarget(name: "TicketModelTests", dependencies: ["TicketModel"], swiftSettings: strictSettings),
        .testTarget(
            name: "WebConsoleTests",
            dependencies: [
                "WebConsole", "TicketModel", "Replication", "ServiceLevels", "TicketStore", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings),
        .testTarget(name: "ServiceLevelsTests", dependencies: ["TicketModel", "ServiceLevels"], swiftSettings: strictSettings),
        .testTarget(
            name: "ReportingTests", dependencies: ["TicketModel", "ServiceLevels", "Reporting"], swiftSettings: strictSettings),
        .testTarget(
            name: "ReplicationTests", dependencies: ["TicketModel", "Replication", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "TicketStoreTests",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "Reporting", "TicketStore", "WireForms", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SyncTests",
            dependencies: [
                "TicketModel", "Replication", "ServiceLevels", "TicketStore", "WireForms", "SyncWire", "SyncTransport", "BranchdeskNode",
                "TestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: [
                "TicketModel", "Replication", "TicketStore", "PostgresStore", "WireForms", "SyncWire", "SyncTransport", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SessionStateMachineTests",
            dependencies: ["TicketModel", "Replication", "WireForms", "SyncWire"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "BranchdeskCLITests",
            dependencies: [
                "branchdesk", "BranchdeskNode", "TicketModel", "Replication", "TicketStore", "SyncWire", "SyncTransport", "TestSupport",
                "ChildProcesses",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
