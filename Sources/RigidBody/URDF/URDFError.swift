/// Why a URDF file was rejected, and where.
///
/// `description` reads like a compiler diagnostic:
/// `robot.urdf:42: joint "elbow": unknown joint type "hinge" (expected revolute, continuous, prismatic or fixed)`.
/// Equality compares `code` and `element` only, so callers can match on the kind of failure and
/// the offending link or joint without depending on message wording.
public struct URDFError: Error, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case xml
            case invalidRoot
            case missingElement
            case duplicateElement
            case missingAttribute
            case invalidNumber
            case unknownJointType
            case unsupportedJointType
            case unsupportedElement
            case unknownLink
            case duplicateName
            case multipleParents
            case cycle
            case multipleRoots
            case noRoot
            case negativeMass
            case inertiaWithoutMass
            case inertiaNotPositiveDefinite
            case inertiaTriangleInequality
            case invalidLimits
            case invalidAxis
            case invalidDynamics
            case noMovingJoint
            case masslessJoint
            case unknownJoint
            case invalidMimic
            case singularMassMatrix
            case tooLarge
        }

        private var base: Base
        private init(_ base: Base) { self.base = base }

        /// The file is not well-formed XML.
        public static let xml = Code(.xml)
        /// The root element is not `<robot>`.
        public static let invalidRoot = Code(.invalidRoot)
        /// A required child element is absent (`<parent>`, `<mass>`, `<limit>` of a revolute joint, …).
        public static let missingElement = Code(.missingElement)
        /// An element that may appear once appears twice (two `<origin>`s in one joint, …).
        public static let duplicateElement = Code(.duplicateElement)
        /// A required attribute is absent or, for names, empty.
        public static let missingAttribute = Code(.missingAttribute)
        /// A number does not parse, is NaN or infinite, or a vector has other than three numbers.
        public static let invalidNumber = Code(.invalidNumber)
        /// A joint `type` that URDF does not define.
        public static let unknownJointType = Code(.unknownJointType)
        /// A joint `type` that URDF defines but robotd does not support (`floating`, `planar`).
        public static let unsupportedJointType = Code(.unsupportedJointType)
        /// An element robotd does not support (an unknown child of `<robotd>`).
        public static let unsupportedElement = Code(.unsupportedElement)
        /// A joint's parent or child names no `<link>`.
        public static let unknownLink = Code(.unknownLink)
        /// Two links, or two joints, share a name.
        public static let duplicateName = Code(.duplicateName)
        /// A link is the child of more than one joint.
        public static let multipleParents = Code(.multipleParents)
        /// The joints form a cycle.
        public static let cycle = Code(.cycle)
        /// More than one link is no joint's child.
        public static let multipleRoots = Code(.multipleRoots)
        /// No link qualifies as the root (there are no links, or every link is some joint's child).
        public static let noRoot = Code(.noRoot)
        /// `<mass value>` is negative.
        public static let negativeMass = Code(.negativeMass)
        /// A link with zero mass has a non-zero inertia tensor.
        public static let inertiaWithoutMass = Code(.inertiaWithoutMass)
        /// A link with positive mass has an inertia tensor that is not positive definite.
        public static let inertiaNotPositiveDefinite = Code(.inertiaNotPositiveDefinite)
        /// A principal moment of inertia exceeds the sum of the other two, which no rigid body has.
        public static let inertiaTriangleInequality = Code(.inertiaTriangleInequality)
        /// lower > upper, or a negative effort or velocity bound.
        public static let invalidLimits = Code(.invalidLimits)
        /// A joint axis of (near) zero length.
        public static let invalidAxis = Code(.invalidAxis)
        /// Negative damping or friction.
        public static let invalidDynamics = Code(.invalidDynamics)

        /// robotd's `<robotd>` extension names a joint that does not move or does not exist.
        public static let unknownJoint = Code(.unknownJoint)
        /// A `<mimic>` on a fixed joint, or naming a joint that does not exist, is fixed, is the
        /// joint itself or mimics another joint (chains of mimics are not supported).
        public static let invalidMimic = Code(.invalidMimic)
        /// The file is larger, or has more links or joints, than robotd accepts
        /// (`URDFParser.maxBytes`, `URDFParser.maxLinks`, `URDFParser.maxJoints`).
        public static let tooLarge = Code(.tooLarge)
        /// The tree has no revolute, continuous or prismatic joint (raised by `RobotModel`).
        public static let noMovingJoint = Code(.noMovingJoint)
        /// A moving joint carries no mass or inertia, so the mass matrix would be singular
        /// (raised by `RobotModel`).
        public static let masslessJoint = Code(.masslessJoint)
        /// A joint moves no inertia that the joints below it cannot move on their own (its whole
        /// subtree is a point mass on its axis, or it is coaxial with a child joint and carries
        /// nothing itself), so the joint-space mass matrix is singular (raised by `RobotModel`).
        public static let singularMassMatrix = Code(.singularMassMatrix)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The link, joint or robot at fault, as `joint "elbow"`, `link "forearm"` or `robot "arm"`;
    /// just the tag name (`joint`) when its name is the problem; `nil` for XML syntax errors.
    public var element: String?
    /// The file name given to the parser, if any.
    public var file: String?
    /// 1-based line of the most specific offending element or attribute.
    public var line: Int
    public var message: String

    public init(_ code: Code, element: String?, file: String? = nil, line: Int, message: String) {
        self.code = code
        self.element = element.map { clippedMessage($0, limit: 200) }
        self.file = file
        self.line = line
        self.message = clippedMessage(message)
    }

    public var description: String {
        let location = file.map { "\($0):\(line)" } ?? "line \(line)"
        guard let element else { return "\(location): \(message)" }
        return "\(location): \(element): \(message)"
    }

    public static func == (lhs: URDFError, rhs: URDFError) -> Bool {
        lhs.code == rhs.code && lhs.element == rhs.element
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(element)
    }
}
