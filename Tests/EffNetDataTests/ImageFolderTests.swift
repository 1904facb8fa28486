import EffNetData
import Foundation
import XCTest

/// A temporary folder tree for dataset tests, deleted at deinit.
final class TemporaryTree {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("effnet-data-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Creates `relative` (and its folders) holding `bytes`.
    @discardableResult
    func file(_ relative: String, _ bytes: Data = Data([0xFF, 0xD8, 0xFF])) throws -> URL {
        let url = self.url(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: url)
        return url
    }

    /// Creates `relative` as a copy of a committed fixture image (Tests/Fixtures/data/images).
    @discardableResult
    func copy(_ fixture: String, to relative: String) throws -> URL {
        try file(relative, Data(contentsOf: Fixtures.image(fixture)))
    }

    func folder(_ relative: String) throws {
        try FileManager.default.createDirectory(at: url(relative), withIntermediateDirectories: true)
    }
}

final class ImageFolderTests: XCTestCase {
    private func names(_ folder: ImageFolder) -> [String] {
        let base = folder.root.standardizedFileURL.path + "/"
        return folder.samples.map { String($0.url.standardizedFileURL.path.dropFirst(base.count)) }
    }

    func testClassesAreSortedSubfolderNamesAndLabelsFollowThem() throws {
        let tree = try TemporaryTree()
        for name in ["dog", "Cat", "bird", "ant_2", "bird-house"] { try tree.file("\(name)/x.jpg") }
        try tree.file(".hidden/x.jpg")           // hidden folders are not classes
        try tree.file("notes.txt", Data("hi".utf8))  // files in the root are not classes
        try tree.file("stray.jpg")
        let folder = try ImageFolder(root: tree.root)
        // Python's sorted(): by code point, upper case first, '-' (0x2D) before letters.
        XCTAssertEqual(folder.classes, ["Cat", "ant_2", "bird", "bird-house", "dog"])
        XCTAssertEqual(folder.samples.map(\.label), [0, 1, 2, 3, 4])
        XCTAssertEqual(names(folder), ["Cat/x.jpg", "ant_2/x.jpg", "bird/x.jpg", "bird-house/x.jpg", "dog/x.jpg"])
        XCTAssertEqual(folder.counts, [1, 1, 1, 1, 1])
        XCTAssertEqual(folder.countsByClass["dog"], 1)
    }

    func testSamplesAreSortedAndSubfoldersAreWalkedLikeTorchvision() throws {
        let tree = try TemporaryTree()
        for name in ["b.jpg", "a.png", "B.jpg", "a b.jpg", "sub/c.jpg", "sub/a.jpg", "sub-x/z.jpg", "sub/deep/y.png"] {
            try tree.file("cls/\(name)")
        }
        let folder = try ImageFolder(root: tree.root)
        // sorted(os.walk(...)): folders by path ("cls/sub-x" < "cls/sub/deep" since '-' < '/'),
        // files sorted within each folder (checked against Python 3).
        XCTAssertEqual(names(folder), [
            "cls/B.jpg", "cls/a b.jpg", "cls/a.png", "cls/b.jpg",
            "cls/sub/a.jpg", "cls/sub/c.jpg", "cls/sub-x/z.jpg", "cls/sub/deep/y.png",
        ])
    }

    func testOnlyJPEGAndPNGExtensionsAreTakenCaseInsensitively() throws {
        let tree = try TemporaryTree()
        for name in ["a.JPG", "b.Jpeg", "c.PNG", "d.jpg", "e.gif", "f.txt", "g.jpg.bak", "jpg", ".h.jpg", "i.webp", "j.jpeg"] {
            try tree.file("cls/\(name)")
        }
        let folder = try ImageFolder(root: tree.root)
        XCTAssertEqual(names(folder), ["cls/a.JPG", "cls/b.Jpeg", "cls/c.PNG", "cls/d.jpg", "cls/j.jpeg"])
        let onlyPNG = try ImageFolder(root: tree.root, extensions: ["png"])
        XCTAssertEqual(names(onlyPNG), ["cls/c.PNG"])
    }

    func testEmptyClassFoldersAreKeptAndReported() throws {
        let tree = try TemporaryTree()
        try tree.file("a/1.jpg")
        try tree.folder("b")
        try tree.file("c/readme.txt", Data("no images".utf8))
        try tree.file("d/2.png")
        let folder = try ImageFolder(root: tree.root)
        XCTAssertEqual(folder.classes, ["a", "b", "c", "d"])
        XCTAssertEqual(folder.samples.map(\.label), [0, 3])
        XCTAssertEqual(folder.counts, [1, 0, 0, 1])
        XCTAssertEqual(folder.emptyClasses, ["b", "c"])
        XCTAssertTrue(folder.description.contains("empty: b, c"), folder.description)
    }

    func testMissingRootIsAClearError() throws {
        let tree = try TemporaryTree()
        let missing = tree.url("nope")
        XCTAssertThrowsError(try ImageFolder(root: missing)) { error in
            XCTAssertEqual(error as? DatasetError, .rootNotFound(missing))
            XCTAssertTrue("\(error)".contains("does not exist") && "\(error)".contains(missing.path), "\(error)")
        }
    }

    func testRootThatIsAFileIsAClearError() throws {
        let tree = try TemporaryTree()
        let file = try tree.file("data.jpg")
        XCTAssertThrowsError(try ImageFolder(root: file)) { error in
            XCTAssertEqual(error as? DatasetError, .rootNotADirectory(file))
        }
    }

    func testRootWithoutClassFoldersIsAClearError() throws {
        let tree = try TemporaryTree()
        XCTAssertThrowsError(try ImageFolder(root: tree.root)) { error in
            XCTAssertEqual(error as? DatasetError, .noClassFolders(tree.root))
            XCTAssertTrue("\(error)".contains("no class subfolders"), "\(error)")
        }
        try tree.file("loose.jpg")   // images directly in the root do not make classes
        try tree.file(".git/x.jpg")  // nor do hidden folders
        XCTAssertThrowsError(try ImageFolder(root: tree.root)) { error in
            XCTAssertEqual(error as? DatasetError, .noClassFolders(tree.root))
        }
    }

    func testClassFoldersWithoutImagesAreAClearError() throws {
        let tree = try TemporaryTree()
        try tree.folder("a")
        try tree.file("b/notes.txt", Data("x".utf8))
        XCTAssertThrowsError(try ImageFolder(root: tree.root)) { error in
            XCTAssertEqual(error as? DatasetError, .noImages(tree.root, classCount: 2, extensions: ["jpg", "jpeg", "png"]))
            XCTAssertTrue("\(error)".contains("2 class folders but no images"), "\(error)")
        }
    }

    // MARK: - Splits

    private func dataset(_ counts: [String: Int]) throws -> (TemporaryTree, ImageFolder) {
        let tree = try TemporaryTree()
        for (name, n) in counts {
            if n == 0 { try tree.folder(name) }
            for i in 0..<n { try tree.file("\(name)/\(String(format: "%03d", i)).jpg") }
        }
        return (tree, try ImageFolder(root: tree.root))
    }

    func testSplitIsStratifiedPerClass() throws {
        let (tree, folder) = try dataset(["a": 10, "b": 3, "c": 2, "d": 1, "e": 0, "f": 40])
        _ = tree
        let (train, validation) = try folder.split(validationFraction: 0.2, seed: 7)
        XCTAssertEqual(validation.counts, [2, 1, 1, 0, 0, 8])  // round(n/5), >= 1 when n >= 2
        XCTAssertEqual(train.counts, [8, 2, 1, 1, 0, 32])
        XCTAssertEqual(train.classes, folder.classes)
        XCTAssertEqual(validation.classes, folder.classes)
        // Disjoint, complete, and each half keeps the original order.
        let trainPaths = train.samples.map(\.url.path), validationPaths = validation.samples.map(\.url.path)
        XCTAssertTrue(Set(trainPaths).isDisjoint(with: validationPaths))
        XCTAssertEqual(Set(trainPaths + validationPaths), Set(folder.samples.map(\.url.path)))
        XCTAssertEqual(trainPaths, folder.samples.map(\.url.path).filter(Set(trainPaths).contains))
        for s in train.samples + validation.samples {
            XCTAssertEqual(folder.classes[s.label], s.url.deletingLastPathComponent().lastPathComponent)
        }
        // Never all of a class, even with a large fraction.
        let (_, most) = try folder.split(validationFraction: 0.99, seed: 7)
        XCTAssertEqual(most.counts, [9, 2, 1, 0, 0, 39])
        // Fraction 0: nothing held out.
        XCTAssertEqual(try folder.split(validationFraction: 0, seed: 7).validation.count, 0)
    }

    func testSplitIsDeterministicGivenTheSeed() throws {
        let (tree, folder) = try dataset(["a": 30, "b": 20])
        _ = tree
        let one = try folder.split(validationFraction: 0.3, seed: 42)
        let two = try folder.split(validationFraction: 0.3, seed: 42)
        XCTAssertEqual(one.validation.samples.map(\.url), two.validation.samples.map(\.url))
        XCTAssertEqual(one.train.samples.map(\.url), two.train.samples.map(\.url))
        // A rescan of the same folder gives the same split too.
        let rescanned = try ImageFolder(root: tree.root).split(validationFraction: 0.3, seed: 42)
        XCTAssertEqual(one.validation.samples.map(\.url), rescanned.validation.samples.map(\.url))
        let other = try folder.split(validationFraction: 0.3, seed: 43)
        XCTAssertEqual(other.validation.counts, one.validation.counts)
        XCTAssertNotEqual(other.validation.samples.map(\.url), one.validation.samples.map(\.url))
    }

    func testSplitRejectsFractionsOutsideZeroToOne() throws {
        let (tree, folder) = try dataset(["a": 3])
        _ = tree
        for f in [-0.1, 1.0, 1.5, Double.nan] {
            XCTAssertThrowsError(try folder.split(validationFraction: f, seed: 0), "\(f)")
        }
    }

    // MARK: - train/ + val/ folders

    func testTrainAndValFoldersAreUsedWhenBothExist() throws {
        let tree = try TemporaryTree()
        for name in ["train/cat/1.jpg", "train/cat/2.jpg", "train/dog/1.jpg", "val/cat/9.jpg", "val/dog/8.png"] {
            try tree.file(name)
        }
        let (train, validation) = try ImageFolder.trainAndValidation(root: tree.root)
        XCTAssertEqual(train.classes, ["cat", "dog"])
        XCTAssertEqual(train.counts, [2, 1])
        XCTAssertEqual(try XCTUnwrap(validation).counts, [1, 1])
        XCTAssertEqual(try XCTUnwrap(validation).root.lastPathComponent, "val")
        // The fraction variant does not split when a val folder exists.
        let both = try ImageFolder.trainAndValidation(root: tree.root, validationFraction: 0.5, seed: 1)
        XCTAssertEqual(both.train.count, 3)
        XCTAssertEqual(both.validation.count, 2)
    }

    func testTrainAndValFoldersWithDifferentClassesAreAClearError() throws {
        let tree = try TemporaryTree()
        for name in ["train/cat/1.jpg", "train/dog/1.jpg", "val/cat/1.jpg", "val/cow/1.jpg"] { try tree.file(name) }
        XCTAssertThrowsError(try ImageFolder.trainAndValidation(root: tree.root)) { error in
            guard case .classMismatch(_, _, let onlyTrain, let onlyVal)? = error as? DatasetError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(onlyTrain, ["dog"])
            XCTAssertEqual(onlyVal, ["cow"])
            XCTAssertTrue("\(error)".contains("only in train: dog") && "\(error)".contains("only in val: cow"), "\(error)")
        }
    }

    func testWithoutValFolderTheWholeRootIsTrainingAndCanBeSplit() throws {
        let tree = try TemporaryTree()
        for i in 0..<4 { try tree.file("cat/\(i).jpg"); try tree.file("dog/\(i).jpg") }
        let found = try ImageFolder.trainAndValidation(root: tree.root)
        XCTAssertEqual(found.train.classes, ["cat", "dog"])
        XCTAssertNil(found.validation)
        let split = try ImageFolder.trainAndValidation(root: tree.root, validationFraction: 0.25, seed: 3)
        XCTAssertEqual(split.train.counts, [3, 3])
        XCTAssertEqual(split.validation.counts, [1, 1])

        // Only a train/ folder: it is the training set (not a class called "train").
        let trainOnly = try TemporaryTree()
        try trainOnly.file("train/cat/1.jpg")
        try trainOnly.file("train/dog/1.jpg")
        let t = try ImageFolder.trainAndValidation(root: trainOnly.root)
        XCTAssertEqual(t.train.classes, ["cat", "dog"])
        XCTAssertNil(t.validation)
    }
}
