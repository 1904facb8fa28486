import Foundation

extension ImageFolder {
    /// Splits the samples into a training and a validation set, stratified by class.
    ///
    /// For each class with `n` samples, `round(n * validationFraction)` of them (at least one
    /// when `n >= 2` and the fraction is positive, never all of them) go to validation, chosen
    /// by a shuffle seeded with `seed` and the class index; a class with a single image stays
    /// in training. The result depends only on the sample list and `seed`. Both sets keep all
    /// classes (so labels mean the same) and the original sample order.
    public func split(validationFraction: Double, seed: UInt64) throws -> (train: ImageFolder, validation: ImageFolder) {
        guard validationFraction >= 0, validationFraction < 1 else {
            throw DatasetError.invalidValidationFraction(validationFraction)
        }
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (i, s) in samples.enumerated() { byClass[s.label].append(i) }

        var isValidation = [Bool](repeating: false, count: samples.count)
        for (label, members) in byClass.enumerated() {
            let n = members.count
            guard n >= 2, validationFraction > 0 else { continue }
            let take = min(n - 1, max(1, Int((Double(n) * validationFraction).rounded())))
            var rng = SplitMix64(seed: seed, stream: UInt64(label))
            var order = members
            // Fisher-Yates; the first `take` entries become validation.
            for i in 0..<take {
                let j = i + rng.int(below: n - i)
                order.swapAt(i, j)
            }
            for i in order.prefix(take) { isValidation[i] = true }
        }
        let all = samples.indices
        return (subset(all.filter { !isValidation[$0] }), subset(all.filter { isValidation[$0] }))
    }

    /// Folder names recognised as the validation half of a `train/` + `val/` layout.
    public static let validationFolderNames = ["val", "validation"]

    /// The training and (when present) validation sets of a dataset folder:
    ///
    /// - `root/train/` and `root/val/` (or `root/validation/`) both exist: they are scanned as
    ///   two ``ImageFolder``s, whose class lists must be identical (``DatasetError/classMismatch``
    ///   otherwise), and validation is returned.
    /// - only `root/train/` exists and it is the only folder of `root`: it is the training set;
    ///   validation is nil.
    /// - otherwise `root` itself is the training set (its subfolders are classes); validation is nil.
    public static func trainAndValidation(
        root: URL, extensions: [String] = ImageFolder.defaultExtensions
    ) throws -> (train: ImageFolder, validation: ImageFolder?) {
        let trainURL = root.appendingPathComponent("train")
        if isDirectory(root), isDirectory(trainURL) {
            if let valURL = validationFolderNames.map({ root.appendingPathComponent($0) }).first(where: isDirectory) {
                let train = try ImageFolder(root: trainURL, extensions: extensions)
                let validation = try ImageFolder(root: valURL, extensions: extensions)
                guard train.classes == validation.classes else {
                    let t = Set(train.classes), v = Set(validation.classes)
                    throw DatasetError.classMismatch(
                        train: trainURL, validation: valURL,
                        onlyInTrain: train.classes.filter { !v.contains($0) },
                        onlyInValidation: validation.classes.filter { !t.contains($0) })
                }
                return (train, validation)
            }
            if try listing(root).filter({ isDirectory(root.appendingPathComponent($0)) }) == ["train"] {
                return (try ImageFolder(root: trainURL, extensions: extensions), nil)
            }
        }
        return (try ImageFolder(root: root, extensions: extensions), nil)
    }

    /// Like ``trainAndValidation(root:extensions:)``, but when the folder has no validation
    /// half, validation is split off the training set with ``split(validationFraction:seed:)``.
    public static func trainAndValidation(
        root: URL, validationFraction: Double, seed: UInt64, extensions: [String] = ImageFolder.defaultExtensions
    ) throws -> (train: ImageFolder, validation: ImageFolder) {
        let found = try trainAndValidation(root: root, extensions: extensions)
        if let validation = found.validation { return (found.train, validation) }
        return try found.train.split(validationFraction: validationFraction, seed: seed)
    }
}
