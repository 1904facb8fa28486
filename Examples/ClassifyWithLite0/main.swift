// The README's "use a generated model in your app" example, compiled on every build so it
// cannot rot. Run it with:
//   swift run -c release classify-example Tests/Fixtures/Lite0Photos/chelsea.input.npy
import EffNetRuntime
import EfficientNetLite0
import Foundation

let arguments = CommandLine.arguments.dropFirst()
guard let inputPath = arguments.first else {
    print("usage: classify-example BATCH.npy [WEIGHTS]   (BATCH: float32 [N, 3, 224, 224]; WEIGHTS: .safetensors,"
          + " or prepared by effnet prepare-weights)")
    exit(2)
}
let weightsPath = arguments.dropFirst().first ?? "Weights/EfficientNetLite0.safetensors"

do {
    // A .safetensors file (BatchNorm is folded at load, once) or prepared weights (mapped as they are).
    let weights = try InferenceWeightFiles.open(URL(fileURLWithPath: weightsPath))
    let model = try EfficientNetLite0(weights: weights)
    let images = try NPY.readFloat32(URL(fileURLWithPath: inputPath))
    let logits = try model.logits(for: images)                     // [N, 1000]
    for image in 0..<logits.shape[0] {
        let row = logits.values[(image * 1000)..<((image + 1) * 1000)]
        let best = row.indices.max { row[$0] < row[$1] }! - image * 1000
        print("image \(image): ImageNet class \(best), logit \(row[best + image * 1000])")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
