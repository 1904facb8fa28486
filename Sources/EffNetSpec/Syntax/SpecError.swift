/// A problem in a spec, reported the way compilers do: `file:line:column: error: message`.
///
/// Messages say what is wrong and what was expected, so a user can fix a spec without reading
/// the parser.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case unknownKeyword
        case missingField
        case unexpectedField
        case notANumber
        case invalidValue
        case evenKernel
        case invalidStride
        case seRatioOutOfRange
        case zeroCount
        case missingStatement
        case duplicateStatement
        case unknownBase
        case cyclicBase
        case duplicateModel
        case unreadableFile
    }

    public var kind: Kind
    public var location: SourceLocation
    public var message: String

    public init(_ kind: Kind, at location: SourceLocation, _ message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): error: \(message)" }
}

/// Several errors at once: the parser keeps going after the first problem so one run shows
/// everything that needs fixing.
public struct SpecErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [SpecError]

    public init(_ errors: [SpecError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
