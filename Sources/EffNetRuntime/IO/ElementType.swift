/// Element types found in tensor files, and their conversion to the runtime's `Float` / `Int64`.
///
/// Shared by the safetensors and `.npy` readers. Conversions are exact where the target type can
/// represent the value (every F16/BF16 value is a Float; F64 rounds to nearest Float).
enum ElementType: Sendable, Equatable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8, uint64, uint32, uint16, uint8, bool
    case float8E4M3, float8E5M2

    /// Bytes per element.
    var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool, .float8E4M3, .float8E5M2: return 1
        }
    }

    /// The safetensors spelling ("F32", "BF16", ...).
    var safetensorsName: String {
        switch self {
        case .float64: return "F64"
        case .float32: return "F32"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .int64: return "I64"
        case .int32: return "I32"
        case .int16: return "I16"
        case .int8: return "I8"
        case .uint64: return "U64"
        case .uint32: return "U32"
        case .uint16: return "U16"
        case .uint8: return "U8"
        case .bool: return "BOOL"
        case .float8E4M3: return "F8_E4M3"
        case .float8E5M2: return "F8_E5M2"
        }
    }

    /// Parses a safetensors dtype string; nil for one this reader does not know.
    init?(safetensorsName name: String) {
        let all: [ElementType] = [
            .float64, .float32, .float16, .bfloat16, .int64, .int32, .int16, .int8,
            .uint64, .uint32, .uint16, .uint8, .bool, .float8E4M3, .float8E5M2,
        ]
        guard let match = all.first(where: { $0.safetensorsName == name }) else { return nil }
        self = match
    }

    /// Types ``decodeFloats(_:count:bigEndian:)`` converts to `Float`.
    static let floatReadable: [ElementType] = [.float32, .float64, .float16, .bfloat16]
    /// Types ``decodeIntegers(_:count:bigEndian:)`` converts to `Int64`.
    static let integerReadable: [ElementType] = [.int64, .int32, .int16, .int8, .uint32, .uint16, .uint8, .bool]

    /// Decodes `count` elements from `raw` into Floats; nil if this type is not float-readable.
    func decodeFloats(_ raw: UnsafeRawBufferPointer, count: Int, bigEndian: Bool = false) -> [Float]? {
        precondition(raw.count >= count * byteSize)
        switch self {
        case .float32:
            #if _endian(little)
            if !bigEndian {
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if count > 0 {
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]))
                    }
                    initialized = count
                }
            }
            #endif
            return (0..<count).map { i in
                Float(bitPattern: ElementType.load(UInt32.self, raw, i, bigEndian))
            }
        case .float64:
            return (0..<count).map { i in
                Float(Double(bitPattern: ElementType.load(UInt64.self, raw, i, bigEndian)))
            }
        case .float16:
            return (0..<count).map { i in
                ElementType.halfToFloat(ElementType.load(UInt16.self, raw, i, bigEndian))
            }
        case .bfloat16:
            return (0..<count).map { i in
                Float(bitPattern: UInt32(ElementType.load(UInt16.self, raw, i, bigEndian)) << 16)
            }
        default:
            return nil
        }
    }

    /// Decodes `count` elements from `raw` into Int64s; nil if this type is not integer-readable.
    func decodeIntegers(_ raw: UnsafeRawBufferPointer, count: Int, bigEndian: Bool = false) -> [Int64]? {
        precondition(raw.count >= count * byteSize)
        switch self {
        case .int64:
            return (0..<count).map { Int64(bitPattern: ElementType.load(UInt64.self, raw, $0, bigEndian)) }
        case .int32:
            return (0..<count).map { Int64(Int32(bitPattern: ElementType.load(UInt32.self, raw, $0, bigEndian))) }
        case .int16:
            return (0..<count).map { Int64(Int16(bitPattern: ElementType.load(UInt16.self, raw, $0, bigEndian))) }
        case .int8:
            return (0..<count).map { Int64(Int8(bitPattern: raw[$0])) }
        case .uint32:
            return (0..<count).map { Int64(ElementType.load(UInt32.self, raw, $0, bigEndian)) }
        case .uint16:
            return (0..<count).map { Int64(ElementType.load(UInt16.self, raw, $0, bigEndian)) }
        case .uint8, .bool:
            return (0..<count).map { Int64(raw[$0]) }
        default:
            return nil
        }
    }

    /// Element `index` of `raw` as an unsigned integer of width `T`, byte order applied.
    @inline(__always)
    private static func load<T: FixedWidthInteger>(
        _ type: T.Type, _ raw: UnsafeRawBufferPointer, _ index: Int, _ bigEndian: Bool
    ) -> T {
        let stored = raw.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self)
        return bigEndian ? T(bigEndian: stored) : T(littleEndian: stored)
    }

    /// IEEE 754 binary16 bits to Float (exact, including subnormals, infinities and NaN).
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = UInt32((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
