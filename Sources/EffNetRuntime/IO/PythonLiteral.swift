/// The subset of Python literal syntax used by `.npy` headers:
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([String: PythonLiteral])

    /// Parses `text` as a single literal; nil if it is not one (or has trailing garbage).
    static func parse(_ text: String) -> PythonLiteral? {
        var parser = Parser(bytes: Array(text.utf8))
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.position == parser.bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func consume(_ character: Character) -> Bool {
            skipSpace()
            guard position < bytes.count, bytes[position] == character.asciiValue! else { return false }
            position += 1
            return true
        }

        mutating func value() -> PythonLiteral? {
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return string().map(PythonLiteral.string)
            case UInt8(ascii: "("): return sequence(close: ")").map(PythonLiteral.tuple)
            case UInt8(ascii: "["): return sequence(close: "]").map(PythonLiteral.list)
            case UInt8(ascii: "{"): return dictionary()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return integer()
            default:
                for (word, literal) in [("True", PythonLiteral.boolean(true)), ("False", .boolean(false)), ("None", .none)]
                where bytes[position...].starts(with: word.utf8) {
                    position += word.utf8.count
                    return literal
                }
                return nil
            }
        }

        mutating func string() -> String? {
            let quote = bytes[position]
            position += 1
            var content: [UInt8] = []
            while position < bytes.count, bytes[position] != quote {
                if bytes[position] == UInt8(ascii: "\\"), position + 1 < bytes.count { position += 1 }
                content.append(bytes[position])
                position += 1
            }
            guard position < bytes.count else { return nil }
            position += 1
            return String(decoding: content, as: UTF8.self)
        }

        mutating func integer() -> PythonLiteral? {
            let start = position
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                position += 1
            }
            guard let number = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else { return nil }
            if position < bytes.count, bytes[position] == UInt8(ascii: "L") { position += 1 }  // Python 2 long
            return .integer(number)
        }

        mutating func sequence(close: Character) -> [PythonLiteral]? {
            position += 1
            var items: [PythonLiteral] = []
            while true {
                if consume(close) { return items }
                guard let item = value() else { return nil }
                items.append(item)
                if consume(close) { return items }
                guard consume(",") else { return nil }
            }
        }

        mutating func dictionary() -> PythonLiteral? {
            position += 1
            var items: [String: PythonLiteral] = [:]
            while true {
                if consume("}") { return .dictionary(items) }
                guard case .string(let key)? = value(), consume(":"), let item = value() else { return nil }
                items[key] = item
                if consume("}") { return .dictionary(items) }
                guard consume(",") else { return nil }
            }
        }
    }
}
