import Foundation

/// Why a dataset folder could not be used; every case names the folder involved.
public enum DatasetError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The root folder does not exist.
    case rootNotFound(URL)
    /// The root exists but is a file, not a folder.
    case rootNotADirectory(URL)
    /// A folder could not be listed (permissions, I/O error).
    case unreadableDirectory(URL, reason: String)
    /// The root has no (non-hidden) subfolders, so there are no classes.
    case noClassFolders(URL)
    /// Class folders exist but none of them holds an image file.
    case noImages(URL, classCount: Int, extensions: [String])
    /// `train/` and `val/` folders whose class lists differ.
    case classMismatch(train: URL, validation: URL, onlyInTrain: [String], onlyInValidation: [String])
    /// A validation fraction outside `0 ..< 1`.
    case invalidValidationFraction(Double)

    public var description: String {
        switch self {
        case .rootNotFound(let url):
            return "dataset folder \(url.path) does not exist"
        case .rootNotADirectory(let url):
            return "dataset root \(url.path) is a file, not a folder (expected one subfolder per class)"
        case .unreadableDirectory(let url, let reason):
            return "cannot list \(url.path): \(reason)"
        case .noClassFolders(let url):
            return "dataset folder \(url.path) has no class subfolders (expected root/<class>/<image>)"
        case .noImages(let url, let classCount, let extensions):
            return "dataset folder \(url.path) has \(classCount) class folder\(classCount == 1 ? "" : "s") but no images"
                + " (looked for files ending in \(extensions.map { "." + $0 }.joined(separator: ", ")))"
        case .classMismatch(let train, let validation, let onlyInTrain, let onlyInValidation):
            var parts: [String] = []
            if !onlyInTrain.isEmpty { parts.append("only in \(train.lastPathComponent): \(onlyInTrain.joined(separator: ", "))") }
            if !onlyInValidation.isEmpty {
                parts.append("only in \(validation.lastPathComponent): \(onlyInValidation.joined(separator: ", "))")
            }
            return "class folders of \(train.path) and \(validation.path) differ (\(parts.joined(separator: "; ")))"
        case .invalidValidationFraction(let f):
            return "validation fraction \(f) is outside 0 ..< 1"
        }
    }

    public var errorDescription: String? { description }
}
