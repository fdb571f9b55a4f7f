// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Margin",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "margin", targets: ["margin"]),
        .library(name: "MarginStore", targets: ["MarginStore"]),
        .library(name: "MarginSync", targets: ["MarginSync"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "MarginStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MarginSync",
            dependencies: [
                "MarginStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "margin",
            dependencies: [
                "MarginStore",
                "MarginSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MarginStoreTests",
            dependencies: ["MarginStore", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MarginSyncTests",
            dependencies: ["MarginSync", "MarginStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MarginCLITests",
            dependencies: ["MarginStore"],
            swiftSettings: swiftSettings
        ),
    ]
)
