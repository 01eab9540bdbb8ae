/// A syntax error in an XML document, with the 1-based line where it was found.
///
/// Equality compares codes only, so tests and callers can match on the kind of failure without
/// depending on message wording.
package struct XMLError: Error, Hashable, CustomStringConvertible {
    /// The kind of syntax error.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case emptyDocument
            case unterminatedTag
            case unterminatedComment
            case unterminatedCDATA
            case unterminatedAttributeValue
            case unclosedElement
            case mismatchedEndTag
            case duplicateAttribute
            case junkAfterRoot
            case unknownEntity
            case invalidCharacterReference
            case syntax
            case tooDeep
            case tooManyElements
            case tooManyAttributes
        }

        private var base: Base
        private init(_ base: Base) { self.base = base }

        /// The document holds no element (only whitespace, comments, declarations or nothing).
        package static let emptyDocument = Code(.emptyDocument)
        /// A start tag, end tag, processing instruction or DOCTYPE runs to the end of the input or
        /// into another tag.
        package static let unterminatedTag = Code(.unterminatedTag)
        /// `<!--` without `-->`.
        package static let unterminatedComment = Code(.unterminatedComment)
        /// `<![CDATA[` without `]]>`.
        package static let unterminatedCDATA = Code(.unterminatedCDATA)
        /// A quoted attribute value without its closing quote.
        package static let unterminatedAttributeValue = Code(.unterminatedAttributeValue)
        /// The input ends while an element is still open.
        package static let unclosedElement = Code(.unclosedElement)
        /// An end tag whose name differs from the innermost open element.
        package static let mismatchedEndTag = Code(.mismatchedEndTag)
        /// The same attribute name twice in one start tag.
        package static let duplicateAttribute = Code(.duplicateAttribute)
        /// An element or non-whitespace text after the root element has closed.
        package static let junkAfterRoot = Code(.junkAfterRoot)
        /// An entity reference other than the five predefined ones, or a bare `&`.
        package static let unknownEntity = Code(.unknownEntity)
        /// `&#…;` that is malformed or names a code point XML does not allow.
        package static let invalidCharacterReference = Code(.invalidCharacterReference)
        /// Any other malformed construct (bad name, missing `=`, unquoted value, stray `<!`, …).
        package static let syntax = Code(.syntax)
        /// Elements nested deeper than the parser's limit (`XMLParser.maxDepth`).
        package static let tooDeep = Code(.tooDeep)
        /// More elements than the parser's limit (`XMLParser.maxElements`).
        package static let tooManyElements = Code(.tooManyElements)
        /// More attributes on one element than the parser's limit (`XMLParser.maxAttributes`).
        package static let tooManyAttributes = Code(.tooManyAttributes)

        package var description: String { base.rawValue }
    }

    package var code: Code
    /// 1-based line of the offending construct (for unterminated constructs, where it starts).
    package var line: Int
    package var message: String

    package init(_ code: Code, line: Int, _ message: String) {
        self.code = code
        self.line = line
        self.message = clippedMessage(message)
    }

    package var description: String { "line \(line): \(message)" }

    package static func == (lhs: XMLError, rhs: XMLError) -> Bool { lhs.code == rhs.code }
    package func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// Messages quote names from the input, and a name can be megabytes long; an error message is
/// for a person, so keep it to a screenful. Cutting inside a multi-byte character leaves a U+FFFD,
/// harmless in a diagnostic.
package func clippedMessage(_ message: String, limit: Int = 1_000) -> String {
    let utf8 = message.utf8
    guard utf8.count > limit else { return message }
    return String(decoding: utf8.prefix(limit), as: UTF8.self) + "… (\(utf8.count - limit) more bytes)"
}
