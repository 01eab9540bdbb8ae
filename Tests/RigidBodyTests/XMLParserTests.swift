// No Foundation here: on macOS it has its own XMLDocument and XMLElement.
import Testing

@testable import RigidBody

@Suite struct XMLParserTests {
    private func parse(_ text: String) throws(XMLError) -> XMLElement {
        try XMLDocument(parsing: text).root
    }

    private func parseError(_ text: String) -> XMLError? {
        do throws(XMLError) {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsElementsAttributesAndLines() throws {
        let root = try parse(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <robot name="arm">
              <link name="a"/>
              <joint name = 'j'  type= "fixed" >
                <parent link="a" />
              </joint>
            </robot>
            """
        )
        #expect(root.name == "robot")
        #expect(root.line == 2)
        #expect(root[attribute: "name"] == "arm")
        #expect(root[attribute: "missing"] == nil)
        #expect(root.children.map(\.name) == ["link", "joint"])
        #expect(root.children.map(\.line) == [3, 4])

        let joint = try #require(root.firstChild(named: "joint"))
        #expect(joint.attributes == [XMLAttribute(name: "name", value: "j", line: 4), XMLAttribute(name: "type", value: "fixed", line: 4)])
        #expect(joint.attributes.map(\.line) == [4, 4])
        let parent = try #require(joint.firstChild(named: "parent"))
        #expect(parent[attribute: "link"] == "a")
        #expect(parent.line == 5)
        #expect(parent.children.isEmpty)
        #expect(root.children(named: "link").count == 1)
    }

    @Test func attributeLinesFollowLineBreaksInsideTags() throws {
        let root = try parse("<a\n  x='1'\n  y='2'>\n<b/></a>")
        #expect(root.attributes.map(\.line) == [2, 3])
        #expect(root.children.first?.line == 4)
    }

    @Test func expandsPredefinedEntitiesAndCharacterReferences() throws {
        let root = try parse(#"<a t="&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x3b1;">x &amp; y &#955;&#x1F916;</a>"#)
        #expect(root[attribute: "t"] == "<>&'\"ABα")
        #expect(root.text == "x & y λ🤖")
    }

    @Test func skipsCommentsProcessingInstructionsAndDoctype() throws {
        let root = try parse(
            """
            \u{FEFF}<?xml version="1.0"?>
            <!-- a comment with <tags> & ampersands -->
            <!DOCTYPE robot [
              <!ENTITY name "value > with bracket">
            ]>
            <?stylesheet href="x"?>
            <robot><!-- inner --><?pi inside?><link name="a"/></robot>
            <!-- trailing comment -->
            """
        )
        #expect(root.name == "robot")
        #expect(root.line == 7)
        #expect(root.children.map(\.name) == ["link"])
    }

    @Test func keepsCDATALiterally() throws {
        let root = try parse("<a>one <![CDATA[<not a tag> & &amp; ]]> two</a>")
        #expect(root.text == "one <not a tag> & &amp;  two")
        #expect(root.children.isEmpty)
    }

    @Test func normalisesLineEnds() throws {
        let root = try parse("<a x='1\r\n2\t3'>\r\n<b/>\r\ntext\r</a>")
        #expect(root[attribute: "x"] == "1 2 3")
        #expect(root.text == "\n\ntext\n")
        // The CRLF inside the attribute value is a line break too.
        #expect(root.children.first?.line == 3)
    }

    @Test func keepsNonASCIINamesAndValues() throws {
        let root = try parse("<größe wert=\"µm\">ü</größe>")
        #expect(root.name == "größe")
        #expect(root[attribute: "wert"] == "µm")
        #expect(root.text == "ü")
    }

    @Test func handlesDeepNestingWithoutRecursion() throws {
        let depth = 1000
        let text = String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth)
        var element = try parse(text)
        var levels = 1
        while let child = element.children.first {
            element = child
            levels += 1
        }
        #expect(levels == depth)
    }

    struct MalformedCase: Sendable, CustomTestStringConvertible {
        var text: String
        var code: XMLError.Code
        var line: Int
        var fragment: String
        var testDescription: String { "\(code): \(text.debugDescription)" }
    }

    static let malformed: [MalformedCase] = [
        .init(text: "", code: .emptyDocument, line: 1, fragment: "no root element"),
        .init(text: "<?xml version='1.0'?>\n<!-- only a comment -->\n", code: .emptyDocument, line: 3, fragment: "no root"),
        .init(text: "<robot", code: .unterminatedTag, line: 1, fragment: "<robot"),
        .init(text: "<a>\n<b x='1'\n", code: .unterminatedTag, line: 2, fragment: "<b"),
        .init(text: "<a>\n<b x='1' <c/></a>", code: .unterminatedTag, line: 2, fragment: "<b"),
        .init(text: "<a></a", code: .unterminatedTag, line: 1, fragment: "</a"),
        .init(text: "<?xml version='1.0'", code: .unterminatedTag, line: 1, fragment: "processing instruction"),
        .init(text: "<!DOCTYPE a [ <!ENTITY x 'y'> ", code: .unterminatedTag, line: 1, fragment: "DOCTYPE"),
        .init(text: "<a>\n<!-- never closed\n</a>", code: .unterminatedComment, line: 2, fragment: "comment"),
        .init(text: "<a><![CDATA[x</a>", code: .unterminatedCDATA, line: 1, fragment: "CDATA"),
        .init(text: "<a>\n<b x=\"1/>\n</a>", code: .unterminatedAttributeValue, line: 2, fragment: "\"x\" in <b>"),
        .init(text: "<a x='1", code: .unterminatedAttributeValue, line: 1, fragment: "\"x\""),
        .init(text: "<a>\n<b>\n</c>\n</a>", code: .mismatchedEndTag, line: 3, fragment: "</c> does not match start tag <b> at line 2"),
        .init(text: "<a>\n  <b/>\n", code: .unclosedElement, line: 1, fragment: "<a>"),
        .init(text: "<a x='1'\n   x=\"2\"/>", code: .duplicateAttribute, line: 2, fragment: "duplicate attribute \"x\" in <a>"),
        .init(text: "<a/>\n<b/>", code: .junkAfterRoot, line: 2, fragment: "after the root element <a>"),
        .init(text: "<a/>\ntext", code: .junkAfterRoot, line: 2, fragment: "text after the root element <a>"),
        .init(text: "<a/></a>", code: .junkAfterRoot, line: 1, fragment: "</a>"),
        .init(text: "<a>\n&nbsp;</a>", code: .unknownEntity, line: 2, fragment: "&nbsp;"),
        .init(text: "<a t='AT&T'/>", code: .unknownEntity, line: 1, fragment: "'&'"),
        .init(text: "<a>&#0;</a>", code: .invalidCharacterReference, line: 1, fragment: "&#0;"),
        .init(text: "<a>&#xD800;</a>", code: .invalidCharacterReference, line: 1, fragment: "&#xD800;"),
        .init(text: "<a>&#x110000;</a>", code: .invalidCharacterReference, line: 1, fragment: "&#x110000;"),
        .init(text: "<a>&#12a;</a>", code: .invalidCharacterReference, line: 1, fragment: "&#12a;"),
        .init(text: "<a>&#;</a>", code: .invalidCharacterReference, line: 1, fragment: "&#;"),
        .init(text: "<a x=1/>", code: .syntax, line: 1, fragment: "must be quoted"),
        .init(text: "<a x='1'y='2'/>", code: .syntax, line: 1, fragment: "'y'"),
        .init(text: "<a x/>", code: .syntax, line: 1, fragment: "'='"),
        .init(text: "text<a/>", code: .syntax, line: 1, fragment: "before the root element"),
        .init(text: "</a>", code: .syntax, line: 1, fragment: "without a matching start tag"),
        .init(text: "<1a/>", code: .syntax, line: 1, fragment: "element name"),
        .init(text: "<a><!DOCTYPE a></a>", code: .syntax, line: 1, fragment: "DOCTYPE"),
        .init(text: "<a><!ELEMENT a ANY></a>", code: .syntax, line: 1, fragment: "'<!'"),
        .init(text: "<![CDATA[x]]><a/>", code: .syntax, line: 1, fragment: "CDATA"),
        .init(text: "<a/ >", code: .syntax, line: 1, fragment: "'>' after '/'"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedInput(_ testCase: MalformedCase) throws {
        let error = try #require(parseError(testCase.text))
        #expect(error.code == testCase.code, "\(error)")
        #expect(error.line == testCase.line, "\(error)")
        #expect(error.message.contains(testCase.fragment), "\(error)")
        #expect(error.description.hasPrefix("line \(testCase.line): "))
    }

    @Test func errorEqualityComparesCodesOnly() {
        #expect(XMLError(.syntax, line: 1, "a") == XMLError(.syntax, line: 9, "b"))
        #expect(XMLError(.syntax, line: 1, "a") != XMLError(.unknownEntity, line: 1, "a"))
    }
}
