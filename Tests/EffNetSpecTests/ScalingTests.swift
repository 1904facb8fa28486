import EffNetSpec
import XCTest

/// The scaling rules reproduce torchvision's `_make_divisible` and `ceil(repeats * depth)`, and
/// compound scaling follows the paper's d = alpha^phi, w = beta^phi, r = gamma^phi.
final class ScalingTests: XCTestCase {
    func testChannelRoundingMatchesTorchvisionMakeDivisible() {
        // Values computed with torchvision.ops.misc._make_divisible(c * w, 8).
        XCTAssertEqual(ScalingRules.roundChannels(32 * 1.1), 32)   // 35.2 -> 32
        XCTAssertEqual(ScalingRules.roundChannels(40 * 1.1), 48)   // 44.0000001 -> 48
        XCTAssertEqual(ScalingRules.roundChannels(24 * 1.2), 32)   // 28.8 -> 32
        XCTAssertEqual(ScalingRules.roundChannels(112 * 1.4), 160) // 156.8 -> 160
        XCTAssertEqual(ScalingRules.roundChannels(16 * 0.5), 8)
        XCTAssertEqual(ScalingRules.roundChannels(3), 8, "never below the divisor")
        XCTAssertEqual(ScalingRules.roundChannels(20), 24, "ties round up")
        XCTAssertEqual(ScalingRules.roundChannels(11), 16, "rounding may not lose more than 10 %")
    }

    func testRepeatsRoundUp() {
        XCTAssertEqual(ScalingRules.roundRepeats(1, depth: 1.1), 2)
        XCTAssertEqual(ScalingRules.roundRepeats(3, depth: 1.4), 5)   // 4.199999 -> 5 in floating point, as in Python
        XCTAssertEqual(ScalingRules.roundRepeats(4, depth: 1.0), 4)
        XCTAssertEqual(ScalingRules.roundRepeats(3, depth: 0.34), 2)
    }

    func testCompoundScaling() {
        let (w, d) = CompoundScaling.multipliers(phi: 2, alpha: 1.2, beta: 1.1)
        XCTAssertEqual(w, 1.21, accuracy: 1e-12)
        XCTAssertEqual(d, 1.44, accuracy: 1e-12)
        XCTAssertEqual(CompoundScaling.resolution(base: 224, gamma: 1.15, phi: 1), 256)   // 257.6 -> 256
        XCTAssertEqual(CompoundScaling.resolution(base: 224, gamma: 1.15, phi: 0.5), 240) // 240.2 -> 240
    }

    func testPhiSpecScalesFromItsBase() throws {
        let base = "model Base\nresolution 224\nstem conv 3x3 stride 2 channels 32\nstage mbconv 6 3 2 40 3 0.25\n"
            + "head conv 1x1 expand 4\nclassifier classes 10\n"
        let child = "base Base\nmodel Half\nscale phi 0.5\n"
        let library = try SpecLibrary(documents: [try SpecParser.parse(base, file: "Base.effnet"),
                                                  try SpecParser.parse(child, file: "Half.effnet")])
        let plan = Planner.plan(try library.resolve("Half"))
        XCTAssertEqual(plan.resolution, 240)
        XCTAssertEqual(plan.width, 1.0488088, accuracy: 1e-6)
        XCTAssertEqual(plan.depth, 1.0954451, accuracy: 1e-6)
        XCTAssertEqual(plan.stem.channels, ScalingRules.roundChannels(32 * plan.width))
        XCTAssertEqual(plan.stages[0].repeats, 4)   // ceil(3 * 1.095)
        XCTAssertEqual(plan.stages[0].outChannels, 40)  // round(41.95) = 40
        XCTAssertEqual(plan.head.channels, 160)
    }

    func testADerivedResolutionKeepsTheBasePreprocessRatio() throws {
        let base = "model Base\nresolution 224\nstem conv 3x3 stride 2 channels 32\nstage mbconv 6 3 2 40 3 0.25\n"
            + "head conv 1x1 expand 4\nclassifier classes 10\npreprocess resize 256 crop 224 normalize lite\n"
        let child = "base Base\nmodel Half\nscale phi 0.5\n"
        let library = try SpecLibrary(documents: [try SpecParser.parse(base, file: "Base.effnet"),
                                                  try SpecParser.parse(child, file: "Half.effnet")])
        let preprocess = Planner.plan(try library.resolve("Half")).preprocess
        XCTAssertEqual(preprocess.crop, 240)
        XCTAssertEqual(preprocess.resize, 274)   // 240 * 256 / 224
        XCTAssertEqual(preprocess.normalization, .lite)
    }

    func testFixedStemHeadAndRepeatsAreNotScaled() throws {
        let lite = "model L\nresolution 64\nscale width 1.4 depth 1.8\nstem conv 3x3 stride 2 channels 32 fixed\n"
            + "stage mbconv 1 3 1 16 1 none fixed-repeats\nstage mbconv 6 3 2 24 2 none\n"
            + "head conv 1x1 channels 1280 fixed\nclassifier classes 10\n"
        let plan = Planner.plan(try SpecLibrary(documents: [try SpecParser.parse(lite, file: "L")]).resolve("L"))
        XCTAssertEqual(plan.stem.channels, 32)
        XCTAssertEqual(plan.stages.map(\.repeats), [1, 4])
        XCTAssertEqual(plan.stages.map(\.outChannels), [24, 32])
        XCTAssertEqual(plan.head.channels, 1280)
    }
}
