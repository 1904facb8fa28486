import Foundation

/// The scaling rules of EfficientNet, exactly as torchvision (and the TF reference) apply them.
public enum ScalingRules {
    /// torchvision `_make_divisible(c * width, 8)` / TF `round_filters`: round to the nearest
    /// multiple of 8 (at least 8), and add 8 if that lost more than 10 %.
    public static func roundChannels(_ scaled: Double, divisor: Int = 8) -> Int {
        let d = Double(divisor)
        var rounded = max(divisor, Int(scaled + d / 2) / divisor * divisor)
        if Double(rounded) < 0.9 * scaled { rounded += divisor }
        return rounded
    }

    /// `ceil(repeats * depth)`.
    public static func roundRepeats(_ repeats: Int, depth: Double) -> Int {
        Int((Double(repeats) * depth).rounded(.up))
    }
}

public enum CompoundScaling {
    /// width = beta^phi, depth = alpha^phi.
    public static func multipliers(phi: Double, alpha: Double, beta: Double) -> (width: Double, depth: Double) {
        (pow(beta, phi), pow(alpha, phi))
    }

    /// resolution = base * gamma^phi, rounded to the nearest multiple of 8.
    public static func resolution(base: Int, gamma: Double, phi: Double) -> Int {
        let exact = Double(base) * pow(gamma, phi)
        return max(8, Int((exact / 8).rounded()) * 8)
    }
}

public struct ScaledStage: Sendable, Codable, Equatable {
    public var expand: Double
    public var kernel: Int
    public var stride: Int
    public var inChannels: Int
    public var outChannels: Int
    public var repeats: Int
    public var seRatio: Double?
}

/// A spec with its multipliers applied: the concrete network, still as a stage table.
public struct ScaledModel: Sendable {
    public var spec: ModelSpec
    public var width: Double
    public var depth: Double
    public var stemChannels: Int
    public var stages: [ScaledStage]
    public var headChannels: Int

    public init(_ spec: ModelSpec) {
        self.spec = spec
        switch spec.scaling {
        case .multipliers(let w, let d):
            (width, depth) = (w, d)
        case .compound(let phi, let alpha, let beta, _):
            (width, depth) = CompoundScaling.multipliers(phi: phi, alpha: alpha, beta: beta)
        }
        let width = self.width, depth = self.depth
        func channels(_ c: Int, fixed: Bool) -> Int {
            fixed ? c : ScalingRules.roundChannels(Double(c) * width)
        }
        stemChannels = channels(spec.stem.channels, fixed: spec.stem.fixed)
        var input = stemChannels
        stages = spec.stages.map { stage in
            let out = channels(stage.channels, fixed: false)
            defer { input = out }
            return ScaledStage(
                expand: stage.expand, kernel: stage.kernel, stride: stage.stride,
                inChannels: input, outChannels: out,
                repeats: stage.fixedRepeats ? stage.repeats : ScalingRules.roundRepeats(stage.repeats, depth: depth),
                seRatio: stage.seRatio
            )
        }
        switch spec.head {
        case .channels(let c, let fixed): headChannels = channels(c, fixed: fixed)
        case .expand(let ratio): headChannels = ratio * (stages.last?.outChannels ?? stemChannels)
        }
    }
}
