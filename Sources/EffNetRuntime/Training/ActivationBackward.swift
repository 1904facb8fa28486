/// Derivatives of the activations, as used by every fused "act(·)" backward pass.
/// identity' = 1; silu'(y) = s·(1 + y·(1 − s)) with s = sigmoid(y); relu6'(y) = 1 for 0 < y < 6 and
/// 0 otherwise (PyTorch's hardtanh_backward, which is 0 at both clamp points).
protocol ActivationGradientFunction: ActivationFunction {
    /// grad · act'(y) for the pre-activation value y.
    static func backward(_ grad: FVec, _ y: FVec) -> FVec
    static func backward(_ grad: Float, _ y: Float) -> Float
    /// True when act' costs more than a pass over memory (SiLU's exp): two-pass kernels then store
    /// grad·act'(y) in the first pass instead of recomputing it in the second.
    static var backwardIsExpensive: Bool { get }
}

extension IdentityFunction: ActivationGradientFunction {
    static var backwardIsExpensive: Bool { false }
    @inline(__always) static func backward(_ grad: FVec, _ y: FVec) -> FVec { grad }
    @inline(__always) static func backward(_ grad: Float, _ y: Float) -> Float { grad }
}

extension SiLUFunction: ActivationGradientFunction {
    static var backwardIsExpensive: Bool { true }
    @inline(__always) static func backward(_ grad: FVec, _ y: FVec) -> FVec {
        let one = FVec(repeating: 1)
        let s = vectorSigmoid(y)
        return grad * s * (one + y * (one - s))
    }
    @inline(__always) static func backward(_ grad: Float, _ y: Float) -> Float {
        let s = scalarSigmoid(y)
        return grad * s * (1 + y * (1 - s))
    }
}

extension ReLU6Function: ActivationGradientFunction {
    static var backwardIsExpensive: Bool { false }
    @inline(__always) static func backward(_ grad: FVec, _ y: FVec) -> FVec {
        var r = grad
        r.replace(with: FVec(repeating: 0), where: y .<= FVec(repeating: 0))
        r.replace(with: FVec(repeating: 0), where: y .>= FVec(repeating: 6))
        return r
    }
    @inline(__always) static func backward(_ grad: Float, _ y: Float) -> Float {
        (y > 0 && y < 6) ? grad : 0
    }
}

extension TrainingKernels {
    /// gradInput = gradOutput · act'(preActivation) over `count` floats (overwrite; in-place safe).
    /// For activations not fused into a BatchNorm backward (e.g. a conv with bias + activation).
    public static func activationBackward(gradOutput: UnsafePointer<Float>, preActivation: UnsafePointer<Float>,
                                          count: Int, activation: Activation,
                                          gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        switch activation {
        case .identity:
            if UnsafePointer(gradInput) != gradOutput { gradInput.update(from: gradOutput, count: count) }
        case .silu: activationBackward(SiLUFunction.self, gradOutput, preActivation, count, gradInput, pool)
        case .relu6: activationBackward(ReLU6Function.self, gradOutput, preActivation, count, gradInput, pool)
        }
    }

    @inline(__always) static func activationBackward<A: ActivationGradientFunction>(
        _: A.Type, _ gradOutput: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int,
        _ gradInput: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let (chunk, tasks) = elementwiseSplit(count, pool)
        let simd = CSIMDKernels.active
        pool.parallelFor(tasks) { t in
            let start = t &* chunk
            let end = min(count, start &+ chunk)
            if let simd {
                simd.activationBackward(A.activation, gradOutput + start, y + start, count: end &- start,
                                        gradInput + start)
                return
            }
            var i = start
            while i &+ 16 <= end {
                storeVec(A.backward(loadVec(gradOutput + i), loadVec(y + i)), gradInput + i)
                i &+= 16
            }
            if i < end {
                let n = end &- i
                storePartialVec(A.backward(loadPartialVec(gradOutput + i, n), loadPartialVec(y + i, n)), gradInput + i, n)
            }
        }
    }
}
