/// A ``WeightStore`` that takes each tensor from `overlay` when it has that name and from `base`
/// otherwise: e.g. calibrated BatchNorm statistics over synthetic weights in the parity tests, or a
/// new classifier over a pretrained backbone. A tensor the overlay has with the wrong shape is an
/// error, not a silent fall-through.
public struct OverlayWeightStore: WeightStore {
    public let overlay: SafeTensorsFile
    public let base: any WeightStore

    public init(_ overlay: SafeTensorsFile, over base: any WeightStore) {
        self.overlay = overlay
        self.base = base
    }

    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        if overlay.shape(of: name) != nil { return try overlay.tensor(name, shape: shape) }
        return try base.tensor(name, shape: shape)
    }
}
