/// A parsed XML document: just its root element.
///
/// The parser is non-validating and small on purpose: it reads what URDF files contain and
/// nothing more. Processing instructions (including `<?xml …?>`), comments and `<!DOCTYPE …>` are
/// skipped; only the five predefined entities and numeric character references are expanded (a
/// DOCTYPE cannot declare more); namespaces are not interpreted (`xacro:macro` is just a name).
/// Input is UTF-8; invalid sequences become U+FFFD.
package struct XMLDocument: Sendable, Hashable {
    package var root: XMLElement

    package init(root: XMLElement) {
        self.root = root
    }

    /// Parses a whole document.
    /// - Parameter text: the document.
    /// - Throws: `XMLError` naming the first syntax error and its line.
    package init(parsing text: String) throws(XMLError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Parses a whole document from UTF-8 bytes; a leading byte-order mark is skipped.
    /// - Parameter bytes: the document.
    /// - Throws: `XMLError` naming the first syntax error and its line.
    package init(parsing bytes: [UInt8]) throws(XMLError) {
        var parser = XMLParser(bytes: bytes)
        self.root = try parser.parseDocument()
    }
}

/// An element with its attributes (in document order), child elements and character data.
///
/// Mixed content is flattened: `text` is the concatenation of every text and CDATA run directly
/// inside this element, with entities expanded and line ends normalised to `\n`; the position of
/// text relative to child elements is not kept.
package struct XMLElement: Sendable, Hashable {
    package var name: String
    package var attributes: [XMLAttribute]
    package var children: [XMLElement]
    package var text: String
    /// 1-based line of the `<` that opens the start tag.
    package var line: Int

    package init(
        name: String, attributes: [XMLAttribute] = [], children: [XMLElement] = [], text: String = "",
        line: Int = 0
    ) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
        self.line = line
    }

    /// The value of the attribute `name`, or `nil` when the element has none.
    package subscript(attribute name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    /// Child elements called `name`, in document order.
    package func children(named name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }

    /// The first child element called `name`.
    package func firstChild(named name: String) -> XMLElement? {
        children.first { $0.name == name }
    }
}

/// One `name="value"` pair of a start tag; `value` has entities expanded and literal tabs and
/// line ends turned into spaces (XML attribute-value normalisation).
package struct XMLAttribute: Sendable, Hashable {
    package var name: String
    package var value: String
    /// 1-based line of the attribute's name.
    package var line: Int

    package init(name: String, value: String, line: Int = 0) {
        self.name = name
        self.value = value
        self.line = line
    }
}
