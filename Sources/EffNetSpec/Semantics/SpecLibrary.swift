/// All spec documents of a project, indexed by model name, and the resolution of one model:
/// follow its `base` chain, let nearer files override farther ones, check nothing required is
/// missing.
public struct SpecLibrary: Sendable {
    public private(set) var documents: [String: SpecDocument] = [:]

    public init(documents: [SpecDocument]) throws(SpecErrors) {
        var errors: [SpecError] = []
        for document in documents.sorted(by: { $0.file < $1.file }) {
            guard let model = document.model else {
                errors.append(SpecError(.missingStatement, at: SourceLocation(file: document.file, line: 1, column: 1),
                                        "the spec never names its model; expected `model <Name>`"))
                continue
            }
            if let existing = self.documents[model.value]?.model {
                errors.append(SpecError(.duplicateModel, at: model.location,
                                        "model `\(model.value)` is already defined at \(existing.location); model names must be unique"))
                continue
            }
            self.documents[model.value] = document
        }
        if !errors.isEmpty { throw SpecErrors(errors) }
    }

    public var modelNames: [String] { documents.keys.sorted() }

    public func resolve(_ name: String) throws(SpecErrors) -> ModelSpec {
        do {
            return try resolveOne(name)
        } catch {
            throw SpecErrors([error])
        }
    }

    private func resolveOne(_ name: String) throws(SpecError) -> ModelSpec {
        guard let document = documents[name] else {
            let known = modelNames.joined(separator: ", ")
            throw SpecError(.unknownBase, at: SourceLocation(file: "\(name).effnet", line: 1, column: 1),
                            "no spec defines model `\(name)`; known models: \(known)")
        }
        // The chain from this document to its root, checking for unknown and cyclic bases.
        var chain = [document]
        var seen: Set<String> = [name]
        while let base = chain.last!.base {
            guard let parent = documents[base.value] else {
                throw SpecError(.unknownBase, at: base.location,
                                "unknown base model `\(base.value)`; known models: \(modelNames.joined(separator: ", "))")
            }
            guard !seen.contains(base.value) else {
                let cycle = (chain.compactMap { $0.model?.value } + [base.value]).joined(separator: " -> ")
                throw SpecError(.cyclicBase, at: base.location, "cyclic base: \(cycle)")
            }
            seen.insert(base.value)
            chain.append(parent)
        }

        /// The nearest document that states a value wins.
        func inherited<T>(_ path: KeyPath<SpecDocument, Located<T>?>) -> Located<T>? {
            for document in chain { if let value = document[keyPath: path] { return value } }
            return nil
        }
        let modelLocation = document.model!.location
        func required<T>(_ path: KeyPath<SpecDocument, Located<T>?>, _ keyword: String) throws(SpecError) -> Located<T> {
            guard let value = inherited(path) else {
                let form = SpecParser.statementForms[keyword] ?? keyword
                throw SpecError(.missingStatement, at: modelLocation,
                                "model `\(name)` never states `\(keyword)` (nor does any base); expected `\(form)`")
            }
            return value
        }

        let stages = chain.first(where: { !$0.stages.isEmpty })?.stages ?? []
        guard !stages.isEmpty else {
            throw SpecError(.missingStatement, at: modelLocation,
                            "model `\(name)` has no stages (nor does any base); expected `\(SpecParser.statementForms["stage"]!)`")
        }
        let stem = try required(\.stem, "stem")
        let head = try required(\.head, "head")
        let classes = try required(\.classes, "classifier")
        let scaling = inherited(\.scaling)?.value ?? ModelSpec.Defaults.scaling

        /// How far up the chain (0 = this file) a statement was found.
        func depth<T>(_ path: KeyPath<SpecDocument, Located<T>?>) -> Int? {
            chain.firstIndex { $0[keyPath: path] != nil }
        }
        // Resolution: stated (here or by a base) unless this file asks for compound scaling
        // without stating it; then the root's resolution is scaled by gamma^phi (multiple of 8).
        let resolution: Int
        let resolutionDepth: Int
        if let own = document.resolution {
            (resolution, resolutionDepth) = (own.value, 0)
        } else if case .compound(let phi, _, _, let gamma)? = document.scaling?.value {
            let root = chain.last(where: { $0.resolution != nil })?.resolution
            guard let root else {
                throw SpecError(.missingStatement, at: modelLocation,
                                "model `\(name)` uses `scale phi` but no resolution to scale; expected `resolution <pixels>`")
            }
            (resolution, resolutionDepth) = (CompoundScaling.resolution(base: root.value, gamma: gamma, phi: phi), 0)
        } else {
            resolution = try required(\.resolution, "resolution").value
            resolutionDepth = depth(\.resolution) ?? 0
        }

        // The eval preset must crop to the compiled resolution. A preset stated no farther up
        // the chain than the resolution is checked; an older one (a base's, for another
        // resolution) is carried over with its resize/crop ratio.
        let preprocess: PreprocessStatement
        if let stated = inherited(\.preprocess), let statedDepth = depth(\.preprocess), statedDepth <= resolutionDepth {
            guard stated.value.crop == resolution else {
                throw SpecError(.invalidValue, at: stated.location,
                                "preprocess crops to \(stated.value.crop) but model `\(name)` is compiled for "
                                + "\(resolution)x\(resolution); expected `crop \(resolution)`")
            }
            preprocess = stated.value
        } else if let older = inherited(\.preprocess)?.value {
            let ratio = Double(older.resize) / Double(older.crop)
            preprocess = PreprocessStatement(resize: Int((Double(resolution) * ratio).rounded()), crop: resolution,
                                             normalization: older.normalization)
        } else {
            preprocess = PreprocessStatement(resize: resolution, crop: resolution, normalization: .imagenet)
        }

        return ModelSpec(
            name: name,
            file: document.file,
            baseChain: chain.dropFirst().map(\.file),
            resolution: resolution,
            scaling: scaling,
            dropout: inherited(\.dropout)?.value ?? ModelSpec.Defaults.dropout,
            activation: inherited(\.activation)?.value ?? ModelSpec.Defaults.activation,
            batchNorm: inherited(\.batchNorm)?.value ?? ModelSpec.Defaults.batchNorm,
            padding: inherited(\.padding)?.value ?? ModelSpec.Defaults.padding,
            stochasticDepth: inherited(\.stochasticDepth)?.value ?? ModelSpec.Defaults.stochasticDepth,
            inputChannels: inherited(\.inputChannels)?.value ?? ModelSpec.Defaults.inputChannels,
            stem: stem.value,
            stages: stages.map(\.value),
            head: head.value,
            classes: classes.value,
            preprocess: preprocess,
            stageLocations: stages.map(\.location)
        )
    }
}
