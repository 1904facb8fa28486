import EffNetData
import Foundation
import XCTest

final class AugmentTests: XCTestCase {
    /// Every op at fixed magnitudes against torchvision's `_apply_op` on PIL images.
    func testOpsMatchTorchvision() throws {
        let spec = try Fixtures.json("transforms/ops.json")
        let ops = try XCTUnwrap(spec["ops"] as? [[String: Any]])
        let inputs = try Fixtures.images("transforms/op_inputs.npy")
        let outputs = try Fixtures.images("transforms/ops.npy")
        XCTAssertEqual(ops.count, outputs.count)
        var worst: [String: (max: Int, count: Int)] = [:]
        for (i, e) in ops.enumerated() {
            let name = try XCTUnwrap(e["op"] as? String)
            let op = try XCTUnwrap(AugmentOp(rawValue: name))
            // JSONSerialization may be off by an ulp of Double; the values are float32 numbers.
            var magnitude = try XCTUnwrap(e["magnitude"] as? Double)
            let input = inputs[(e["input"] as? String) == "low" ? 1 : 0]
            var fill = RGB.black
            if let f = e["fill"] as? [Int] { fill = RGB(UInt8(f[0]), UInt8(f[1]), UInt8(f[2])) }
            // The magnitude comes from our bins too.
            if let bin = e["bin"] as? Int {
                let bins = op.bins(count: 10, imageWidth: input.width, imageHeight: input.height)
                let sign = (e["sign"] as? Int ?? 1) < 0 && bins.signed ? -1.0 : 1.0
                XCTAssertEqual(Float(sign * bins.values[bin]), Float(magnitude), "\(name) bin \(bin)")
                magnitude = sign * bins.values[bin]
            }
            let d = difference(op.apply(to: input, magnitude: magnitude, fill: fill), outputs[i])
            let w = worst[name] ?? (0, 0)
            worst[name] = (max(w.max, d.max), max(w.count, d.count))
            XCTAssertEqual(d.count, 0, "\(name) magnitude \(magnitude) fill \(fill): \(d.count) values differ (max \(d.max))")
        }
        print("AutoAugment ops vs torchvision (max |diff|, most differing values in one case):")
        for (k, v) in worst.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v.max), \(v.count)") }
    }

    /// Magnitude bins of AutoAugment (10) and RandAugment (31) and the ImageNet policy table.
    func testMagnitudeBinsAndPolicy() throws {
        let spec = try Fixtures.json("transforms/augment_space.json")
        let hw = try XCTUnwrap(spec["image_size_hw"] as? [Int])
        for (key, n) in [("autoaugment_10", 10), ("randaugment_31", 31)] {
            let table = try XCTUnwrap(spec[key] as? [String: [String: Any]])
            let ours = key.hasPrefix("rand") ? RandAugment.ops : AugmentOp.allCases.filter { $0 != .identity }
            XCTAssertEqual(Set(table.keys), Set(ours.map(\.torchvisionName)), key)
            for op in ours {
                let ref = try XCTUnwrap(table[op.torchvisionName])
                let values = try XCTUnwrap(ref["magnitudes"] as? [Double])
                let bins = op.bins(count: n, imageWidth: hw[1], imageHeight: hw[0])
                XCTAssertEqual(bins.signed, ref["signed"] as? Bool, "\(key) \(op)")
                XCTAssertEqual(bins.values.count, values.count, "\(key) \(op)")
                for (a, b) in zip(bins.values, values) {
                    // Exact for 10 bins; torch's vectorised linspace differs in the last float32 bit for some 31-bin entries.
                    if n == 10 {
                        XCTAssertEqual(Float(a), Float(b), "\(key) \(op)")
                        XCTAssertEqual(Double(Float(a)), a, "\(key) \(op): not a float32 value")
                    } else {
                        XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(key) \(op)")
                    }
                }
            }
        }
        let policy = try XCTUnwrap(spec["imagenet_policy"] as? [[[Any]]])
        let ours = AutoAugmentPolicy.imagenet.subPolicies
        XCTAssertEqual(policy.count, 25)
        for (p, q) in zip(policy, ours) {
            for (s, t) in zip(p, q) {
                XCTAssertEqual(s[0] as? String, t.op.torchvisionName)
                XCTAssertEqual(s[1] as? Double, t.probability)
                XCTAssertEqual(s[2] as? Int, t.bin)
            }
        }
    }

    func testAutoAugmentIsSeededAndCoversPolicies() throws {
        let input = try Fixtures.images("transforms/op_inputs.npy")[0]
        let aa = AutoAugment()
        var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11)
        var distinct = Set<[UInt8]>()
        var unchanged = 0
        for _ in 0..<200 {
            let x = aa.apply(input, using: &a)
            XCTAssertEqual(x, aa.apply(input, using: &b))
            XCTAssertEqual(x.width, input.width)
            XCTAssertEqual(x.height, input.height)
            distinct.insert(x.pixels)
            if x == input { unchanged += 1 }
        }
        XCTAssertGreaterThan(distinct.count, 25)  // many different sub-policy/probability outcomes
        XCTAssertGreaterThan(unchanged, 0)       // sometimes neither step fires
        for policy in AutoAugmentPolicy.allCases {
            XCTAssertEqual(policy.subPolicies.count, 25)
            var rng = SplitMix64(seed: 1)
            _ = AutoAugment(policy: policy, fill: RGB(1, 2, 3)).apply(input, using: &rng)
        }
    }

    func testRandAugmentIsSeeded() throws {
        let input = try Fixtures.images("transforms/op_inputs.npy")[0]
        let ra = RandAugment()
        var a = SplitMix64(seed: 3), b = SplitMix64(seed: 3)
        var distinct = Set<[UInt8]>()
        for _ in 0..<100 {
            let x = ra.apply(input, using: &a)
            XCTAssertEqual(x, ra.apply(input, using: &b))
            distinct.insert(x.pixels)
        }
        XCTAssertGreaterThan(distinct.count, 50)
        XCTAssertEqual(RandAugment.ops.count, 14)
    }

    func testRotateShortcutsAndGeometry() throws {
        let input = try Fixtures.images("transforms/op_inputs.npy")[0]
        XCTAssertEqual(input.rotated(degrees: 0), input)
        XCTAssertEqual(input.rotated(degrees: 360), input)
        XCTAssertEqual(input.rotated(degrees: 180), input.flippedHorizontally().flippedVertically())
        XCTAssertEqual(input.rotated(degrees: -180), input.rotated(degrees: 180))
        let square = input.centerCropped(width: 40, height: 40)
        XCTAssertEqual(square.rotated(degrees: 90).rotated(degrees: 270), square)
        // Translating by the full width leaves only fill.
        XCTAssertEqual(input.affine(translate: (Double(input.width), 0), fill: RGB(9, 9, 9)),
                       RGBImage(width: input.width, height: input.height, fill: RGB(9, 9, 9)))
    }
}
