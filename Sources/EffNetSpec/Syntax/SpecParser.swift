/// Parses the text of one spec file into a `SpecDocument`.
///
/// The grammar is line-oriented: one statement per line, a keyword first, `#` starts a comment.
/// The parser checks everything that can be judged from a single line (numbers, kernel parity,
/// strides, ratios, counts); cross-file rules (`base`, missing statements) are the resolver's.
public enum SpecParser {
    /// The grammar, as shown to users in error messages and in the README.
    public static let statementForms: [String: String] = [
        "model": "model <Name>",
        "base": "base <Name>",
        "resolution": "resolution <pixels>",
        "scale": "scale width <w> depth <d>   or   scale phi <phi> [alpha <a>] [beta <b>] [gamma <g>]",
        "dropout": "dropout <probability>",
        "activation": "activation silu|relu6",
        "norm": "norm batchnorm eps <eps> momentum <momentum>",
        "padding": "padding symmetric|tf-same",
        "stochastic-depth": "stochastic-depth <probability>",
        "input": "input channels <count>",
        "stem": "stem conv <k>x<k> stride <1|2> channels <count> [fixed]",
        "stage": "stage mbconv <expand> <kernel> <stride> <channels> <repeats> <se-ratio|none> [fixed-repeats]",
        "head": "head conv 1x1 channels <count> [fixed]   or   head conv 1x1 expand <ratio>",
        "classifier": "classifier classes <count>",
        "preprocess": "preprocess resize <pixels> crop <pixels> normalize imagenet|lite",
    ]

    public static func parse(_ text: String, file: String) throws(SpecErrors) -> SpecDocument {
        var document = SpecDocument(file: file)
        var errors: [SpecError] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = SpecLexer.words(in: line)
            guard !words.isEmpty else { continue }
            var statement = StatementReader(file: file, line: index + 1, words: words, lineLength: line.count)
            do {
                try parseStatement(&statement, into: &document)
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw SpecErrors(errors) }
        return document
    }

    private static func parseStatement(_ s: inout StatementReader, into d: inout SpecDocument) throws(SpecError) {
        let keyword = s.keyword
        let here = s.location(of: 0)
        func once<T>(_ existing: Located<T>?) throws(SpecError) {
            if let existing {
                throw SpecError(.duplicateStatement, at: here,
                                "`\(keyword)` is already given at line \(existing.location.line); state it once")
            }
        }
        switch keyword {
        case "model":
            try once(d.model)
            d.model = Located(try s.identifier("model name"), at: here)
        case "base":
            try once(d.base)
            d.base = Located(try s.identifier("base model name"), at: here)
        case "resolution":
            try once(d.resolution)
            d.resolution = Located(try s.positiveInteger("resolution"), at: here)
        case "scale":
            try once(d.scaling)
            d.scaling = Located(try parseScale(&s), at: here)
        case "dropout":
            try once(d.dropout)
            d.dropout = Located(try s.probability("dropout"), at: here)
        case "activation":
            try once(d.activation)
            d.activation = Located(try s.choice(ActivationKind.self, "activation"), at: here)
        case "norm":
            try once(d.batchNorm)
            try s.expect("batchnorm")
            try s.expect("eps")
            let eps = try s.positiveNumber("eps")
            try s.expect("momentum")
            let momentum = try s.probability("momentum")
            d.batchNorm = Located(BatchNormStatement(eps: eps, momentum: momentum), at: here)
        case "padding":
            try once(d.padding)
            d.padding = Located(try s.choice(PaddingMode.self, "padding"), at: here)
        case "stochastic-depth":
            try once(d.stochasticDepth)
            d.stochasticDepth = Located(try s.probability("stochastic-depth"), at: here)
        case "input":
            try once(d.inputChannels)
            try s.expect("channels")
            d.inputChannels = Located(try s.positiveInteger("input channels"), at: here)
        case "stem":
            try once(d.stem)
            try s.expect("conv")
            let kernel = try s.squareKernel()
            try s.expect("stride")
            let stride = try s.stride()
            try s.expect("channels")
            let channels = try s.positiveInteger("stem channels")
            let fixed = try s.optionalFlag("fixed")
            d.stem = Located(StemStatement(kernel: kernel, stride: stride, channels: channels, fixed: fixed), at: here)
        case "stage":
            try s.expect("mbconv")
            let expand = try s.positiveNumber("expand")
            let kernel = try s.oddKernel("kernel")
            let stride = try s.stride()
            let channels = try s.positiveInteger("channels")
            let repeats = try s.positiveInteger("repeats")
            let se = try s.seRatio()
            let fixedRepeats = try s.optionalFlag("fixed-repeats")
            d.stages.append(Located(StageStatement(expand: expand, kernel: kernel, stride: stride, channels: channels,
                                                   repeats: repeats, seRatio: se, fixedRepeats: fixedRepeats), at: here))
        case "head":
            try once(d.head)
            try s.expect("conv")
            let kernel = try s.squareKernel()
            if kernel != 1 {
                throw SpecError(.invalidValue, at: s.location(of: 2), "the head is a 1x1 convolution; expected `1x1`")
            }
            let form = try s.oneOf(["channels", "expand"], field: "head size")
            if form == "channels" {
                let channels = try s.positiveInteger("head channels")
                d.head = Located(.channels(channels, fixed: try s.optionalFlag("fixed")), at: here)
            } else {
                d.head = Located(.expand(try s.positiveInteger("head expand ratio")), at: here)
            }
        case "classifier":
            try once(d.classes)
            try s.expect("classes")
            d.classes = Located(try s.positiveInteger("classes"), at: here)
        case "preprocess":
            try once(d.preprocess)
            try s.expect("resize")
            let resize = try s.positiveInteger("resize")
            try s.expect("crop")
            let crop = try s.positiveInteger("crop")
            try s.expect("normalize")
            let normalization = try s.choice(InputNormalization.self, "normalize")
            d.preprocess = Located(PreprocessStatement(resize: resize, crop: crop, normalization: normalization), at: here)
        default:
            let known = statementForms.keys.sorted().joined(separator: ", ")
            throw SpecError(.unknownKeyword, at: here, "unknown keyword `\(keyword)`; expected one of: \(known)")
        }
        try s.expectEnd()
    }

    private static func parseScale(_ s: inout StatementReader) throws(SpecError) -> ScalingStatement {
        let first = try s.oneOf(["width", "depth", "phi"], field: "scaling")
        if first == "phi" {
            let phi = try s.number("phi")
            var alpha = 1.2, beta = 1.1, gamma = 1.15
            while let key = s.peek {
                switch key {
                case "alpha": s.skip(); alpha = try s.positiveNumber("alpha")
                case "beta": s.skip(); beta = try s.positiveNumber("beta")
                case "gamma": s.skip(); gamma = try s.positiveNumber("gamma")
                default:
                    throw SpecError(.unexpectedField, at: s.location(of: s.position),
                                    "unexpected `\(key)` in compound scaling; expected alpha, beta or gamma")
                }
            }
            return .compound(phi: phi, alpha: alpha, beta: beta, gamma: gamma)
        }
        var width: Double?
        var depth: Double?
        var key = first
        while true {
            let value = try s.positiveNumber(key)
            if key == "width" { width = value } else { depth = value }
            guard s.peek != nil else { break }
            key = try s.oneOf(width == nil ? ["width"] : ["depth"], field: "scaling")
        }
        guard let width, let depth else {
            throw SpecError(.missingField, at: s.endLocation,
                            "missing `\(width == nil ? "width" : "depth")`; expected `\(statementForms["scale"]!)`")
        }
        return .multipliers(width: width, depth: depth)
    }
}

/// Reads the words of one statement left to right and turns each problem into a located error.
struct StatementReader {
    let file: String
    let line: Int
    let words: [Word]
    let lineLength: Int
    var position = 1

    init(file: String, line: Int, words: [Word], lineLength: Int) {
        self.file = file
        self.line = line
        self.words = words
        self.lineLength = lineLength
    }

    var keyword: String { words[0].text }
    var form: String { SpecParser.statementForms[keyword] ?? keyword }
    var peek: String? { position < words.count ? words[position].text : nil }
    mutating func skip() { position += 1 }

    func location(of index: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: index < words.count ? words[index].column : endColumn)
    }

    /// Just past the last word: where a missing field would have been written.
    var endColumn: Int {
        guard let last = words.last else { return 1 }
        return last.column + last.text.count + 1
    }
    var endLocation: SourceLocation { SourceLocation(file: file, line: line, column: endColumn) }

    mutating func next(_ field: String) throws(SpecError) -> (String, SourceLocation) {
        guard position < words.count else {
            throw SpecError(.missingField, at: endLocation, "missing \(field); expected `\(form)`")
        }
        defer { position += 1 }
        return (words[position].text, location(of: position))
    }

    mutating func expect(_ literal: String) throws(SpecError) {
        let (word, at) = try next("`\(literal)`")
        if word != literal {
            throw SpecError(.unexpectedField, at: at, "expected `\(literal)` but found `\(word)`; the form is `\(form)`")
        }
    }

    mutating func oneOf(_ options: [String], field: String) throws(SpecError) -> String {
        let (word, at) = try next(field)
        guard options.contains(word) else {
            let list = options.map { "`\($0)`" }.joined(separator: " or ")
            throw SpecError(.unexpectedField, at: at, "expected \(list) but found `\(word)`; the form is `\(form)`")
        }
        return word
    }

    mutating func optionalFlag(_ flag: String) throws(SpecError) -> Bool {
        guard let word = peek else { return false }
        if word == flag {
            skip()
            return true
        }
        throw SpecError(.unexpectedField, at: location(of: position),
                        "unexpected `\(word)`; only `\(flag)` may follow here; the form is `\(form)`")
    }

    func expectEnd() throws(SpecError) {
        if position < words.count {
            throw SpecError(.unexpectedField, at: location(of: position),
                            "unexpected `\(words[position].text)` after the statement; the form is `\(form)`")
        }
    }

    mutating func identifier(_ field: String) throws(SpecError) -> String {
        let (word, at) = try next(field)
        let isIdentifier = word.first.map { $0.isLetter || $0 == "_" } == true
            && word.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII }
        guard isIdentifier else {
            throw SpecError(.invalidValue, at: at,
                            "`\(word)` is not a valid \(field); use letters, digits and `_` (it becomes a Swift module name)")
        }
        return word
    }

    mutating func number(_ field: String) throws(SpecError) -> Double {
        let (word, at) = try next(field)
        guard let value = Double(word), value.isFinite else {
            throw SpecError(.notANumber, at: at, "\(field) must be a number, found `\(word)`")
        }
        return value
    }

    mutating func positiveNumber(_ field: String) throws(SpecError) -> Double {
        let at = location(of: position)
        let value = try number(field)
        guard value > 0 else { throw SpecError(.invalidValue, at: at, "\(field) must be greater than 0, found \(value)") }
        return value
    }

    mutating func probability(_ field: String) throws(SpecError) -> Double {
        let at = location(of: position)
        let value = try number(field)
        guard value >= 0, value < 1 else {
            throw SpecError(.invalidValue, at: at, "\(field) must be in [0, 1), found \(value)")
        }
        return value
    }

    mutating func integer(_ field: String) throws(SpecError) -> Int {
        let (word, at) = try next(field)
        guard let value = Int(word) else {
            let kind: SpecError.Kind = Double(word) == nil ? .notANumber : .invalidValue
            throw SpecError(kind, at: at, "\(field) must be a whole number, found `\(word)`")
        }
        return value
    }

    mutating func positiveInteger(_ field: String) throws(SpecError) -> Int {
        let at = location(of: position)
        let value = try integer(field)
        guard value > 0 else { throw SpecError(.zeroCount, at: at, "\(field) must be at least 1, found \(value)") }
        return value
    }

    mutating func stride() throws(SpecError) -> Int {
        let at = location(of: position)
        let value = try integer("stride")
        guard value == 1 || value == 2 else {
            throw SpecError(.invalidStride, at: at, "stride must be 1 or 2, found \(value)")
        }
        return value
    }

    mutating func oddKernel(_ field: String) throws(SpecError) -> Int {
        let at = location(of: position)
        let value = try positiveInteger(field)
        guard value % 2 == 1 else {
            throw SpecError(.evenKernel, at: at,
                            "\(field) must be odd so that padding is symmetric (e.g. 3 or 5), found \(value)")
        }
        return value
    }

    /// `3x3`: square and odd.
    mutating func squareKernel() throws(SpecError) -> Int {
        let (word, at) = try next("kernel size")
        let parts = word.split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let h = Int(parts[0]), let w = Int(parts[1]) else {
            throw SpecError(.notANumber, at: at, "kernel size must look like `3x3`, found `\(word)`")
        }
        guard h == w else { throw SpecError(.invalidValue, at: at, "only square kernels are supported, found `\(word)`") }
        guard h > 0 else { throw SpecError(.zeroCount, at: at, "kernel size must be at least 1, found `\(word)`") }
        guard h % 2 == 1 else {
            throw SpecError(.evenKernel, at: at, "kernel size must be odd (e.g. 3x3), found `\(word)`")
        }
        return h
    }

    mutating func seRatio() throws(SpecError) -> Double? {
        let (word, at) = try next("se ratio")
        if word == "none" || word == "-" { return nil }
        guard let value = Double(word), value.isFinite else {
            throw SpecError(.notANumber, at: at, "se ratio must be a number in (0, 1] or `none`, found `\(word)`")
        }
        guard value > 0, value <= 1 else {
            throw SpecError(.seRatioOutOfRange, at: at,
                            "se ratio must be in (0, 1], found \(word); write `none` for a block without squeeze-excitation")
        }
        return value
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ field: String) throws(SpecError) -> T
    where T.RawValue == String {
        let (word, at) = try next(field)
        guard let value = T(rawValue: word) else {
            let options = T.allCases.map { "`\($0.rawValue)`" }.joined(separator: " or ")
            throw SpecError(.invalidValue, at: at, "unknown \(field) `\(word)`; expected \(options)")
        }
        return value
    }
}
