import Foundation

/// A labelled image dataset laid out like torchvision's `ImageFolder`: one subfolder of `root`
/// per class, images anywhere below it.
///
///     root/cat/001.jpg
///     root/cat/more/002.png
///     root/dog/a.JPEG
///
/// torchvision semantics: class names are the subfolder names sorted by code point (Python's
/// `sorted`), labels are their positions in that list, and each class folder is walked
/// recursively with folders and files visited in sorted order, so `samples` is the same list
/// torchvision builds. Differences: only `jpg`, `jpeg` and `png` files (any letter case) are
/// taken, and hidden entries (names starting with `.`, e.g. `.DS_Store` or
/// `.ipynb_checkpoints`) are ignored, both as classes and as files. Class folders without images
/// are kept as classes (their label exists but has no samples) and listed in ``emptyClasses``.
///
/// Listing the files does not open them; unreadable or corrupt images are found (and skipped)
/// by ``BatchLoader``.
public struct ImageFolder: Sendable, CustomStringConvertible {
    /// One image and its class index.
    public typealias Sample = (url: URL, label: Int)

    /// File extensions taken by default (compared case-insensitively).
    public static let defaultExtensions = ["jpg", "jpeg", "png"]

    /// The dataset folder.
    public let root: URL
    /// Class names (sorted subfolder names); a label is an index into this array.
    public let classes: [String]
    /// Every image with its label, sorted by class then path.
    public let samples: [Sample]
    /// Number of samples of each class, indexed by label.
    public let counts: [Int]

    /// Scans `root` (see the type documentation for the layout).
    public init(root: URL, extensions: [String] = ImageFolder.defaultExtensions) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory) else { throw DatasetError.rootNotFound(root) }
        guard isDirectory.boolValue else { throw DatasetError.rootNotADirectory(root) }

        let classNames = try ImageFolder.listing(root).filter { ImageFolder.isDirectory(root.appendingPathComponent($0)) }
        guard !classNames.isEmpty else { throw DatasetError.noClassFolders(root) }

        let allowed = Set(extensions.map { $0.lowercased() })
        var samples: [Sample] = []
        for (label, name) in classNames.enumerated() {
            for url in try ImageFolder.imageFiles(in: root.appendingPathComponent(name), extensions: allowed) {
                samples.append((url, label))
            }
        }
        guard !samples.isEmpty else {
            throw DatasetError.noImages(root, classCount: classNames.count, extensions: extensions)
        }
        self.init(root: root, classes: classNames, samples: samples)
    }

    /// A dataset over given samples (a subset, a split, or a hand-made list). Labels must index
    /// `classes`.
    public init(root: URL, classes: [String], samples: [Sample]) {
        var counts = [Int](repeating: 0, count: classes.count)
        for s in samples {
            precondition(s.label >= 0 && s.label < classes.count,
                         "ImageFolder: label \(s.label) of \(s.url.lastPathComponent) is not a class index (\(classes.count) classes)")
            counts[s.label] += 1
        }
        self.root = root
        self.classes = classes
        self.samples = samples
        self.counts = counts
    }

    /// Number of samples.
    public var count: Int { samples.count }

    /// Class folders holding no image (kept as labels without samples).
    public var emptyClasses: [String] { classes.indices.filter { counts[$0] == 0 }.map { classes[$0] } }

    /// Sample count of each class by name.
    public var countsByClass: [String: Int] {
        Dictionary(uniqueKeysWithValues: zip(classes, counts))
    }

    /// The samples at `indices` (same classes, so labels keep their meaning).
    public func subset<S: Sequence>(_ indices: S) -> ImageFolder where S.Element == Int {
        ImageFolder(root: root, classes: classes, samples: indices.map { samples[$0] })
    }

    public var description: String {
        var text = "ImageFolder(\(root.path): \(samples.count) images in \(classes.count) classes"
        let empty = emptyClasses
        if !empty.isEmpty { text += "; empty: \(empty.joined(separator: ", "))" }
        return text + ")"
    }

    // MARK: - Scanning

    /// Non-hidden entry names of `folder`, sorted by code point.
    static func listing(_ folder: URL) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw DatasetError.unreadableDirectory(folder, reason: error.localizedDescription)
        }
        return names.filter { !$0.hasPrefix(".") }.sorted(by: codePointLess)
    }

    /// Whether `url` is a folder (following symbolic links).
    static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Image files below `folder` in torchvision's order: `sorted(os.walk(folder))` visits the
    /// folders sorted by path, and each folder's files sorted by name.
    static func imageFiles(in folder: URL, extensions: Set<String>) throws -> [URL] {
        // Collect every folder (depth first, symbolic links followed, cycles cut).
        var folders: [(path: String, url: URL)] = []
        var seen: Set<String> = []
        var stack = [folder]
        var filesByFolder: [String: [URL]] = [:]
        while let dir = stack.popLast() {
            guard seen.insert(dir.resolvingSymlinksInPath().path).inserted else { continue }
            folders.append((dir.path, dir))
            var files: [URL] = []
            for name in try listing(dir) {
                let url = dir.appendingPathComponent(name)
                if isDirectory(url) {
                    stack.append(url)
                } else if let dot = name.lastIndex(of: "."), dot != name.startIndex,
                          extensions.contains(name[name.index(after: dot)...].lowercased()),
                          FileManager.default.fileExists(atPath: url.path) {
                    files.append(url)
                }
            }
            filesByFolder[dir.path] = files
        }
        return folders.sorted { codePointLess($0.path, $1.path) }.flatMap { filesByFolder[$0.path] ?? [] }
    }
}

/// Python's string order (by Unicode code point, no normalisation).
func codePointLess(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
}
