import EffNetRuntime
import EfficientNetTiny
import EfficientNetTinyLite
import Foundation
import XCTest

/// Prepared weights files (`effnet prepare-weights`): a mapped file gives the same logits as weights
/// prepared at load time, `releaseAfterUse` leaves none of its pages resident after a forward pass, and
/// a file that is damaged or meant for another model is refused with an error naming it.
final class PreparedWeightsFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-prepared-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// EfficientNetTiny's synthetic weights, prepared and written to `name` in the test's folder.
    func writeTinyPrepared(_ name: String = "tiny.effnetw") throws -> URL {
        let descriptor = EfficientNetTiny.descriptor
        let prepared = try PreparedWeights(descriptor: descriptor, store: SyntheticWeights(seed: 1))
        let url = folder.appendingPathComponent(name)
        try PreparedWeightsFile.write(prepared, descriptor: descriptor, to: url)
        return url
    }

    func testMappedWeightsGiveTheSameLogitsAsPreparedAtLoadTime() throws {
        let url = try writeTinyPrepared()
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let expected = try EfficientNetTiny(weights: SyntheticWeights(seed: 1)).logits(for: input)
        let mapped = try EfficientNetTiny(weights: InferenceWeightFiles.open(url))
        XCTAssertEqual(try mapped.logits(for: input), expected)
        // Pages handed back after each block fault in again on the next run, with the same values.
        let releasing = try EfficientNetTiny(weights: InferenceWeightFiles.open(url, releaseAfterUse: true))
        XCTAssertEqual(try releasing.logits(for: input), expected)
        XCTAssertEqual(try releasing.logits(for: input), expected)
    }

    func testPreparedFileHasTheDocumentedSize() throws {
        let url = try writeTinyPrepared()
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber
        XCTAssertEqual(size?.intValue, PreparedWeightsFile.headerBytes + EfficientNetTiny.descriptor.preparedFloats * 4)
    }

    #if os(Linux)
    /// Resident kilobytes of every mapping of `url` in this process (`/proc/self/smaps`).
    func residentKilobytes(of url: URL) throws -> Int {
        // Read to the end: /proc files report size 0, and a read sized by that can stop early.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inMapping = false
        var total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inMapping = fields.count >= 6 && fields[5...].joined(separator: " ") == url.path
            } else if inMapping, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }

    func testReleaseAfterUseLeavesNoWeightPagesResidentAfterAForwardPass() throws {
        let url = try writeTinyPrepared()
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let weightKilobytes = EfficientNetTiny.descriptor.preparedFloats * 4 / 1024
        do {
            // Without release, the pages the forward pass read stay mapped in (the measure works)...
            let kept = try EfficientNetTiny(weights: InferenceWeightFiles.open(url))
            _ = try kept.logits(for: input)
            XCTAssertGreaterThan(try residentKilobytes(of: url), weightKilobytes / 2)
            withExtendedLifetime(kept) {}  // Swift may otherwise free it after its last use
        }
        XCTAssertEqual(try residentKilobytes(of: url), 0, "the model's mapping outlived it")
        // ...and with it, none are left once the forward pass is done.
        let released = try EfficientNetTiny(weights: InferenceWeightFiles.open(url, releaseAfterUse: true))
        _ = try released.logits(for: input)
        XCTAssertEqual(try residentKilobytes(of: url), 0)
        withExtendedLifetime(released) {}
    }

    func testKeepResidentBytesKeepsTheFirstWeightsAndReleasesTheRest() throws {
        let url = try writeTinyPrepared()
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let expected = try EfficientNetTiny(weights: SyntheticWeights(seed: 1)).logits(for: input)
        let kept = 1 << 20
        let model = try EfficientNetTiny(weights: PreparedWeightsFile(contentsOf: url, releaseAfterUse: true,
                                                                      keepResidentBytes: kept))
        XCTAssertEqual(try model.logits(for: input), expected)
        // The header's page and the first MiB stay; the kernel maps neighbouring pages in on a fault
        // (up to 64 KB around it), so allow that much either side.
        let resident = try residentKilobytes(of: url)
        XCTAssertGreaterThanOrEqual(resident, kept / 1024 - 64)
        XCTAssertLessThanOrEqual(resident, kept / 1024 + 4 + 64)
        withExtendedLifetime(model) {}
    }
    #endif

    func testTruncatedFileIsRefusedWithItsName() throws {
        let url = try writeTinyPrepared()
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 4).write(to: url)
        XCTAssertThrowsError(try EfficientNetTiny(weights: InferenceWeightFiles.open(url))) { error in
            guard case .truncated(let file, let expected, let actual) = error as? PreparedWeightsFileError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, url.path)
            XCTAssertEqual(actual, expected - 4)
        }
        // A file cut inside its header is refused too, not read past its end.
        try bytes.prefix(100).write(to: url)
        XCTAssertThrowsError(try PreparedWeightsFile(contentsOf: url)) { error in
            XCTAssertEqual(error as? PreparedWeightsFileError,
                           .truncated(file: url.path, expectedBytes: 4096, actualBytes: 100))
        }
    }

    func testFilePreparedForAnotherVariantIsRefused() throws {
        let url = try writeTinyPrepared()
        XCTAssertThrowsError(try EfficientNetTinyLite(weights: InferenceWeightFiles.open(url))) { error in
            XCTAssertEqual(error as? PreparedWeightsFileError,
                           .wrongModel(file: url.path, found: "EfficientNetTiny", expected: "EfficientNetTinyLite"))
        }
    }

    func testFileWithAnotherWeightLayoutIsRefused() throws {
        let url = try writeTinyPrepared()
        var bytes = try Data(contentsOf: url)
        bytes[24] ^= 0xff  // the layout fingerprint
        try bytes.write(to: url)
        XCTAssertThrowsError(try EfficientNetTiny(weights: InferenceWeightFiles.open(url))) { error in
            XCTAssertEqual(error as? PreparedWeightsFileError, .staleLayout(file: url.path, model: "EfficientNetTiny"))
            XCTAssertTrue("\(error)".contains("effnet prepare-weights"), "\(error)")
        }
    }

    func testUnknownVersionIsRefused() throws {
        let url = try writeTinyPrepared()
        var bytes = try Data(contentsOf: url)
        bytes[8] = 9
        try bytes.write(to: url)
        XCTAssertThrowsError(try PreparedWeightsFile(contentsOf: url)) { error in
            XCTAssertEqual(error as? PreparedWeightsFileError, .unsupportedVersion(file: url.path, version: 9))
        }
    }

    func testPreparedFileHoldsNoNamedParameters() throws {
        let file = try PreparedWeightsFile(contentsOf: try writeTinyPrepared())
        XCTAssertThrowsError(try file.tensor("classifier.1.weight", shape: [10, 640])) { error in
            XCTAssertTrue("\(error)".contains(".safetensors"), "\(error)")
        }
    }

    func testOtherFilesOpenAsSafetensors() throws {
        let url = folder.appendingPathComponent("not-weights.bin")
        try Data("hello, this is not a weights file".utf8).write(to: url)
        XCTAssertFalse(PreparedWeightsFile.isPreparedWeights(url))
        XCTAssertThrowsError(try InferenceWeightFiles.open(url)) { error in
            XCTAssertTrue(error is TensorFileError, "\(error)")
        }
        XCTAssertThrowsError(try PreparedWeightsFile(contentsOf: url)) { error in
            XCTAssertEqual(error as? PreparedWeightsFileError, .notPreparedWeights(file: url.path))
        }
    }

    /// The fingerprint changes with anything that moves a weight, so a generator or spec change that
    /// re-lays the blob cannot load an old file.
    func testFingerprintTellsLayoutsApart() {
        let tiny = PreparedWeightsFile.fingerprint(of: EfficientNetTiny.descriptor)
        XCTAssertEqual(tiny, PreparedWeightsFile.fingerprint(of: EfficientNetTiny.descriptor))
        XCTAssertNotEqual(tiny, PreparedWeightsFile.fingerprint(of: EfficientNetTinyLite.descriptor))
        let d = EfficientNetTiny.descriptor
        var steps = d.preparation
        if case let .copy(name, shape, offset) = steps[steps.count - 1] {
            steps[steps.count - 1] = .copy(name: name, shape: shape, offset: offset + 16)
        }
        let moved = ModelDescriptor(name: d.name, resolution: d.resolution, inputChannels: d.inputChannels,
                                    classes: d.classes, parameters: d.parameters, preparation: steps,
                                    preparedFloats: d.preparedFloats, arenaFloatsPerImage: d.arenaFloatsPerImage,
                                    specSources: d.specSources)
        XCTAssertNotEqual(tiny, PreparedWeightsFile.fingerprint(of: moved))
    }
}
