import Foundation
import XCTest

@testable import EffNetRuntime

final class OptimizationEMATests: XCTestCase {
    /// EMA along the SGD-momentum trajectory matches the TF formula computed in the fixture.
    private func checkAgainstReference(decay: Double, warmup: Bool, key: String) throws {
        let run = try OptimizationFixtures.run()
        let trajectory = try OptimizationFixtures.trajectory("opt.sgd_momentum")
        let expected = try OptimizationFixtures.trajectory(key)
        let slots = OptimizationFixtures.trainedSlots
        let ema = run.initial.withUnsafeBufferPointer {
            ExponentialMovingAverage(slots: slots, parameters: $0.baseAddress!, decay: decay, warmup: warmup)
        }
        for s in 0..<OptimizationFixtures.steps {
            trajectory[s].withUnsafeBufferPointer { ema.update(parameters: $0.baseAddress!) }
            var evaluation = [Float](repeating: -7, count: OptimizationFixtures.bufferCount)
            evaluation.withUnsafeMutableBufferPointer { ema.copyShadow(into: $0.baseAddress!) }
            for slot in slots {
                OptimizationFixtures.assertClose(
                    Array(evaluation[slot.offset..<(slot.offset + slot.count)]),
                    Array(expected[s][slot.offset..<(slot.offset + slot.count)]), "\(key) \(slot.name) update \(s + 1)")
                XCTAssertEqual(ema.shadowValues(of: slot.name)!, Array(evaluation[slot.offset..<(slot.offset + slot.count)]))
            }
            // copyShadow leaves everything outside the slots alone (frozen slot, padding).
            XCTAssertEqual(evaluation[64], -7)
            XCTAssertEqual(evaluation[140], -7)
        }
        XCTAssertEqual(ema.updateCount, OptimizationFixtures.steps)
    }

    func testShadowFollowsTensorFlowFormulaWithConstantDecay() throws {
        try checkAgainstReference(decay: 0.9, warmup: false, key: "ema.d0.9")
    }

    func testWarmupUsesMinOfDecayAndOnePlusNOverTenPlusN() throws {
        try checkAgainstReference(decay: 0.9999, warmup: true, key: "ema.d0.9999_warmup")
    }

    func testWarmupDecaySequence() {
        let ema = [Float](repeating: 0, count: 1).withUnsafeBufferPointer {
            ExponentialMovingAverage(
                slots: [ParameterSlot(name: "w", offset: 0, count: 1, kind: .linearWeight)],
                parameters: $0.baseAddress!, decay: 0.99, warmup: true)
        }
        var decays: [Double] = []
        for _ in 0..<1000 {
            decays.append(ema.nextDecay)
            [Float(1)].withUnsafeBufferPointer { ema.update(parameters: $0.baseAddress!) }
        }
        XCTAssertEqual(decays[0], 2.0 / 11.0, accuracy: 1e-15)
        XCTAssertEqual(decays[1], 3.0 / 12.0, accuracy: 1e-15)
        XCTAssertEqual(decays[999], 0.99)
        XCTAssertEqual(decays.firstIndex { $0 == 0.99 }, 889)  // (1+n)/(10+n) ≥ 0.99 from update n = 890
    }

    func testShadowStartsAtTheParametersAndIsUnchangedByConstantParameters() {
        let parameters: [Float] = (0..<40).map { Float($0) * 0.25 - 3 }
        let slots = [ParameterSlot(name: "a", offset: 3, count: 33, kind: .convolutionWeight)]
        let ema = parameters.withUnsafeBufferPointer {
            ExponentialMovingAverage(slots: slots, parameters: $0.baseAddress!, decay: 0.9999)
        }
        for _ in 0..<10 { parameters.withUnsafeBufferPointer { ema.update(parameters: $0.baseAddress!) } }
        XCTAssertEqual(ema.shadowValues(of: "a")!, Array(parameters[3..<36]))
    }
}
