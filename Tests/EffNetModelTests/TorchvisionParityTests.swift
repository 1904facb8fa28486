import EffNetRuntime
import EfficientNetB0
import EfficientNetB3
import EfficientNetTiny
import EfficientNetTinyLite
import XCTest

/// Generated forward passes reproduce torchvision's logits (eval mode, batch 2) within
/// 1e-4 * max|ref|. Weights are the deterministic synthetic weights (seed 1) that
/// Tools/synthetic_weights.py generates bit-identically, with BatchNorm running statistics
/// calibrated on the batch (bn_stats.safetensors) so activations stay O(1) as in a trained network;
/// references were computed in float64 by Tools/make_fixtures.py with torchvision 0.29. On these
/// fixtures PyTorch's own float32 forward is within ~3e-6 (meta.json `torch_fp32_ratio`) and the two
/// images' logits differ by ~0.3 relative, so the tolerance separates bugs from rounding.
func fixtureWeights(_ fixture: String) throws -> any WeightStore {
    OverlayWeightStore(try SafeTensorsFile(contentsOf: Fixtures.folder.appendingPathComponent("\(fixture)/bn_stats.safetensors")),
                       over: SyntheticWeights(seed: 1))
}

final class TorchvisionParityTests: XCTestCase {
    func check<Model: GeneratedModel>(_ model: Model.Type, fixture: String) throws {
        let network = try Model(weights: try fixtureWeights(fixture))
        let input = try Fixtures.npy("\(fixture)/input.npy")
        let reference = try Fixtures.npy("\(fixture)/logits.npy")
        assertClose(try network.logits(for: input), reference, fixture)
    }

    func testB0MatchesTorchvision() throws { try check(EfficientNetB0.self, fixture: "EfficientNetB0") }

    /// At batch 4 on two workers every worker gets whole images, so B0's stages 2-5 run image by image
    /// (expansion, depthwise, SE and projection on one worker: `Kernels.mbconvPerImage`); the fixture's
    /// two images, twice, must still give torchvision's logits. (On the portable path, which has no
    /// per-image kernel, this is the layer-by-layer pass at batch 4.)
    func testB0BatchOfFourRunsImageByImageAndMatchesTorchvision() throws {
        let pool = WorkerPool(threads: 2)
        let network = try EfficientNetB0(weights: try fixtureWeights("EfficientNetB0"), pool: pool)
        let input = try Fixtures.npy("EfficientNetB0/input.npy")
        let reference = try Fixtures.npy("EfficientNetB0/logits.npy")
        let four = HostTensor(shape: [4] + input.shape.dropFirst(), values: input.values + input.values)
        let expected = HostTensor(shape: [4] + reference.shape.dropFirst(), values: reference.values + reference.values)
        assertClose(try network.logits(for: four), expected, "EfficientNetB0 batch 4")
    }

    func testB3MatchesTorchvision() throws { try check(EfficientNetB3.self, fixture: "EfficientNetB3") }

    func testTinyCustomSpecMatchesTorchvision() throws { try check(EfficientNetTiny.self, fixture: "EfficientNetTiny") }

    /// ReLU6, no SE, TensorFlow SAME padding on odd sizes, fixed stem/head: against a PyTorch
    /// module mirroring the TF reference Lite structure (Tools/reference_model.py).
    func testTinyLiteSpecMatchesPyTorchLiteReference() throws {
        try check(EfficientNetTinyLite.self, fixture: "EfficientNetTinyLite")
    }

    /// The arena is laid out per image and scaled by the batch size: a batch must give the same
    /// logits as its images one at a time (up to float32 summation order, which OpenBLAS picks by
    /// matrix size).
    func testBatchOfTwoEqualsTwoSingleImages() throws {
        let network = try EfficientNetTiny(weights: try fixtureWeights("EfficientNetTiny"))
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let both = try network.logits(for: input)
        let half = input.values.count / 2
        for image in 0..<2 {
            let single = HostTensor(shape: [1, 3, 72, 72], values: Array(input.values[(image * half)..<((image + 1) * half)]))
            let logits = try network.logits(for: single)
            let slice = HostTensor(shape: [1, 10], values: Array(both.values[(image * 10)..<((image + 1) * 10)]))
            assertClose(logits, slice, relative: 1e-5, "image \(image)")
        }
    }

    func testSameResultsWithOneAndTwoThreads() throws {
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let one = try EfficientNetTiny(weights: SyntheticWeights(seed: 1), pool: WorkerPool(threads: 1)).logits(for: input)
        let two = try EfficientNetTiny(weights: SyntheticWeights(seed: 1), pool: WorkerPool(threads: 2)).logits(for: input)
        assertClose(one, two, relative: 1e-6, "1 vs 2 threads")
    }
}
