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
        .library(name: "TicketModel", targets: ["TicketModel"]),
        .library(name: "Replication", targets: ["Replication"]),
        .library(name: "TicketStore", targets: ["TicketStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Pure domain: tickets, lifecycle lattice, field definitions. No I/O, no dependencies.
        .target(name: "TicketModel", swiftSettings: strictSettings),
        // Pure CRDT core: HLC, ops, merge rules, version vectors, reference replica. No I/O.
        .target(name: "Replication", dependencies: ["TicketModel"], swiftSettings: strictSettings),
        // SQLite through GRDB: op log, materialised tickets, migrations.
        .target(
            name: "TicketStore",
            dependencies: [
                "TicketModel", "Replication",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The `branchdesk` command line: thin commands over TicketStore.
        .executableTarget(
            name: "branchdesk",
            dependencies: [
                "TicketModel", "Replication", "TicketStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Test helpers: seeded randomness, a manual clock.
        .target(name: "TestSupport", dependencies: ["Replication"], swiftSettings: strictSettings),
        .testTarget(name: "TicketModelTests", dependencies: ["TicketModel"], swiftSettings: strictSettings),
        .testTarget(
            name: "ReplicationTests", dependencies: ["TicketModel", "Replication", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "TicketStoreTests",
            dependencies: [
                "TicketModel", "Replication", "TicketStore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "BranchdeskCLITests", dependencies: ["branchdesk"], swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
