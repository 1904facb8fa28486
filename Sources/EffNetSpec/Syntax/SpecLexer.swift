/// Splits one spec line into whitespace-separated words, remembering each word's column.
/// Everything after `#` is a comment.
struct Word: Sendable {
    var text: String
    var column: Int
}

enum SpecLexer {
    static func words(in line: Substring) -> [Word] {
        var words: [Word] = []
        var current = ""
        var start = 0
        var column = 0
        for character in line {
            column += 1
            if character == "#" { break }
            if character == " " || character == "\t" || character == "\r" {
                if !current.isEmpty {
                    words.append(Word(text: current, column: start))
                    current = ""
                }
            } else {
                if current.isEmpty { start = column }
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(Word(text: current, column: start)) }
        return words
    }
}
