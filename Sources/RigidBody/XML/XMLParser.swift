/// A single-pass, non-validating XML reader over UTF-8 bytes.
///
/// Open elements live on an explicit stack, so nesting depth costs heap, not call stack. Lines are
/// counted lazily: `line(at:)` scans only the bytes between the last queried offset and the new
/// one, which keeps the total cost linear because queries move (almost always) forward.
///
/// Depth and element count are bounded (`maxDepth`, `maxElements`): the parser itself would cope,
/// but every consumer of the tree walks it, and releasing a tree tens of thousands of levels deep
/// recurses once per level (a stack overflow at ~48 500 levels).
struct XMLParser {
    /// Deepest element nesting accepted; URDF needs 5 (`robot/link/visual/geometry/mesh`), and
    /// releasing a tree this deep takes a few hundred kilobytes of stack at most.
    static let maxDepth = 1_024
    /// Most elements accepted in one document; a 1 024-link URDF with visuals, collisions and
    /// inertials has about 25 000.
    static let maxElements = 200_000
    /// Most attributes accepted on one element (URDF uses at most 6, on `<inertia>`); bounds the
    /// duplicate check, which compares each attribute with the ones before it.
    static let maxAttributes = 64

    private let bytes: [UInt8]
    private var elementCount = 0
    private var position = 0
    private var lineMarkOffset = 0
    private var lineMark = 1

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(XMLError) -> XMLElement {
        if hasPrefix([0xEF, 0xBB, 0xBF], at: 0) { position = 3 }
        var stack: [XMLElement] = []
        var root: XMLElement?

        while position < bytes.count {
            guard bytes[position] == ASCII.lessThan else {
                let start = position
                position = index(of: ASCII.lessThan, from: position) ?? bytes.count
                if stack.isEmpty {
                    if let junk = (start..<position).first(where: { !ASCII.isWhitespace(bytes[$0]) }) {
                        if let root {
                            throw XMLError(.junkAfterRoot, line: line(at: junk), "text after the root element <\(root.name)>")
                        }
                        throw XMLError(.syntax, line: line(at: junk), "text before the root element")
                    }
                } else {
                    stack[stack.count - 1].text += try decode(start..<position, isAttribute: false)
                }
                continue
            }

            if hasPrefix(Self.processingInstructionOpen, at: position) {
                try skip(to: Self.processingInstructionClose, code: .unterminatedTag, what: "processing instruction")
            } else if hasPrefix(Self.commentOpen, at: position) {
                try skip(to: Self.commentClose, code: .unterminatedComment, what: "comment")
            } else if hasPrefix(Self.cdataOpen, at: position) {
                let start = position
                guard !stack.isEmpty else {
                    throw XMLError(.syntax, line: line(at: start), "CDATA section outside the root element")
                }
                position += Self.cdataOpen.count
                guard let end = index(of: Self.cdataClose, from: position) else {
                    throw XMLError(.unterminatedCDATA, line: line(at: start), "CDATA section is not terminated by ']]>'")
                }
                stack[stack.count - 1].text += normalizedLineEnds(position..<end)
                position = end + Self.cdataClose.count
            } else if hasPrefix(Self.doctypeOpen, at: position) {
                guard stack.isEmpty, root == nil else {
                    throw XMLError(.syntax, line: line(at: position), "<!DOCTYPE …> must come before the root element")
                }
                try skipDoctype()
            } else if hasPrefix(Self.endTagOpen, at: position) {
                let start = position
                let name = try readEndTag()
                guard let open = stack.popLast() else {
                    throw XMLError(
                        root == nil ? .syntax : .junkAfterRoot, line: line(at: start),
                        "end tag </\(name)> without a matching start tag"
                    )
                }
                guard open.name == name else {
                    throw XMLError(
                        .mismatchedEndTag, line: line(at: start),
                        "end tag </\(name)> does not match start tag <\(open.name)> at line \(open.line)"
                    )
                }
                if stack.isEmpty { root = open } else { stack[stack.count - 1].children.append(open) }
            } else if hasPrefix(Self.markupDeclarationOpen, at: position) {
                throw XMLError(.syntax, line: line(at: position), "unexpected '<!' (expected a comment, CDATA or DOCTYPE)")
            } else {
                if let root, stack.isEmpty {
                    throw XMLError(.junkAfterRoot, line: line(at: position), "element after the root element <\(root.name)>")
                }
                let (element, isEmpty) = try readStartTag()
                elementCount += 1
                guard elementCount <= Self.maxElements else {
                    throw XMLError(
                        .tooManyElements, line: element.line,
                        "more than \(Self.maxElements) elements (the limit), at <\(element.name)>"
                    )
                }
                guard stack.count < Self.maxDepth else {
                    throw XMLError(
                        .tooDeep, line: element.line,
                        "element <\(element.name)> is nested more than \(Self.maxDepth) levels deep (the limit)"
                    )
                }
                if !isEmpty {
                    stack.append(element)
                } else if stack.isEmpty {
                    root = element
                } else {
                    stack[stack.count - 1].children.append(element)
                }
            }
        }

        if let open = stack.last {
            throw XMLError(.unclosedElement, line: open.line, "element <\(open.name)> is not closed")
        }
        guard let root else {
            throw XMLError(.emptyDocument, line: line(at: bytes.count), "document has no root element")
        }
        return root
    }

    // MARK: markup

    /// Reads `<name attr="value" …>` or `<name … />` starting at the `<`.
    /// - Returns: the element (without children) and whether it was self-closing.
    private mutating func readStartTag() throws(XMLError) -> (XMLElement, Bool) {
        let start = position
        position += 1
        let startLine = line(at: start)
        guard let name = readName() else {
            throw XMLError(.syntax, line: startLine, "expected an element name after '<'")
        }
        var element = XMLElement(name: name, line: startLine)

        while true {
            let hadWhitespace = skipWhitespace()
            guard position < bytes.count else {
                throw XMLError(.unterminatedTag, line: startLine, "start tag <\(name) is not terminated")
            }
            switch bytes[position] {
            case ASCII.greaterThan:
                position += 1
                return (element, false)
            case ASCII.slash:
                guard position + 1 < bytes.count else {
                    throw XMLError(.unterminatedTag, line: startLine, "start tag <\(name) is not terminated")
                }
                guard bytes[position + 1] == ASCII.greaterThan else {
                    throw XMLError(.syntax, line: line(at: position), "expected '>' after '/' in <\(name)>")
                }
                position += 2
                return (element, true)
            case ASCII.lessThan:
                throw XMLError(.unterminatedTag, line: startLine, "start tag <\(name) is not terminated before '<'")
            default:
                break
            }

            let attributeStart = position
            guard hadWhitespace, let attributeName = readName() else {
                throw XMLError(
                    .syntax, line: line(at: attributeStart),
                    "unexpected \(describe(byteAt: attributeStart)) in start tag <\(name)>"
                )
            }
            let attributeLine = line(at: attributeStart)
            skipWhitespace()
            try expect(ASCII.equals, "'=' after attribute \"\(attributeName)\" in <\(name)>", tagLine: startLine, tag: name)
            skipWhitespace()
            guard position < bytes.count else {
                throw XMLError(.unterminatedTag, line: startLine, "start tag <\(name) is not terminated")
            }
            let quote = bytes[position]
            guard quote == ASCII.doubleQuote || quote == ASCII.singleQuote else {
                throw XMLError(
                    .syntax, line: line(at: position),
                    "value of attribute \"\(attributeName)\" in <\(name)> must be quoted"
                )
            }
            position += 1
            let valueStart = position
            // '<' cannot appear in an attribute value, so meeting one almost always means the
            // closing quote is missing; reporting that is more useful than "unexpected '<'".
            while position < bytes.count, bytes[position] != quote, bytes[position] != ASCII.lessThan {
                position += 1
            }
            guard position < bytes.count, bytes[position] == quote else {
                throw XMLError(
                    .unterminatedAttributeValue, line: attributeLine,
                    "value of attribute \"\(attributeName)\" in <\(name)> is not terminated"
                )
            }
            let value = try decode(valueStart..<position, isAttribute: true)
            position += 1
            guard element.attributes.count < Self.maxAttributes else {
                throw XMLError(
                    .tooManyAttributes, line: attributeLine,
                    "more than \(Self.maxAttributes) attributes in <\(name)> (the limit)"
                )
            }
            if element.attributes.contains(where: { $0.name == attributeName }) {
                throw XMLError(
                    .duplicateAttribute, line: attributeLine, "duplicate attribute \"\(attributeName)\" in <\(name)>"
                )
            }
            element.attributes.append(XMLAttribute(name: attributeName, value: value, line: attributeLine))
        }
    }

    /// Reads `</name>` (whitespace allowed before `>`) starting at the `<`.
    private mutating func readEndTag() throws(XMLError) -> String {
        let start = position
        position += Self.endTagOpen.count
        guard let name = readName() else {
            throw XMLError(.syntax, line: line(at: start), "expected an element name after '</'")
        }
        skipWhitespace()
        try expect(ASCII.greaterThan, "'>' to close end tag </\(name)>", tagLine: line(at: start), tag: "/" + name)
        return name
    }

    /// Skips `<!DOCTYPE …>`, including an internal subset in `[…]` that may itself contain `>`
    /// inside declarations and quoted literals.
    private mutating func skipDoctype() throws(XMLError) {
        let start = position
        position += Self.doctypeOpen.count
        var bracketDepth = 0
        var quote: UInt8?
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if let open = quote {
                if byte == open { quote = nil }
                continue
            }
            switch byte {
            case ASCII.doubleQuote, ASCII.singleQuote: quote = byte
            case ASCII.openBracket: bracketDepth += 1
            case ASCII.closeBracket: bracketDepth -= 1
            case ASCII.greaterThan where bracketDepth <= 0: return
            default: break
            }
        }
        throw XMLError(.unterminatedTag, line: line(at: start), "<!DOCTYPE is not terminated")
    }

    /// Skips from the current `<…` opener past `terminator`.
    private mutating func skip(to terminator: [UInt8], code: XMLError.Code, what: String) throws(XMLError) {
        let start = position
        guard let end = index(of: terminator, from: position + 2) else {
            let closer = String(decoding: terminator, as: UTF8.self)
            throw XMLError(code, line: line(at: start), "\(what) is not terminated by '\(closer)'")
        }
        position = end + terminator.count
    }

    private mutating func expect(_ byte: UInt8, _ what: String, tagLine: Int, tag: String) throws(XMLError) {
        guard position < bytes.count else {
            throw XMLError(.unterminatedTag, line: tagLine, "tag <\(tag) is not terminated")
        }
        guard bytes[position] == byte else {
            if bytes[position] == ASCII.lessThan {
                throw XMLError(.unterminatedTag, line: tagLine, "tag <\(tag) is not terminated before '<'")
            }
            throw XMLError(.syntax, line: line(at: position), "expected \(what), found \(describe(byteAt: position))")
        }
        position += 1
    }

    /// Reads an XML name: ASCII letters, `_`, `:` or any non-ASCII byte first, then also digits,
    /// `-` and `.`. Non-ASCII bytes are accepted wholesale rather than checked against the XML
    /// name tables; a misplaced multi-byte character is not worth a Unicode table here.
    private mutating func readName() -> String? {
        let start = position
        guard position < bytes.count, ASCII.isNameStart(bytes[position]) else { return nil }
        position += 1
        while position < bytes.count, ASCII.isNameStart(bytes[position]) || ASCII.isNameContinuation(bytes[position]) {
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// - Returns: whether any whitespace was skipped.
    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while position < bytes.count, ASCII.isWhitespace(bytes[position]) { position += 1 }
        return position > start
    }

    // MARK: character data

    /// Expands references in `range` and normalises line ends (`\r\n` and `\r` → `\n`); in
    /// attribute values, tabs and line ends become spaces as XML requires.
    private mutating func decode(_ range: Range<Int>, isAttribute: Bool) throws(XMLError) -> String {
        let needsWork = bytes[range].contains { byte in
            byte == ASCII.ampersand || byte == ASCII.carriageReturn
                || (isAttribute && (byte == ASCII.lineFeed || byte == ASCII.tab))
        }
        guard needsWork else { return String(decoding: bytes[range], as: UTF8.self) }

        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            switch byte {
            case ASCII.ampersand:
                index = try expandReference(at: index, limit: range.upperBound, into: &output)
                continue
            case ASCII.carriageReturn:
                output.append(isAttribute ? ASCII.space : ASCII.lineFeed)
                if index + 1 < range.upperBound, bytes[index + 1] == ASCII.lineFeed { index += 1 }
            case ASCII.lineFeed, ASCII.tab:
                output.append(isAttribute ? ASCII.space : byte)
            default:
                output.append(byte)
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// CDATA is literal apart from line-end normalisation.
    private func normalizedLineEnds(_ range: Range<Int>) -> String {
        guard bytes[range].contains(ASCII.carriageReturn) else {
            return String(decoding: bytes[range], as: UTF8.self)
        }
        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            if bytes[index] == ASCII.carriageReturn {
                output.append(ASCII.lineFeed)
                if index + 1 < range.upperBound, bytes[index + 1] == ASCII.lineFeed { index += 1 }
            } else {
                output.append(bytes[index])
            }
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the expansion of the reference starting at the `&` at `start` to `output`.
    /// - Returns: the offset just past the reference's `;`.
    private mutating func expandReference(at start: Int, limit: Int, into output: inout [UInt8]) throws(XMLError) -> Int {
        // The longest valid reference is `&#x10FFFF;` (or a long run of leading zeros, which we
        // do not need to support), so a `;` further away means a bare `&`.
        let searchEnd = min(limit, start + 32)
        guard let semicolon = (start + 1..<searchEnd).first(where: { bytes[$0] == ASCII.semicolon }) else {
            throw XMLError(.unknownEntity, line: line(at: start), "'&' does not start an entity reference (write &amp;)")
        }
        let body = bytes[(start + 1)..<semicolon]
        let bodyText = String(decoding: body, as: UTF8.self)

        if body.first == ASCII.hash {
            var digits = body.dropFirst()
            var radix: UInt32 = 10
            if digits.first == ASCII.lowercaseX {
                radix = 16
                digits = digits.dropFirst()
            }
            var value: UInt32 = 0
            var valid = !digits.isEmpty
            for digit in digits {
                guard let digitValue = ASCII.digitValue(digit, radix: radix), value <= 0x10FFFF else {
                    valid = false
                    break
                }
                value = value * radix + digitValue
            }
            guard valid, let scalar = Unicode.Scalar(value), ASCII.isXMLCharacter(scalar) else {
                throw XMLError(
                    .invalidCharacterReference, line: line(at: start),
                    "invalid character reference \"&\(bodyText);\""
                )
            }
            output.append(contentsOf: String(Character(scalar)).utf8)
            return semicolon + 1
        }

        switch bodyText {
        case "lt": output.append(ASCII.lessThan)
        case "gt": output.append(ASCII.greaterThan)
        case "amp": output.append(ASCII.ampersand)
        case "apos": output.append(ASCII.singleQuote)
        case "quot": output.append(ASCII.doubleQuote)
        default:
            throw XMLError(.unknownEntity, line: line(at: start), "unknown entity \"&\(bodyText);\"")
        }
        return semicolon + 1
    }

    // MARK: scanning

    /// The 1-based line containing byte `offset`.
    private mutating func line(at offset: Int) -> Int {
        let target = min(offset, bytes.count)
        if target >= lineMarkOffset {
            for index in lineMarkOffset..<target where bytes[index] == ASCII.lineFeed { lineMark += 1 }
        } else {
            for index in target..<lineMarkOffset where bytes[index] == ASCII.lineFeed { lineMark -= 1 }
        }
        lineMarkOffset = target
        return lineMark
    }

    private func hasPrefix(_ prefix: [UInt8], at offset: Int) -> Bool {
        guard offset + prefix.count <= bytes.count else { return false }
        for (index, byte) in prefix.enumerated() where bytes[offset + index] != byte { return false }
        return true
    }

    private func index(of byte: UInt8, from offset: Int) -> Int? {
        var index = offset
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private func index(of pattern: [UInt8], from offset: Int) -> Int? {
        guard let first = pattern.first else { return offset }
        var index = offset
        while let candidate = self.index(of: first, from: index) {
            if hasPrefix(pattern, at: candidate) { return candidate }
            index = candidate + 1
        }
        return nil
    }

    private func describe(byteAt offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let byte = bytes[offset]
        guard byte >= 0x20, byte < 0x7F else { return "byte 0x\(String(byte, radix: 16))" }
        return "'\(Character(Unicode.Scalar(byte)))'"
    }

    private static let processingInstructionOpen: [UInt8] = Array("<?".utf8)
    private static let processingInstructionClose: [UInt8] = Array("?>".utf8)
    private static let commentOpen: [UInt8] = Array("<!--".utf8)
    private static let commentClose: [UInt8] = Array("-->".utf8)
    private static let cdataOpen: [UInt8] = Array("<![CDATA[".utf8)
    private static let cdataClose: [UInt8] = Array("]]>".utf8)
    private static let doctypeOpen: [UInt8] = Array("<!DOCTYPE".utf8)
    private static let markupDeclarationOpen: [UInt8] = Array("<!".utf8)
    private static let endTagOpen: [UInt8] = Array("</".utf8)
}

/// Byte constants and classes for the parser.
private enum ASCII {
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let doubleQuote = UInt8(ascii: "\"")
    static let hash = UInt8(ascii: "#")
    static let ampersand = UInt8(ascii: "&")
    static let singleQuote = UInt8(ascii: "'")
    static let slash = UInt8(ascii: "/")
    static let semicolon = UInt8(ascii: ";")
    static let lessThan = UInt8(ascii: "<")
    static let equals = UInt8(ascii: "=")
    static let greaterThan = UInt8(ascii: ">")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let lowercaseX = UInt8(ascii: "x")

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == lineFeed || byte == tab || byte == carriageReturn
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte >= 0x80
    }

    static func isNameContinuation(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    static func digitValue(_ byte: UInt8, radix: UInt32) -> UInt32? {
        let value: UInt32
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt32(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt32(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
        return value < radix ? value : nil
    }

    /// XML 1.0 `Char`: tab, line feed, carriage return and everything from U+0020 except
    /// U+FFFE and U+FFFF (surrogates are not `Unicode.Scalar`s to begin with).
    static func isXMLCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD: return true
        case 0x20...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }
}
