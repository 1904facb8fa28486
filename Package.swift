// swift-tools-version: 6.0
//
// effnet: a declarative EfficientNet spec compiler.
//
// Data flows one way: Specs/<Variant>.effnet -> EffNetSpec (parse, validate, scale, plan)
// -> EffNetCodegen (Swift text) -> one library per variant (`import EfficientNetB0`)
// -> EffNetRuntime kernels.
import Foundation
import PackageDescription

// MARK: - Model variants
// Adding a variant is one spec file, Specs/<Name>.effnet, plus one line here.
// The build-tool plugin generates the whole model from the spec on every `swift build`.
let variants = [
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "EfficientNetB8",
    "EfficientNetL2",
    "EfficientNetLite0",
    "EfficientNetLite1",
    "EfficientNetLite2",
    "EfficientNetLite3",
    "EfficientNetLite4",
    "EfficientNetTiny",
    "EfficientNetTinyLite",
    "EfficientNetLite0Digits",
]

// SwiftPM refuses a target without at least one Swift file of its own, and the model code is
// generated into the build folder. Each variant target therefore owns a one-line anchor file,
// which is created here when missing so that a new variant needs nothing but its spec and its
// line above. (Writing fails harmlessly where manifests are sandboxed; then create the file
// by hand: see README "Adding a variant".)
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
for variant in variants {
    let folder = packageRoot.appendingPathComponent("Sources/Variants/\(variant)")
    let anchor = folder.appendingPathComponent("\(variant).swift")
    if !FileManager.default.fileExists(atPath: anchor.path) {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? "// The \(variant) model is generated from Specs/\(variant).effnet by EffNetGeneratorPlugin.\n"
            .write(to: anchor, atomically: true, encoding: .utf8)
    }
}

let package = Package(
    name: "effnet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "effnet", targets: ["effnet"]),
        .executable(name: "effnet-gen", targets: ["effnet-gen"]),
        .library(name: "EffNetRuntime", targets: ["EffNetRuntime"]),
        .library(name: "EffNetSpec", targets: ["EffNetSpec"]),
        .library(name: "EffNetData", targets: ["EffNetData"]),
        .library(name: "EffNetTraining", targets: ["EffNetTraining"]),
        .plugin(name: "EffNetGeneratorPlugin", targets: ["EffNetGeneratorPlugin"]),
    ] + variants.map { .library(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS from Debian (libopenblas-dev): sgemm for the 1x1 convolutions.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Image codecs from Debian: libjpeg-turbo (TurboJPEG API) and libpng.
        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        // Spec language: parse -> validate -> scale -> plan. Pure Swift, text in, values out.
        .target(name: "EffNetSpec"),
        // Plan -> Swift source text.
        .target(name: "EffNetCodegen", dependencies: ["EffNetSpec"]),
        // The generator command the plugin runs (and people can run by hand).
        .executableTarget(
            name: "effnet-gen",
            dependencies: [
                "EffNetSpec", "EffNetCodegen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .plugin(
            name: "EffNetGeneratorPlugin",
            capability: .buildTool(),
            dependencies: ["effnet-gen"]
        ),
        // AVX-512 / AVX2+FMA builds of the elementwise hot loops (per-function target attributes,
        // chosen at run time; nothing on other architectures), so no unsafe flags are needed.
        .target(name: "CEffNetSIMD"),
        // Kernels, worker pool, weights and tensor files.
        .target(name: "EffNetRuntime", dependencies: ["COpenBLAS", "CEffNetSIMD"]),
        // Data pipeline: decoding, transforms (incl. AutoAugment), image-folder datasets, loaders.
        .target(name: "EffNetData", dependencies: ["EffNetRuntime", "CTurboJPEG", "CPNG"]),
        // Training loop with events and callbacks (progress, metrics, checkpoints, early stop).
        .target(name: "EffNetTraining", dependencies: ["EffNetRuntime", "EffNetData"]),
        // The command-line tool links every shipped variant; the plugin generates its registry.
        .executableTarget(
            name: "effnet",
            dependencies: [
                "EffNetRuntime", "EffNetSpec", "EffNetData", "EffNetTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + variants.map { .target(name: $0) },
            plugins: ["EffNetGeneratorPlugin"]
        ),
        // The README's example of linking a generated model into an app.
        .executableTarget(
            name: "classify-example",
            dependencies: ["EffNetRuntime", "EfficientNetLite0"],
            path: "Examples/ClassifyWithLite0"
        ),
        .testTarget(name: "EffNetSpecTests", dependencies: ["EffNetSpec"]),
        .testTarget(
            name: "EffNetCodegenTests",
            dependencies: ["EffNetSpec", "EffNetCodegen"]
        ),
        .testTarget(name: "EffNetRuntimeTests", dependencies: ["EffNetRuntime"]),
        .testTarget(name: "EffNetDataTests", dependencies: ["EffNetData"]),
        .testTarget(name: "EffNetTrainingTests", dependencies: ["EffNetTraining", "EfficientNetTiny"]),
        // Runs the built `effnet` tool as a user would (needs the package's products built, which
        // `swift test` does).
        .testTarget(name: "EffNetCLITests", dependencies: ["EffNetRuntime", "EffNetTraining", "EfficientNetTiny"]),
        .testTarget(
            name: "EffNetModelTests",
            dependencies: [
                "EffNetRuntime", "EfficientNetB0", "EfficientNetB3", "EfficientNetTiny",
                "EfficientNetTinyLite", "EfficientNetLite0",
            ]
        ),
    ] + variants.map {
        .target(
            name: $0,
            dependencies: ["EffNetRuntime"],
            path: "Sources/Variants/\($0)",
            plugins: ["EffNetGeneratorPlugin"]
        )
    }
)
