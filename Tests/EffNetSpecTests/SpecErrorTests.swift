import EffNetSpec
import XCTest

/// Every kind of malformed spec gets a compiler-style error at the exact file:line:column of the
/// offending token, with a message saying what was expected.
final class SpecErrorTests: XCTestCase {
    let valid = """
        model       Good
        resolution  64
        stem        conv 3x3 stride 2 channels 16
        stage       mbconv 1 3 1 16 1 0.25
        head        conv 1x1 expand 4
        classifier  classes 10
        """

    func parseError(_ text: String, file: String = "Specs/Bad.effnet") -> SpecError? {
        do {
            _ = try SpecParser.parse(text, file: file)
            return nil
        } catch {
            return error.errors.first
        }
    }

    func resolveError(_ documents: [(String, String)], model: String) -> SpecError? {
        do {
            let parsed = try documents.map { try SpecParser.parse($0.1, file: $0.0) }
            _ = try SpecLibrary(documents: parsed).resolve(model)
            return nil
        } catch {
            return (error as? SpecErrors)?.errors.first
        }
    }

    func assertError(_ error: SpecError?, _ kind: SpecError.Kind, line: Int, column: Int, mentions: String,
                     file: StaticString = #filePath, sourceLine: UInt = #line) {
        guard let error else { return XCTFail("expected a \(kind) error, got none", file: file, line: sourceLine) }
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: sourceLine)
        XCTAssertEqual(error.location.line, line, "\(error)", file: file, line: sourceLine)
        XCTAssertEqual(error.location.column, column, "\(error)", file: file, line: sourceLine)
        XCTAssertTrue(error.message.contains(mentions), "\(error) should mention \(mentions)", file: file, line: sourceLine)
    }

    func testValidSpecParsesAndResolves() throws {
        XCTAssertNil(parseError(valid))
        XCTAssertNil(resolveError([("Specs/Good.effnet", valid)], model: "Good"))
    }

    func testErrorDescriptionIsFileLineColumnLikeACompiler() {
        let error = parseError("model X\nresolutoin 224\n")
        XCTAssertEqual(error?.description.hasPrefix("Specs/Bad.effnet:2:1: error: unknown keyword `resolutoin`"), true,
                       error?.description ?? "no error")
    }

    func testUnknownKeyword() {
        assertError(parseError("model X\n  strides 2\n"), .unknownKeyword, line: 2, column: 3, mentions: "expected one of")
    }

    func testMissingFieldPointsJustPastTheLine() {
        // se ratio missing: column just past `2`.
        let error = parseError("stage mbconv 6 3 2 24 2\n")
        assertError(error, .missingField, line: 1, column: 25, mentions: "se ratio")
        XCTAssertTrue(error!.message.contains("stage mbconv <expand>"), "the message shows the statement's form")
    }

    func testNonNumericValue() {
        assertError(parseError("resolution big\n"), .notANumber, line: 1, column: 12, mentions: "`big`")
        assertError(parseError("stage mbconv six 3 2 24 2 0.25\n"), .notANumber, line: 1, column: 14, mentions: "expand")
    }

    func testEvenKernelIsRejected() {
        assertError(parseError("stage mbconv 6 4 2 24 2 0.25\n"), .evenKernel, line: 1, column: 16, mentions: "odd")
        assertError(parseError("stem conv 2x2 stride 2 channels 32\n"), .evenKernel, line: 1, column: 11, mentions: "odd")
    }

    func testStrideOtherThanOneOrTwo() {
        assertError(parseError("stage mbconv 6 3 3 24 2 0.25\n"), .invalidStride, line: 1, column: 18, mentions: "1 or 2")
        assertError(parseError("stem conv 3x3 stride 4 channels 32\n"), .invalidStride, line: 1, column: 22, mentions: "1 or 2")
    }

    func testSERatioOutsideZeroOne() {
        assertError(parseError("stage mbconv 6 3 2 24 2 1.5\n"), .seRatioOutOfRange, line: 1, column: 25, mentions: "(0, 1]")
        assertError(parseError("stage mbconv 6 3 2 24 2 0\n"), .seRatioOutOfRange, line: 1, column: 25, mentions: "none")
        XCTAssertNil(parseError("stage mbconv 6 3 2 24 2 none\n"), "`none` means no squeeze-excitation")
        XCTAssertNil(parseError("stage mbconv 6 3 2 24 2 1\n"), "1 is inside (0, 1]")
    }

    func testZeroRepeatsOrChannels() {
        assertError(parseError("stage mbconv 6 3 2 24 0 0.25\n"), .zeroCount, line: 1, column: 23, mentions: "repeats")
        assertError(parseError("stage mbconv 6 3 2 0 2 0.25\n"), .zeroCount, line: 1, column: 20, mentions: "channels")
        assertError(parseError("classifier classes 0\n"), .zeroCount, line: 1, column: 20, mentions: "classes")
    }

    func testTrailingWordsAreRejected() {
        assertError(parseError("dropout 0.2 0.3\n"), .unexpectedField, line: 1, column: 13, mentions: "`0.3`")
    }

    func testStatementGivenTwice() {
        assertError(parseError("model X\nresolution 224\nresolution 240\n"), .duplicateStatement, line: 3, column: 1,
                    mentions: "line 2")
    }

    func testCommentsAndBlankLinesAreIgnored() {
        XCTAssertNil(parseError("# a comment\n\nmodel X   # trailing comment\n"))
    }

    func testUnknownBase() {
        let child = "base Nope\nmodel Child\n"
        assertError(resolveError([("Specs/Child.effnet", child), ("Specs/Good.effnet", valid)], model: "Child"),
                    .unknownBase, line: 1, column: 1, mentions: "`Nope`")
    }

    func testCyclicBase() {
        let a = "model A\nbase B\n", b = "model B\nbase A\n"
        let error = resolveError([("Specs/A.effnet", a), ("Specs/B.effnet", b)], model: "A")
        XCTAssertEqual(error?.kind, .cyclicBase)
        XCTAssertTrue(error?.message.contains("A -> B -> A") == true, error?.description ?? "")
    }

    func testDuplicateModelNameAcrossFiles() {
        let error = resolveError([("Specs/One.effnet", valid), ("Specs/Two.effnet", valid)], model: "Good")
        assertError(error, .duplicateModel, line: 1, column: 1, mentions: "Specs/One.effnet:1:1")
        XCTAssertEqual(error?.location.file, "Specs/Two.effnet")
    }

    func testMissingRequiredStatementNamesTheModelLine() {
        let noClassifier = valid.replacingOccurrences(of: "classifier  classes 10", with: "")
        assertError(resolveError([("Specs/Good.effnet", noClassifier)], model: "Good"), .missingStatement,
                    line: 1, column: 1, mentions: "classifier")
        let noStages = valid.split(separator: "\n").filter { !$0.hasPrefix("stage") }.joined(separator: "\n")
        assertError(resolveError([("Specs/Good.effnet", noStages)], model: "Good"), .missingStatement,
                    line: 1, column: 1, mentions: "stages")
    }

    func testPreprocessMustCropToTheCompiledResolution() {
        let wrongCrop = valid + "\npreprocess resize 72 crop 60 normalize imagenet\n"
        assertError(resolveError([("Specs/Good.effnet", wrongCrop)], model: "Good"), .invalidValue,
                    line: 7, column: 1, mentions: "expected `crop 64`")
    }

    func testEveryErrorInAFileIsReported() {
        do {
            _ = try SpecParser.parse("model X\nresolution x\nstage mbconv 6 4 2 24 2 0.25\nfoo\n", file: "f")
            XCTFail("expected errors")
        } catch {
            XCTAssertEqual(error.errors.map(\.location.line), [2, 3, 4])
        }
    }
}
