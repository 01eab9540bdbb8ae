import LinearAlgebra

/// Reads URDF text into a checked `URDFDescription`.
///
/// Only `<link>` and `<joint>` children of `<robot>` are read; `<material>`, `<transmission>`,
/// `<gazebo>` and any other top-level element are ignored, as are `<visual>` and `<collision>`
/// inside links and `<calibration>` and `<safety_controller>` inside joints. The parser is
/// stricter than urdfdom where silence would hide a mistake: an element that may appear once
/// must appear at most once, names must be non-empty, every number must be finite, and inertias
/// must be physically possible.
public enum URDFParser {
    /// Largest URDF accepted (bytes of UTF-8): real arms are tens of kilobytes, and parsing is
    /// linear, so the bound is on memory and time for a hostile or mistaken file.
    public static let maxBytes = 16 << 20
    /// Most `<link>`s accepted. robotd controls at most 8 joints; the bound leaves room for
    /// frames and bounds the tree walks and the quadratic-in-depth mass checks.
    public static let maxLinks = 1_024
    /// Most `<joint>`s accepted (see `maxLinks`).
    public static let maxJoints = 1_024

    /// Parses and validates a URDF document.
    ///
    /// - Parameters:
    ///   - text: the URDF XML (xacro must already be expanded).
    ///   - file: a name for the source used in error descriptions, such as `robot.urdf`.
    /// - Returns: the robot, with every invariant documented on `URDFDescription` established.
    /// - Throws: `URDFError` for the first problem found: size (`maxBytes`), XML syntax, then
    ///   each link and joint in document order (at most `maxLinks` and `maxJoints`), then names and
    ///   the shape of the joint graph.
    /// - Warning: Not real-time safe.
    public static func parse(_ text: String, file: String? = nil) throws(URDFError) -> URDFDescription {
        guard text.utf8.count <= maxBytes else {
            throw URDFError(
                .tooLarge, element: nil, file: file, line: 1,
                message: "file is \(text.utf8.count) bytes; robotd reads URDFs of at most \(maxBytes) bytes (16 MiB)"
            )
        }
        let document: XMLDocument
        do throws(XMLError) {
            document = try XMLDocument(parsing: text)
        } catch {
            throw URDFError(.xml, element: nil, file: file, line: error.line, message: error.message)
        }
        var reader = URDFReader(file: file)
        return try reader.robot(document.root)
    }
}

/// Lines of a joint's `<parent>` and `<child>` tags, kept beside the description so graph errors
/// can point at the reference rather than at the `<joint>`.
private struct JointReferenceLines {
    var parent: Int
    var child: Int
}

private struct URDFReader {
    let file: String?
    var referenceLines: [JointReferenceLines] = []

    init(file: String?) {
        self.file = file
    }

    mutating func robot(_ root: XMLElement) throws(URDFError) -> URDFDescription {
        guard root.name == "robot" else {
            throw failure(.invalidRoot, nil, root.line, "root element is <\(root.name)>, expected <robot>")
        }
        let name = try self.name(of: root)
        var links: [URDFLink] = []
        var joints: [URDFJoint] = []
        var extensions: [XMLElement] = []
        for child in root.children {
            switch child.name {
            case "link":
                guard links.count < URDFParser.maxLinks else {
                    throw failure(.tooLarge, nil, child.line, "more than \(URDFParser.maxLinks) links (the limit)")
                }
                links.append(try link(child))
            case "joint":
                guard joints.count < URDFParser.maxJoints else {
                    throw failure(.tooLarge, nil, child.line, "more than \(URDFParser.maxJoints) joints (the limit)")
                }
                joints.append(try joint(child))
            case "robotd": extensions.append(child)
            default: continue
            }
        }
        var robot = URDFDescription(name: name, links: links, joints: joints)
        try checkNames(robot)
        try checkGraph(robot, owner: "robot \"\(name)\"", robotLine: root.line)
        try checkMimics(robot)
        for element in extensions { try readExtension(element, into: &robot) }
        return robot
    }

    /// robotd's extension block, ignored by other URDF tools:
    /// `<robotd><joint name="…" armature="kg·m²"/></robotd>`.
    func readExtension(_ element: XMLElement, into robot: inout URDFDescription) throws(URDFError) {
        for child in element.children {
            guard child.name == "joint" else {
                throw failure(.unsupportedElement, "robotd", child.line, "unknown element <\(child.name)> in <robotd> (expected <joint name=… armature=…/>)")
            }
            let jointName = try self.name(of: child)
            let owner = "joint \"\(jointName)\""
            guard robot.joints.contains(where: { $0.name == jointName && $0.type != .fixed }) else {
                throw failure(.unknownJoint, owner, child.line, "<robotd> names a joint that is not a moving joint of the robot")
            }
            let armature = try number("armature", of: child, owner: owner)
            guard armature >= 0 else {
                throw failure(.invalidDynamics, owner, child.line, "armature \(armature) kg·m² is negative")
            }
            robot.armature[jointName] = armature
        }
    }

    // MARK: links

    func link(_ element: XMLElement) throws(URDFError) -> URDFLink {
        let name = try self.name(of: element)
        let owner = "link \"\(name)\""
        guard let inertialElement = try optionalChild("inertial", of: element, owner: owner) else {
            return URDFLink(name: name, inertial: nil, line: element.line)
        }
        let origin = try pose(optionalChild("origin", of: inertialElement, owner: owner), owner: owner)
        let massElement = try requiredChild("mass", of: inertialElement, owner: owner)
        let inertiaElement = try requiredChild("inertia", of: inertialElement, owner: owner)
        let inertial = URDFInertial(
            origin: origin,
            mass: try number("value", of: massElement, owner: owner),
            ixx: try number("ixx", of: inertiaElement, owner: owner),
            ixy: try number("ixy", of: inertiaElement, owner: owner),
            ixz: try number("ixz", of: inertiaElement, owner: owner),
            iyy: try number("iyy", of: inertiaElement, owner: owner),
            iyz: try number("iyz", of: inertiaElement, owner: owner),
            izz: try number("izz", of: inertiaElement, owner: owner)
        )
        try check(inertial, owner: owner, massLine: massElement.line, inertiaLine: inertiaElement.line)
        return URDFLink(name: name, inertial: inertial, line: element.line)
    }

    /// Rejects what a simulator would reject: negative mass, inertia on a massless link, and for
    /// massive links a non-zero tensor that is not positive definite or whose principal moments
    /// λ₀ ≤ λ₁ ≤ λ₂ break λ₂ ≤ λ₀ + λ₁ (MuJoCo's "A + B ≥ C"), which no mass distribution has.
    func check(_ inertial: URDFInertial, owner: String, massLine: Int, inertiaLine: Int) throws(URDFError) {
        let mass = inertial.mass
        guard mass >= 0 else {
            throw failure(.negativeMass, owner, massLine, "negative mass \(mass) kg")
        }
        let components = [inertial.ixx, inertial.ixy, inertial.ixz, inertial.iyy, inertial.iyz, inertial.izz]
        guard mass > 0 else {
            if components.contains(where: { $0 != 0 }) {
                throw failure(.inertiaWithoutMass, owner, inertiaLine, "zero mass but a non-zero inertia tensor")
            }
            return
        }
        // A zero tensor is a point mass at the centre of mass: CAD exporters (onshape-to-robot, as
        // in the SO-101 description) give dummy frames a token mass such as 1e-9 kg with a zero
        // tensor, and hand-written models put servos in as point masses. Pinocchio and MuJoCo
        // accept it; whether every joint still moves some inertia is `RobotModel`'s check, on the
        // whole tree.
        guard components.contains(where: { $0 != 0 }) else { return }

        let moments = inertial.principalMoments
        let list = "\(moments.x), \(moments.y), \(moments.z) kg·m²"
        // Jacobi eigenvalues are accurate to a few ulps of the largest, so 1e-12 of it separates
        // a genuinely positive smallest moment from rounding noise around zero.
        guard moments.z > 0, moments.x > 1e-12 * moments.z else {
            throw failure(
                .inertiaNotPositiveDefinite, owner, inertiaLine,
                "inertia tensor is not positive definite (principal moments \(list))"
            )
        }
        let trace = moments.x + moments.y + moments.z
        guard moments.z <= moments.x + moments.y + 1e-9 * trace else {
            throw failure(
                .inertiaTriangleInequality, owner, inertiaLine,
                "principal moments of inertia \(list) violate the triangle inequality "
                    + "(\(moments.z) > \(moments.x) + \(moments.y))"
            )
        }
    }

    // MARK: joints

    mutating func joint(_ element: XMLElement) throws(URDFError) -> URDFJoint {
        let name = try self.name(of: element)
        let owner = "joint \"\(name)\""
        let typeText = try attribute("type", of: element, owner: owner)
        guard let type = URDFJointType(rawValue: typeText.value) else {
            if typeText.value == "floating" || typeText.value == "planar" {
                throw failure(
                    .unsupportedJointType, owner, typeText.line,
                    "unsupported joint type \"\(typeText.value)\" (robotd supports revolute, continuous, prismatic and fixed)"
                )
            }
            throw failure(
                .unknownJointType, owner, typeText.line,
                "unknown joint type \"\(typeText.value)\" (expected revolute, continuous, prismatic or fixed)"
            )
        }
        var mimic: URDFMimic?
        if let mimicElement = try optionalChild("mimic", of: element, owner: owner) {
            guard type != .fixed else {
                throw failure(.invalidMimic, owner, mimicElement.line, "a fixed joint cannot mimic another joint")
            }
            let leader = try attribute("joint", of: mimicElement, owner: owner)
            guard !leader.value.isEmpty else {
                throw failure(.missingAttribute, owner, leader.line, "attribute \"joint\" of <mimic> is empty")
            }
            mimic = URDFMimic(
                joint: leader.value,
                multiplier: try number("multiplier", of: mimicElement, owner: owner, default: 1),
                offset: try number("offset", of: mimicElement, owner: owner, default: 0),
                line: mimicElement.line
            )
        }

        let parentElement = try requiredChild("parent", of: element, owner: owner)
        let childElement = try requiredChild("child", of: element, owner: owner)
        let parent = try attribute("link", of: parentElement, owner: owner).value
        let child = try attribute("link", of: childElement, owner: owner).value
        let origin = try pose(optionalChild("origin", of: element, owner: owner), owner: owner)

        // URDF gives fixed joints no axis and no limits; urdfdom ignores both, and so do we.
        var axis = Vector3.unitX
        if type != .fixed, let axisElement = try optionalChild("axis", of: element, owner: owner) {
            let raw = try vector("xyz", of: axisElement, owner: owner, default: nil)
            let norm = raw.norm
            guard norm >= 1e-9 else {
                throw failure(.invalidAxis, owner, axisElement.line, "axis \(raw) has zero length")
            }
            axis = raw / norm
        }

        let limits: URDFLimits?
        switch type {
        case .fixed:
            limits = nil
        case .revolute, .prismatic:
            let limitElement = try requiredChild("limit", of: element, owner: owner)
            limits = try self.limits(limitElement, continuous: false, owner: owner)
        case .continuous:
            if let limitElement = try optionalChild("limit", of: element, owner: owner) {
                limits = try self.limits(limitElement, continuous: true, owner: owner)
            } else {
                limits = URDFLimits(lower: -.infinity, upper: .infinity, velocity: .infinity, effort: .infinity)
            }
        }

        var dynamics = URDFDynamics.none
        if let dynamicsElement = try optionalChild("dynamics", of: element, owner: owner) {
            dynamics.damping = try number("damping", of: dynamicsElement, owner: owner, default: 0)
            dynamics.friction = try number("friction", of: dynamicsElement, owner: owner, default: 0)
            guard dynamics.damping >= 0 else {
                throw failure(.invalidDynamics, owner, dynamicsElement.line, "negative damping \(dynamics.damping)")
            }
            guard dynamics.friction >= 0 else {
                throw failure(.invalidDynamics, owner, dynamicsElement.line, "negative friction \(dynamics.friction)")
            }
        }

        referenceLines.append(JointReferenceLines(parent: parentElement.line, child: childElement.line))
        return URDFJoint(
            name: name, type: type, parent: parent, child: child, origin: origin, axis: axis,
            limits: limits, dynamics: dynamics, mimic: mimic, line: element.line
        )
    }

    /// `effort` and `velocity` are required (URDF spec); `lower` and `upper` default to 0 and are
    /// ignored for continuous joints, whose range is unbounded.
    func limits(_ element: XMLElement, continuous: Bool, owner: String) throws(URDFError) -> URDFLimits {
        let effort = try number("effort", of: element, owner: owner)
        let velocity = try number("velocity", of: element, owner: owner)
        var lower = -Double.infinity
        var upper = Double.infinity
        if !continuous {
            lower = try number("lower", of: element, owner: owner, default: 0)
            upper = try number("upper", of: element, owner: owner, default: 0)
            guard lower <= upper else {
                throw failure(.invalidLimits, owner, element.line, "lower limit \(lower) is greater than upper limit \(upper)")
            }
        }
        guard effort >= 0 else {
            throw failure(.invalidLimits, owner, element.line, "negative effort limit \(effort)")
        }
        guard velocity >= 0 else {
            throw failure(.invalidLimits, owner, element.line, "negative velocity limit \(velocity)")
        }
        return URDFLimits(lower: lower, upper: upper, velocity: velocity, effort: effort)
    }

    // MARK: names and graph

    func checkNames(_ robot: URDFDescription) throws(URDFError) {
        var linkLines: [String: Int] = [:]
        for link in robot.links {
            if let first = linkLines[link.name] {
                throw failure(
                    .duplicateName, "link \"\(link.name)\"", link.line, "duplicate link name (first defined at line \(first))"
                )
            }
            linkLines[link.name] = link.line
        }
        var jointLines: [String: Int] = [:]
        for joint in robot.joints {
            if let first = jointLines[joint.name] {
                throw failure(
                    .duplicateName, "joint \"\(joint.name)\"", joint.line,
                    "duplicate joint name (first defined at line \(first))"
                )
            }
            jointLines[joint.name] = joint.line
        }
    }

    /// Establishes the tree shape: references resolve, every link has at most one parent joint,
    /// exactly one link has none (the root), and every link is reachable from the root. With at
    /// most one parent per link, a link the root cannot reach must sit on (or hang below) a cycle.
    func checkGraph(_ robot: URDFDescription, owner robotOwner: String, robotLine: Int) throws(URDFError) {
        let linkNames = Set(robot.links.map(\.name))
        var parentJoint: [String: Int] = [:]
        for (index, joint) in robot.joints.enumerated() {
            let owner = "joint \"\(joint.name)\""
            let lines = referenceLines[index]
            guard linkNames.contains(joint.parent) else {
                throw failure(.unknownLink, owner, lines.parent, "parent link \"\(joint.parent)\" is not defined")
            }
            guard linkNames.contains(joint.child) else {
                throw failure(.unknownLink, owner, lines.child, "child link \"\(joint.child)\" is not defined")
            }
            guard joint.parent != joint.child else {
                throw failure(.cycle, owner, lines.child, "link \"\(joint.child)\" is both parent and child")
            }
            if let previous = parentJoint[joint.child] {
                let other = robot.joints[previous]
                throw failure(
                    .multipleParents, owner, lines.child,
                    "link \"\(joint.child)\" is already the child of joint \"\(other.name)\" (line \(other.line))"
                )
            }
            parentJoint[joint.child] = index
        }

        guard !robot.links.isEmpty else {
            throw failure(.noRoot, robotOwner, robotLine, "robot has no links")
        }
        let roots = robot.links.filter { parentJoint[$0.name] == nil }
        guard let root = roots.first else {
            throw failure(
                .noRoot, robotOwner, robotLine,
                "every link is the child of a joint, so there is no root link (the joints form a cycle)"
            )
        }
        guard roots.count == 1 else {
            let names = listed(roots.map { "\"\($0.name)\"" }, separator: ", ")
            throw failure(
                .multipleRoots, robotOwner, roots[1].line,
                "links \(names) have no parent joint; a URDF has exactly one root link"
            )
        }

        var childJoints: [String: [Int]] = [:]
        for (index, joint) in robot.joints.enumerated() { childJoints[joint.parent, default: []].append(index) }
        var reached: Set<String> = [root.name]
        var pending = [root.name]
        while let link = pending.popLast() {
            for index in childJoints[link] ?? [] where reached.insert(robot.joints[index].child).inserted {
                pending.append(robot.joints[index].child)
            }
        }
        guard let stray = robot.links.first(where: { !reached.contains($0.name) }) else { return }
        throw cycleFailure(robot, from: stray.name, parentJoint: parentJoint)
    }

    /// A follower's leader must be a moving joint that is its own degree of freedom: robotd (like
    /// Pinocchio) reduces q_f = m·q_l + c in one step, so chains of mimics are rejected rather
    /// than composed.
    func checkMimics(_ robot: URDFDescription) throws(URDFError) {
        let byName = Dictionary(robot.joints.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for joint in robot.joints {
            guard let mimic = joint.mimic else { continue }
            let owner = "joint \"\(joint.name)\""
            guard mimic.joint != joint.name else {
                throw failure(.invalidMimic, owner, mimic.line, "joint mimics itself")
            }
            guard let leader = byName[mimic.joint] else {
                throw failure(.invalidMimic, owner, mimic.line, "<mimic> names joint \"\(mimic.joint)\", which is not defined")
            }
            guard leader.type != .fixed else {
                throw failure(
                    .invalidMimic, owner, mimic.line,
                    "<mimic> names fixed joint \"\(leader.name)\" (line \(leader.line)); a leader must be revolute, continuous or prismatic"
                )
            }
            if let next = leader.mimic {
                throw failure(
                    .invalidMimic, owner, mimic.line,
                    "<mimic> names joint \"\(leader.name)\", which itself mimics \"\(next.joint)\" (line \(next.line)); "
                        + "chains of mimic joints are not supported: mimic \"\(next.joint)\" directly"
                )
            }
        }
    }

    /// Walks parent joints up from `start` (a link the root cannot reach) until a link repeats,
    /// and names the cycle's joints starting from the first in document order.
    func cycleFailure(_ robot: URDFDescription, from start: String, parentJoint: [String: Int]) -> URDFError {
        var step: [String: Int] = [:]
        var path: [Int] = []
        var link = start
        while step[link] == nil, let index = parentJoint[link] {
            step[link] = path.count
            path.append(index)
            link = robot.joints[index].parent
        }
        // Unreachable links always have a parent joint whose parent is unreachable too, so the
        // walk ends on a repeat; the fallback only keeps this total.
        let cycle = step[link].map { Array(path[$0...]) } ?? path
        guard let first = cycle.min() else {
            return failure(.cycle, "link \"\(start)\"", 0, "link is not connected to the root")
        }
        // The walk runs child → parent; list parent → child, starting at `first`.
        let forward = Array(cycle.reversed())
        let offset = forward.firstIndex(of: first) ?? 0
        let names = (forward[offset...] + forward[..<offset]).map { "\"\(robot.joints[$0].name)\"" }
        let joint = robot.joints[first]
        return failure(
            .cycle, "joint \"\(joint.name)\"", joint.line, "joints \(listed(names, separator: " → ")) form a cycle"
        )
    }

    // MARK: elements and attributes

    /// The non-empty `name` attribute; errors name the tag alone, since the name is the problem.
    func name(of element: XMLElement) throws(URDFError) -> String {
        let name = try attribute("name", of: element, owner: element.name)
        guard !name.value.isEmpty else {
            throw failure(.missingAttribute, element.name, name.line, "attribute \"name\" of <\(element.name)> is empty")
        }
        return name.value
    }

    func attribute(_ name: String, of element: XMLElement, owner: String) throws(URDFError) -> XMLAttribute {
        guard let attribute = element.attributes.first(where: { $0.name == name }) else {
            throw failure(.missingAttribute, owner, element.line, "<\(element.name)> is missing attribute \"\(name)\"")
        }
        return attribute
    }

    func optionalChild(_ tag: String, of element: XMLElement, owner: String) throws(URDFError) -> XMLElement? {
        var found: XMLElement?
        for child in element.children where child.name == tag {
            if let first = found {
                throw failure(
                    .duplicateElement, owner, child.line,
                    "more than one <\(tag)> in <\(element.name)> (the first is at line \(first.line))"
                )
            }
            found = child
        }
        return found
    }

    func requiredChild(_ tag: String, of element: XMLElement, owner: String) throws(URDFError) -> XMLElement {
        guard let child = try optionalChild(tag, of: element, owner: owner) else {
            throw failure(.missingElement, owner, element.line, "<\(element.name)> has no <\(tag)>")
        }
        return child
    }

    /// `<origin xyz rpy>`, each defaulting to zero; a missing element is the identity.
    func pose(_ element: XMLElement?, owner: String) throws(URDFError) -> URDFPose {
        guard let element else { return .identity }
        return URDFPose(
            xyz: try vector("xyz", of: element, owner: owner, default: .zero),
            rpy: try vector("rpy", of: element, owner: owner, default: .zero)
        )
    }

    /// A finite number; `default` (when given) stands in for a missing attribute.
    func number(_ name: String, of element: XMLElement, owner: String, default: Double? = nil) throws(URDFError) -> Double {
        if let `default`, element[attribute: name] == nil { return `default` }
        let values = try numbers(name, of: element, owner: owner, count: 1)
        return values[0]
    }

    /// Three whitespace-separated finite numbers; `default` (when given) stands in for a missing
    /// attribute.
    func vector(_ name: String, of element: XMLElement, owner: String, default: Vector3?) throws(URDFError) -> Vector3 {
        if let `default`, element[attribute: name] == nil { return `default` }
        let values = try numbers(name, of: element, owner: owner, count: 3)
        return Vector3(values[0], values[1], values[2])
    }

    /// - Returns: exactly `count` finite values.
    func numbers(_ name: String, of element: XMLElement, owner: String, count: Int) throws(URDFError) -> [Double] {
        let attribute = try self.attribute(name, of: element, owner: owner)
        let fields = attribute.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard fields.count == count else {
            let expected = count == 1 ? "a number" : "\(count) numbers"
            throw failure(
                .invalidNumber, owner, attribute.line,
                "attribute \"\(name)\" of <\(element.name)> needs \(expected), found \"\(attribute.value)\""
            )
        }
        var values: [Double] = []
        values.reserveCapacity(count)
        for field in fields {
            guard let value = Double(field), value.isFinite else {
                throw failure(
                    .invalidNumber, owner, attribute.line,
                    "attribute \"\(name)\" of <\(element.name)> is not a finite number: \"\(field)\""
                )
            }
            values.append(value)
        }
        return values
    }

    /// The first few items, then "… and N more": a diagnostic names enough to find the problem.
    func listed(_ items: [String], separator: String, limit: Int = 5) -> String {
        guard items.count > limit else { return items.joined(separator: separator) }
        return items.prefix(limit).joined(separator: separator) + "\(separator)… and \(items.count - limit) more"
    }

    func failure(_ code: URDFError.Code, _ element: String?, _ line: Int, _ message: String) -> URDFError {
        URDFError(code, element: element, file: file, line: line, message: message)
    }
}
