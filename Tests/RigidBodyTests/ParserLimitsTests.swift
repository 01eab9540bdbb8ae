import LinearAlgebra
import Testing

@testable import RigidBody

/// Issue 12, item 8: hostile sizes and depths get an error naming the line and the limit, never
/// a stack overflow, and error messages stay short.
@Suite struct ParserLimitsTests {
    private func xmlError(_ text: String) -> XMLError? {
        do throws(XMLError) {
            _ = try XMLDocument(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    private func urdfError(_ text: String, file: String? = "deep.urdf") -> URDFError? {
        do throws(URDFError) {
            _ = try URDFParser.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    /// `depth` nested `<a>` elements, one start tag per line (element k starts on line k).
    private func nested(_ depth: Int) -> String {
        String(repeating: "<a>\n", count: depth) + String(repeating: "</a>", count: depth)
    }

    @Test func xmlNestingBeyondTheLimitIsAnErrorAtTheFirstElementTooDeep() throws {
        // 48 500 levels overflowed the stack when the tree was released.
        for depth in [XMLParser.maxDepth + 1, 48_500] {
            let error = try #require(xmlError(nested(depth)))
            #expect(error.code == .tooDeep, "\(error)")
            #expect(error.line == XMLParser.maxDepth + 1, "\(error)")
            #expect(error.message.contains("more than \(XMLParser.maxDepth) levels"), "\(error)")
        }
        // A self-closing element one level too deep counts too.
        let selfClosing = String(repeating: "<a>", count: XMLParser.maxDepth) + "<b/>"
            + String(repeating: "</a>", count: XMLParser.maxDepth)
        #expect(xmlError(selfClosing)?.code == .tooDeep)
    }

    @Test func xmlNestingAtTheLimitParses() throws {
        var element = try XMLDocument(parsing: nested(XMLParser.maxDepth)).root
        var depth = 1
        while let child = element.children.first {
            element = child
            depth += 1
        }
        #expect(depth == XMLParser.maxDepth)
    }

    @Test func xmlElementCountIsBounded() throws {
        let atLimit = "<r>\n" + String(repeating: "<e/>", count: XMLParser.maxElements - 1) + "</r>"
        #expect(try XMLDocument(parsing: atLimit).root.children.count == XMLParser.maxElements - 1)
        let over = "<r>\n" + String(repeating: "<e/>", count: XMLParser.maxElements) + "</r>"
        let error = try #require(xmlError(over))
        #expect(error.code == .tooManyElements, "\(error)")
        #expect(error.line == 2 && error.message.contains("\(XMLParser.maxElements)"), "\(error)")
    }

    @Test func attributesPerElementAreBounded() throws {
        // Each attribute was compared with every earlier one: a 16 MiB element with millions of
        // attributes took hours.
        func element(_ count: Int) -> String {
            "<r\n" + (0 ..< count).map { "a\($0)='\($0)'" }.joined(separator: "\n") + "/>"
        }
        let atLimit = try XMLDocument(parsing: element(XMLParser.maxAttributes)).root
        #expect(atLimit.attributes.count == XMLParser.maxAttributes && atLimit[attribute: "a63"] == "63")
        let error = try #require(xmlError(element(XMLParser.maxAttributes + 1)))
        #expect(error.code == .tooManyAttributes, "\(error)")
        // Attribute k is on line k + 2.
        #expect(error.line == XMLParser.maxAttributes + 2 && error.message.contains("<r>"), "\(error)")
    }

    @Test func urdfLargerThanTheLimitIsRefusedBeforeParsing() throws {
        // Valid XML that would parse: the size alone refuses it.
        let padding = String(repeating: " ", count: URDFParser.maxBytes)
        let error = try #require(urdfError("<robot name='r'><link name='a'/></robot>" + padding))
        #expect(error.code == .tooLarge && error.line == 1, "\(error)")
        #expect(error.description.hasPrefix("deep.urdf:1: "), "\(error)")
        #expect(error.message.contains("\(URDFParser.maxBytes)"), "\(error)")
    }

    /// A chain of `links` links (l0 the root), joint j_k moving l_k.
    private func chain(links: Int) -> String {
        var body = "<link name='l0'/>\n"
        for index in 1 ..< links {
            body += "<link name='l\(index)'><inertial><mass value='1'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>\n"
            body += "<joint name='j\(index)' type='revolute'><parent link='l\(index - 1)'/><child link='l\(index)'/><axis xyz='0 0 1'/><limit effort='1' velocity='1'/></joint>\n"
        }
        return "<robot name='chain'>\n" + body + "</robot>"
    }

    @Test func linkAndJointCountsAreBounded() throws {
        #expect(try URDFParser.parse(chain(links: URDFParser.maxLinks)).links.count == URDFParser.maxLinks)
        // Line 1 is <robot>, l0 is on line 2, then l_k on line 2k + 1 with j_k after it: the first
        // link over the limit, l_maxLinks, is on line 2·maxLinks + 1.
        let error = try #require(urdfError(chain(links: URDFParser.maxLinks + 1)))
        #expect(error.code == .tooLarge, "\(error)")
        #expect(error.line == 2 * URDFParser.maxLinks + 1, "\(error)")
        #expect(error.message.contains("more than \(URDFParser.maxLinks) links"), "\(error)")

        let joints = "<robot name='r'>\n<link name='a'/>\n"
            + String(repeating: "<joint name='j' type='fixed'><parent link='a'/><child link='a'/></joint>\n", count: URDFParser.maxJoints + 1)
            + "</robot>"
        let jointError = try #require(urdfError(joints))
        #expect(jointError.code == .tooLarge && jointError.line == URDFParser.maxJoints + 3, "\(jointError)")
    }

    /// A description built in code is not bounded by the parser; the tree walk must not recurse
    /// once per link (4 400 links overflowed the stack in `robotd model inspect`).
    @Test func kinematicTreeOfAVeryLongChainBuildsWithoutRecursion() throws {
        let count = 10_000
        var links = [URDFLink(name: "l0")]
        var joints: [URDFJoint] = []
        for index in 1 ... count {
            links.append(URDFLink(name: "l\(index)", inertial: URDFInertial(mass: 1, ixx: 1, ixy: 0, ixz: 0, iyy: 1, iyz: 0, izz: 1)))
            joints.append(URDFJoint(
                name: "j\(index)", type: .revolute, parent: "l\(index - 1)", child: "l\(index)",
                origin: URDFPose(xyz: Vector3(0, 0, 0.1)), axis: .unitZ,
                limits: URDFLimits(lower: -1, upper: 1, velocity: 1, effort: 1), dynamics: .none
            ))
        }
        let model = try RobotModel(urdf: URDFDescription(name: "chain", links: links, joints: joints))
        #expect(model.dof == count)
        #expect(model.joints.enumerated().allSatisfy { $0.element.parent == $0.offset - 1 })
        #expect(model.totalMass == Double(count))
        // Depth-first order: in a chain, joint i's subtree is every joint after it.
        #expect(model.isAncestor(0, of: count - 1) && !model.isAncestor(count - 1, of: 0))
    }

    @Test func errorMessagesListTheFirstFewProblemsAndCountTheRest() throws {
        let body = (0 ..< 1_000).map { "<link name='link\($0)'/>" }.joined(separator: "\n")
        let error = try #require(urdfError("<robot name='r'>\n" + body + "\n</robot>"))
        #expect(error.code == .multipleRoots, "\(error)")
        #expect(error.message.hasPrefix(#"links "link0", "link1", "link2", "link3", "link4", … and 995 more"#), "\(error)")
    }

    @Test func errorMessagesQuotingHugeNamesStayShort() throws {
        let name = String(repeating: "n", count: 1 << 20)
        let error = try #require(xmlError("<\(name)></x>"))
        #expect(error.code == .mismatchedEndTag)
        #expect(error.message.utf8.count < 1_100 && error.message.hasSuffix("more bytes)"), "\(error.message.utf8.count)")
        let urdf = try #require(urdfError("<robot name='r'><link name='a'/><joint name='\(name)' type='hinge'/></robot>"))
        #expect(urdf.description.utf8.count < 1_400, "\(urdf.description.utf8.count)")
    }
}
