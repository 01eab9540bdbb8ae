import Foundation
import LinearAlgebra
import RigidBody
import Testing

@Suite struct URDFParserTests {
    static let twoLinkArm = """
        <?xml version="1.0"?>
        <!-- two moving links on a fixed base -->
        <robot name="arm">
          <material name="grey"><color rgba="0.5 0.5 0.5 1"/></material>
          <link name="base"/>
          <link name="upper">
            <visual><geometry><mesh filename="package://arm/upper.stl"/></geometry></visual>
            <collision><geometry><box size="0.1 0.1 0.5"/></geometry></collision>
            <inertial>
              <origin xyz="0 0 0.25" rpy="0 1.5707963267948966 0"/>
              <mass value="2.0"/>
              <inertia ixx="0.1" ixy="0.0" ixz="0.0" iyy="0.1" iyz="0.0" izz="0.02"/>
            </inertial>
          </link>
          <link name="lower">
            <inertial>
              <mass value=" 1.5 "/>
              <inertia ixx="0.05" ixy="0.001" ixz="0" iyy="0.05" iyz="-1e-3" izz="0.01"/>
            </inertial>
          </link>
          <joint name="shoulder" type="revolute">
            <parent link="base"/>
            <child link="upper"/>
            <origin xyz="0 0 0.1" rpy="0 0 1.0"/>
            <axis xyz="0 0 2"/>
            <limit lower="-3.0" upper="3.0" effort="40" velocity="2.5"/>
            <dynamics damping="0.5" friction="0.1"/>
            <safety_controller k_velocity="10"/>
          </joint>
          <joint name="elbow" type="continuous">
            <parent link="upper"/>
            <child link="lower"/>
            <origin xyz="0 0	0.5"/>
            <axis xyz="0 1 1"/>
          </joint>
          <transmission name="t1"><type>transmission_interface/SimpleTransmission</type></transmission>
          <gazebo reference="upper"/>
        </robot>
        """

    @Test func parsesTwoLinkArm() throws {
        let robot = try URDFParser.parse(Self.twoLinkArm, file: "arm.urdf")
        let expected = URDFDescription(
            name: "arm",
            links: [
                URDFLink(name: "base", inertial: nil, line: 5),
                URDFLink(
                    name: "upper",
                    inertial: URDFInertial(
                        origin: URDFPose(xyz: Vector3(0, 0, 0.25), rpy: Vector3(0, 1.5707963267948966, 0)), mass: 2,
                        ixx: 0.1, ixy: 0, ixz: 0, iyy: 0.1, iyz: 0, izz: 0.02
                    ),
                    line: 6
                ),
                URDFLink(
                    name: "lower",
                    inertial: URDFInertial(mass: 1.5, ixx: 0.05, ixy: 0.001, ixz: 0, iyy: 0.05, iyz: -0.001, izz: 0.01),
                    line: 15
                ),
            ],
            joints: [
                URDFJoint(
                    name: "shoulder", type: .revolute, parent: "base", child: "upper",
                    origin: URDFPose(xyz: Vector3(0, 0, 0.1), rpy: Vector3(0, 0, 1)), axis: .unitZ,
                    limits: URDFLimits(lower: -3, upper: 3, velocity: 2.5, effort: 40),
                    dynamics: URDFDynamics(damping: 0.5, friction: 0.1), line: 21
                ),
                URDFJoint(
                    name: "elbow", type: .continuous, parent: "upper", child: "lower",
                    origin: URDFPose(xyz: Vector3(0, 0, 0.5)), axis: Vector3(0, 1, 1) / 2.0.squareRoot(),
                    limits: URDFLimits(lower: -.infinity, upper: .infinity, velocity: .infinity, effort: .infinity),
                    dynamics: .none, line: 30
                ),
            ]
        )
        #expect(robot == expected)
        let elbowAxis = try #require(robot.joints.last?.axis)
        #expect(abs(elbowAxis.norm - 1) < 1e-15)
    }

    @Test func appliesDefaultsPerJointType() throws {
        let robot = try URDFParser.parse(
            robot(
                """
                <link name="a"/><link name="b"/><link name="c"/><link name="d"/><link name="e"/>
                <joint name="slide" type="prismatic">
                  <parent link="a"/><child link="b"/>
                  <limit effort="100" velocity="0.5"/>
                </joint>
                <joint name="weld" type="fixed">
                  <parent link="b"/><child link="c"/>
                  <axis xyz="0 0 0"/>
                  <limit effort="-1" velocity="-1"/>
                </joint>
                <joint name="spin" type="continuous">
                  <parent link="c"/><child link="d"/>
                  <limit lower="5" upper="-5" effort="3" velocity="4"/>
                  <dynamics damping="0.25"/>
                </joint>
                <joint name="turn" type="revolute">
                  <parent link="a"/><child link="e"/>
                  <origin rpy="0.1 0.2 0.3"/>
                  <limit effort="1" velocity="2" upper="0.5"/>
                </joint>
                """
            )
        )
        #expect(robot.links.allSatisfy { $0.inertial == nil })
        let joints = Dictionary(uniqueKeysWithValues: robot.joints.map { ($0.name, $0) })

        let slide = try #require(joints["slide"])
        #expect(slide.type == .prismatic)
        #expect(slide.axis == .unitX)
        #expect(slide.origin == .identity)
        #expect(slide.limits == URDFLimits(lower: 0, upper: 0, velocity: 0.5, effort: 100))
        #expect(slide.dynamics == .none)

        let weld = try #require(joints["weld"])
        #expect(weld.axis == .unitX)
        #expect(weld.limits == nil)

        let spin = try #require(joints["spin"])
        #expect(spin.limits == URDFLimits(lower: -.infinity, upper: .infinity, velocity: 4, effort: 3))
        #expect(spin.dynamics == URDFDynamics(damping: 0.25, friction: 0))

        let turn = try #require(joints["turn"])
        #expect(turn.origin == URDFPose(xyz: .zero, rpy: Vector3(0.1, 0.2, 0.3)))
        #expect(turn.limits == URDFLimits(lower: 0, upper: 0.5, velocity: 2, effort: 1))
    }

    @Test func acceptsMasslessLinksAndPhysicalInertias() throws {
        // A thin disc sits exactly on the triangle inequality (I_zz = I_xx + I_yy); rotated, its
        // tensor has off-diagonal terms and the check must still pass within rounding.
        let disc = rotated(Vector3(1, 1, 2), by: Matrix3.rpy(0.3, -0.7, 1.1))
        let rod = rotated(Vector3(1e-9, 0.5, 0.5), by: Matrix3.rpy(1.2, 0.4, -0.2))
        let robot = try URDFParser.parse(
            robot(
                """
                <link name="frame"><inertial><mass value="0"/>\(inertia(.zero))</inertial></link>
                <link name="disc"><inertial><mass value="3"/>\(inertia(disc))</inertial></link>
                <link name="rod"><inertial><mass value="1e-3"/>\(inertia(rod))</inertial></link>
                <joint name="j1" type="fixed"><parent link="frame"/><child link="disc"/></joint>
                <joint name="j2" type="fixed"><parent link="frame"/><child link="rod"/></joint>
                """
            )
        )
        let moments = try #require(robot.links[1].inertial?.principalMoments)
        #expect(abs(moments.x - 1) < 1e-14 && abs(moments.y - 1) < 1e-14 && abs(moments.z - 2) < 1e-14)
    }

    @Test func principalMomentsMatchTheDiagonalForm() {
        let moments = Vector3(0.2, 0.5, 0.6)
        for angles in [Vector3(0, 0, 0), Vector3(0.1, 0.2, 0.3), Vector3(-2, 1, 3), Vector3(1.5707963267948966, 0, 0)] {
            let tensor = Matrix3.rpy(angles.x, angles.y, angles.z) * .diagonal(moments)
                * Matrix3.rpy(angles.x, angles.y, angles.z).transposed
            let inertial = URDFInertial(
                mass: 1, ixx: tensor.m00, ixy: tensor.m01, ixz: tensor.m02, iyy: tensor.m11, iyz: tensor.m12, izz: tensor.m22
            )
            let computed = inertial.principalMoments
            #expect((computed - moments).norm < 1e-14, "\(angles): \(computed)")
        }
    }

    // MARK: errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var label: String
        var text: String
        var code: URDFError.Code
        var element: String?
        var line: Int
        var fragment: String
        var testDescription: String { label }
    }

    static let errorCases: [ErrorCase] = [
        // document
        .init(label: "xml", text: "<robot name='r'>\n<link name='a'>\n</robot>", code: .xml, element: nil, line: 3, fragment: "</robot>"),
        .init(label: "root", text: "<model name='r'/>", code: .invalidRoot, element: nil, line: 1, fragment: "<model>"),
        .init(label: "robot name", text: "<robot>\n</robot>", code: .missingAttribute, element: "robot", line: 1, fragment: "\"name\""),
        // links
        .init(
            label: "link name", text: robot("<link/>"), code: .missingAttribute, element: "link", line: 2, fragment: "<link> is missing attribute \"name\""
        ),
        .init(label: "empty link name", text: robot("<link name=''/>"), code: .missingAttribute, element: "link", line: 2, fragment: "empty"),
        .init(
            label: "no mass", text: robot("<link name='a'>\n<inertial>\n<inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .missingElement, element: #"link "a""#, line: 3, fragment: "<inertial> has no <mass>"
        ),
        .init(
            label: "no inertia", text: robot("<link name='a'><inertial><mass value='1'/></inertial></link>"),
            code: .missingElement, element: #"link "a""#, line: 2, fragment: "<inertia>"
        ),
        .init(
            label: "inertia attribute", text: robot("<link name='a'><inertial><mass value='1'/>\n<inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0'/></inertial></link>"),
            code: .missingAttribute, element: #"link "a""#, line: 3, fragment: "\"izz\""
        ),
        .init(
            label: "two inertials", text: robot("<link name='a'>\(massive)\n\(massive)</link>"),
            code: .duplicateElement, element: #"link "a""#, line: 3, fragment: "more than one <inertial>"
        ),
        .init(
            label: "negative mass", text: robot("<link name='a'><inertial>\n<mass value='-1.0'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .negativeMass, element: #"link "a""#, line: 3, fragment: "negative mass -1.0 kg"
        ),
        .init(
            label: "NaN mass", text: robot("<link name='a'><inertial><mass value='nan'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .invalidNumber, element: #"link "a""#, line: 2, fragment: "attribute \"value\" of <mass>"
        ),
        .init(
            label: "infinite inertia", text: robot("<link name='a'><inertial><mass value='1'/><inertia ixx='inf' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .invalidNumber, element: #"link "a""#, line: 2, fragment: "\"ixx\""
        ),
        .init(
            label: "not a number", text: robot("<link name='a'><inertial><mass value='1 kg'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .invalidNumber, element: #"link "a""#, line: 2, fragment: "needs a number"
        ),
        .init(
            label: "short xyz", text: robot("<link name='a'><inertial><origin xyz='0 1'/>\(massiveBody)</inertial></link>"),
            code: .invalidNumber, element: #"link "a""#, line: 2, fragment: "attribute \"xyz\" of <origin> needs 3 numbers"
        ),
        .init(
            label: "long rpy", text: robot("<link name='a'><inertial><origin rpy='0 1 2 3'/>\(massiveBody)</inertial></link>"),
            code: .invalidNumber, element: #"link "a""#, line: 2, fragment: "\"rpy\""
        ),
        .init(
            label: "indefinite inertia", text: robot("<link name='a'><inertial><mass value='1'/>\n<inertia ixx='1' ixy='2' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .inertiaNotPositiveDefinite, element: #"link "a""#, line: 3, fragment: "not positive definite"
        ),
        // A zero tensor with mass is a point mass (PointMassTests); a zero diagonal with products
        // of inertia is indefinite.
        .init(
            label: "zero diagonal with products", text: robot("<link name='a'><inertial><mass value='1e-9'/><inertia ixx='0' ixy='1e-6' ixz='0' iyy='0' iyz='0' izz='0'/></inertial></link>"),
            code: .inertiaNotPositiveDefinite, element: #"link "a""#, line: 2, fragment: "not positive definite"
        ),
        .init(
            label: "semidefinite inertia", text: robot("<link name='a'><inertial><mass value='1'/><inertia ixx='1' ixy='1' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .inertiaNotPositiveDefinite, element: #"link "a""#, line: 2, fragment: "principal moments 0.0, 1.0, 2.0 kg·m²"
        ),
        .init(
            label: "triangle inequality", text: robot("<link name='a'><inertial><mass value='1'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='2.001'/></inertial></link>"),
            code: .inertiaTriangleInequality, element: #"link "a""#, line: 2, fragment: "triangle inequality"
        ),
        .init(
            label: "rotated triangle inequality",
            text: robot("<link name='a'><inertial><mass value='1'/>\(inertia(rotated(Vector3(1, 1, 2.000001), by: Matrix3.rpy(0.4, 0.5, 0.6))))</inertial></link>"),
            code: .inertiaTriangleInequality, element: #"link "a""#, line: 2, fragment: "triangle inequality"
        ),
        .init(
            label: "inertia without mass", text: robot("<link name='a'><inertial><mass value='0'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/></inertial></link>"),
            code: .inertiaWithoutMass, element: #"link "a""#, line: 2, fragment: "zero mass"
        ),
        // joints
        .init(label: "joint name", text: robot("\(ab)<joint type='fixed'/>"), code: .missingAttribute, element: "joint", line: 3, fragment: "\"name\""),
        .init(label: "joint type", text: robot("\(ab)<joint name='j'/>"), code: .missingAttribute, element: #"joint "j""#, line: 3, fragment: "\"type\""),
        .init(
            label: "unknown type", text: robot("\(ab)<joint name='j'\n type='hinge'/>"),
            code: .unknownJointType, element: #"joint "j""#, line: 4, fragment: #"unknown joint type "hinge" (expected revolute, continuous, prismatic or fixed)"#
        ),
        .init(label: "floating", text: robot("\(ab)<joint name='j' type='floating'/>"), code: .unsupportedJointType, element: #"joint "j""#, line: 3, fragment: "\"floating\""),
        .init(label: "planar", text: robot("\(ab)<joint name='j' type='planar'/>"), code: .unsupportedJointType, element: #"joint "j""#, line: 3, fragment: "\"planar\""),
        // mimic (the leader checks run after the whole document is read)
        .init(
            label: "mimic on a fixed joint", text: robot("\(ab)<joint name='j' type='fixed'>\(pab)\n<mimic joint='k'/></joint>"),
            code: .invalidMimic, element: #"joint "j""#, line: 4, fragment: "a fixed joint cannot mimic"
        ),
        .init(
            label: "mimic without joint", text: robot("\(abc)\(moving("k", "a", "b"))<joint name='j' type='revolute'><parent link='b'/><child link='c'/>\(limit)\n<mimic/></joint>"),
            code: .missingAttribute, element: #"joint "j""#, line: 4, fragment: "<mimic> is missing attribute \"joint\""
        ),
        .init(
            label: "mimic of an unknown joint", text: robot("\(abc)\(moving("k", "a", "b"))\(follower("j", "b", "c", "\n<mimic joint='elbow'/>"))"),
            code: .invalidMimic, element: #"joint "j""#, line: 4, fragment: #"names joint "elbow", which is not defined"#
        ),
        .init(
            label: "mimic of a fixed joint", text: robot("\(abc)<joint name='k' type='fixed'>\(pab)</joint>\(follower("j", "b", "c", "\n<mimic joint='k' multiplier='2'/>"))"),
            code: .invalidMimic, element: #"joint "j""#, line: 4, fragment: #"names fixed joint "k" (line 3)"#
        ),
        .init(
            label: "mimic of itself", text: robot("\(abc)\(moving("k", "a", "b"))\(follower("j", "b", "c", "\n<mimic joint='j'/>"))"),
            code: .invalidMimic, element: #"joint "j""#, line: 4, fragment: "mimics itself"
        ),
        .init(
            label: "chain of mimics",
            text: robot("<link name='a'/><link name='b'/><link name='c'/><link name='d'/>\n\(moving("k", "a", "b"))\(follower("j", "b", "c", "<mimic joint='k'/>"))\n\(follower("i", "c", "d", "\n<mimic joint='j'/>"))"),
            code: .invalidMimic, element: #"joint "i""#, line: 5, fragment: #"which itself mimics "k" (line 3); chains of mimic joints are not supported"#
        ),
        .init(
            label: "NaN multiplier", text: robot("\(abc)\(moving("k", "a", "b"))\(follower("j", "b", "c", "\n<mimic joint='k' multiplier='nan'/>"))"),
            code: .invalidNumber, element: #"joint "j""#, line: 4, fragment: #"attribute "multiplier" of <mimic> is not a finite number: "nan""#
        ),
        .init(
            label: "infinite offset", text: robot("\(abc)\(moving("k", "a", "b"))\(follower("j", "b", "c", "<mimic joint='k'\n offset='-inf'/>"))"),
            code: .invalidNumber, element: #"joint "j""#, line: 4, fragment: #"attribute "offset" of <mimic>"#
        ),
        .init(
            label: "two mimics", text: robot("\(abc)\(moving("k", "a", "b"))\(follower("j", "b", "c", "<mimic joint='k'/>\n<mimic joint='k'/>"))"),
            code: .duplicateElement, element: #"joint "j""#, line: 4, fragment: "more than one <mimic>"
        ),
        .init(
            label: "no parent", text: robot("\(ab)<joint name='j' type='fixed'><child link='b'/></joint>"),
            code: .missingElement, element: #"joint "j""#, line: 3, fragment: "<joint> has no <parent>"
        ),
        .init(
            label: "no child", text: robot("\(ab)<joint name='j' type='fixed'><parent link='a'/></joint>"),
            code: .missingElement, element: #"joint "j""#, line: 3, fragment: "<child>"
        ),
        .init(
            label: "parent without link", text: robot("\(ab)<joint name='j' type='fixed'>\n<parent/><child link='b'/></joint>"),
            code: .missingAttribute, element: #"joint "j""#, line: 4, fragment: "<parent> is missing attribute \"link\""
        ),
        .init(
            label: "two origins", text: robot("\(ab)<joint name='j' type='fixed'>\(pab)<origin/>\n<origin/></joint>"),
            code: .duplicateElement, element: #"joint "j""#, line: 4, fragment: "more than one <origin>"
        ),
        .init(
            label: "revolute without limit", text: robot("\(ab)<joint name='j' type='revolute'>\(pab)</joint>"),
            code: .missingElement, element: #"joint "j""#, line: 3, fragment: "<limit>"
        ),
        .init(
            label: "prismatic without effort", text: robot("\(ab)<joint name='j' type='prismatic'>\(pab)\n<limit velocity='1'/></joint>"),
            code: .missingAttribute, element: #"joint "j""#, line: 4, fragment: "\"effort\""
        ),
        .init(
            label: "continuous without velocity", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)<limit effort='1'/></joint>"),
            code: .missingAttribute, element: #"joint "j""#, line: 3, fragment: "\"velocity\""
        ),
        .init(
            label: "lower above upper", text: robot("\(ab)<joint name='j' type='revolute'>\(pab)\n<limit lower='1' upper='-1' effort='1' velocity='1'/></joint>"),
            code: .invalidLimits, element: #"joint "j""#, line: 4, fragment: "lower limit 1.0 is greater than upper limit -1.0"
        ),
        .init(
            label: "negative effort", text: robot("\(ab)<joint name='j' type='revolute'>\(pab)<limit effort='-1' velocity='1'/></joint>"),
            code: .invalidLimits, element: #"joint "j""#, line: 3, fragment: "negative effort"
        ),
        .init(
            label: "negative velocity", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)<limit effort='1' velocity='-1'/></joint>"),
            code: .invalidLimits, element: #"joint "j""#, line: 3, fragment: "negative velocity"
        ),
        .init(
            label: "infinite limit", text: robot("\(ab)<joint name='j' type='revolute'>\(pab)<limit upper='inf' effort='1' velocity='1'/></joint>"),
            code: .invalidNumber, element: #"joint "j""#, line: 3, fragment: "\"upper\""
        ),
        .init(
            label: "zero axis", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)\n<axis xyz='0 0 0'/></joint>"),
            code: .invalidAxis, element: #"joint "j""#, line: 4, fragment: "zero length"
        ),
        .init(
            label: "axis without xyz", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)<axis/></joint>"),
            code: .missingAttribute, element: #"joint "j""#, line: 3, fragment: "\"xyz\""
        ),
        .init(
            label: "negative damping", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)<dynamics damping='-0.1'/></joint>"),
            code: .invalidDynamics, element: #"joint "j""#, line: 3, fragment: "negative damping"
        ),
        .init(
            label: "negative friction", text: robot("\(ab)<joint name='j' type='continuous'>\(pab)<dynamics friction='-2'/></joint>"),
            code: .invalidDynamics, element: #"joint "j""#, line: 3, fragment: "negative friction"
        ),
        // names and graph
        .init(
            label: "duplicate link", text: robot("<link name='a'/>\n<link name='a'/>"),
            code: .duplicateName, element: #"link "a""#, line: 3, fragment: "first defined at line 2"
        ),
        .init(
            label: "duplicate joint",
            text: robot("<link name='a'/><link name='b'/><link name='c'/>\n<joint name='j' type='fixed'>\(pab)</joint>\n<joint name='j' type='fixed'><parent link='b'/><child link='c'/></joint>"),
            code: .duplicateName, element: #"joint "j""#, line: 4, fragment: "first defined at line 3"
        ),
        .init(
            label: "unknown parent", text: robot("\(ab)<joint name='j2' type='fixed'>\n<parent link='base'/><child link='b'/></joint>"),
            code: .unknownLink, element: #"joint "j2""#, line: 4, fragment: #"parent link "base" is not defined"#
        ),
        .init(
            label: "unknown child", text: robot("\(ab)<joint name='j' type='fixed'><parent link='a'/>\n<child link='tool'/></joint>"),
            code: .unknownLink, element: #"joint "j""#, line: 4, fragment: #"child link "tool" is not defined"#
        ),
        .init(
            label: "two parents",
            text: robot("<link name='a'/><link name='b'/><link name='c'/>\n<joint name='j1' type='fixed'><parent link='a'/><child link='c'/></joint>\n<joint name='j2' type='fixed'><parent link='b'/>\n<child link='c'/></joint>"),
            code: .multipleParents, element: #"joint "j2""#, line: 5, fragment: #"link "c" is already the child of joint "j1" (line 3)"#
        ),
        .init(
            label: "self loop", text: robot("\(ab)<joint name='j' type='fixed'><parent link='a'/><child link='a'/></joint>"),
            code: .cycle, element: #"joint "j""#, line: 3, fragment: "both parent and child"
        ),
        .init(
            label: "cycle below the root",
            text: robot("<link name='r'/><link name='b'/><link name='c'/><link name='d'/>\n<joint name='j0' type='fixed'><parent link='c'/><child link='d'/></joint>\n<joint name='j1' type='fixed'><parent link='b'/><child link='c'/></joint>\n<joint name='j2' type='fixed'><parent link='c'/><child link='b'/></joint>"),
            code: .cycle, element: #"joint "j1""#, line: 4, fragment: #"joints "j1" → "j2" form a cycle"#
        ),
        .init(
            label: "no root", text: robot("\(ab)<joint name='j1' type='fixed'>\(pab)</joint><joint name='j2' type='fixed'><parent link='b'/><child link='a'/></joint>"),
            code: .noRoot, element: #"robot "r""#, line: 1, fragment: "no root link"
        ),
        .init(label: "no links", text: "<robot name='r'/>", code: .noRoot, element: #"robot "r""#, line: 1, fragment: "no links"),
        .init(
            label: "two roots", text: robot("<link name='a'/>\n<link name='b'/>"),
            code: .multipleRoots, element: #"robot "r""#, line: 3, fragment: #"links "a", "b" have no parent joint"#
        ),
    ]

    @Test(arguments: errorCases)
    func rejectsInvalidDescriptions(_ testCase: ErrorCase) throws {
        let error = try #require(parseError(testCase.text, file: "robot.urdf"))
        #expect(error.code == testCase.code, "\(error)")
        #expect(error.element == testCase.element, "\(error)")
        #expect(error.line == testCase.line, "\(error)")
        #expect(error.file == "robot.urdf")
        #expect(error.message.contains(testCase.fragment), "\(error)")
        #expect(error.description.hasPrefix("robot.urdf:\(testCase.line): " + (testCase.element.map { "\($0): " } ?? "")), "\(error)")
    }

    @Test func describesErrorsLikeACompiler() throws {
        let text = robot("\(Self.ab)\n<joint name='elbow' type='hinge'/>")
        let withFile = try #require(parseError(text, file: "robot.urdf"))
        #expect(
            withFile.description
                == #"robot.urdf:4: joint "elbow": unknown joint type "hinge" (expected revolute, continuous, prismatic or fixed)"#
        )
        let withoutFile = try #require(parseError(text))
        #expect(withoutFile.description.hasPrefix(#"line 4: joint "elbow": "#))

        let xml = try #require(parseError("<robot name='r'>", file: "x.urdf"))
        #expect(xml.description == "x.urdf:1: element <robot> is not closed")
    }

    @Test func errorEqualityComparesCodeAndElement() {
        let a = URDFError(.cycle, element: #"joint "a""#, file: "x", line: 1, message: "m")
        #expect(a == URDFError(.cycle, element: #"joint "a""#, file: nil, line: 7, message: "other"))
        #expect(a != URDFError(.cycle, element: #"joint "b""#, line: 1, message: "m"))
        #expect(a != URDFError(.noRoot, element: #"joint "a""#, line: 1, message: "m"))
    }

    @Test func parsesAChainOfAThousandLinks() throws {
        var body = "<link name='l0'/>\n"
        for index in 1...1000 {
            body += """
                <link name="l\(index)">\(Self.massive)</link>
                <joint name="j\(index)" type="revolute">
                  <parent link="l\(index - 1)"/><child link="l\(index)"/>
                  <origin xyz="0 0 0.1" rpy="0 0 0"/><axis xyz="0 0 1"/>
                  <limit lower="-1" upper="1" effort="1" velocity="1"/>
                </joint>

                """
        }
        let robot = try URDFParser.parse(robot(body))
        #expect(robot.links.count == 1001)
        #expect(robot.joints.count == 1000)
        #expect(robot.joints.last?.line == robot.links.last.map { $0.line + 1 })
    }

    /// Every robot shipped in the repository must parse.
    @Test func parsesShippedRobots() throws {
        let repositoryRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let robots = repositoryRoot.appending(path: "hardware/robots")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: robots.path(percentEncoded: false))) ?? []
        for name in names.sorted() {
            let file = robots.appending(path: name).appending(path: "robot.urdf")
            guard FileManager.default.fileExists(atPath: file.path(percentEncoded: false)) else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            do throws(URDFError) {
                let robot = try URDFParser.parse(text, file: "hardware/robots/\(name)/robot.urdf")
                #expect(!robot.joints.isEmpty, "\(name) has no joints")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    // MARK: helpers

    private func parseError(_ text: String, file: String? = nil) -> URDFError? {
        do throws(URDFError) {
            _ = try URDFParser.parse(text, file: file)
            return nil
        } catch {
            return error
        }
    }

    /// Wraps `body` in `<robot name="r">`; the body's first line is line 2.
    private static func robot(_ body: String) -> String { "<robot name=\"r\">\n\(body)\n</robot>" }
    private func robot(_ body: String) -> String { Self.robot(body) }

    private static let ab = "<link name='a'/><link name='b'/>\n"
    private static let abc = "<link name='a'/><link name='b'/><link name='c'/>\n"
    private static let limit = "<limit lower='-1' upper='1' effort='1' velocity='1'/>"
    /// A revolute joint on one line.
    private static func moving(_ name: String, _ parent: String, _ child: String) -> String {
        "<joint name='\(name)' type='revolute'><parent link='\(parent)'/><child link='\(child)'/>\(limit)</joint>"
    }
    /// A revolute joint whose body ends with `mimic` (which may start on a new line).
    private static func follower(_ name: String, _ parent: String, _ child: String, _ mimic: String) -> String {
        "<joint name='\(name)' type='revolute'><parent link='\(parent)'/><child link='\(child)'/>\(limit)\(mimic)</joint>"
    }
    private static let pab = "<parent link='a'/><child link='b'/>"
    private static let massiveBody = "<mass value='1'/><inertia ixx='1' ixy='0' ixz='0' iyy='1' iyz='0' izz='1'/>"
    private static let massive = "<inertial>\(massiveBody)</inertial>"

    /// R · diag(moments) · Rᵀ
    private static func rotated(_ moments: Vector3, by rotation: Matrix3) -> Matrix3 {
        rotation * .diagonal(moments) * rotation.transposed
    }
    private func rotated(_ moments: Vector3, by rotation: Matrix3) -> Matrix3 { Self.rotated(moments, by: rotation) }

    /// An `<inertia>` tag for a symmetric tensor; Swift prints doubles so they parse back exactly.
    private static func inertia(_ tensor: Matrix3) -> String {
        "<inertia ixx='\(tensor.m00)' ixy='\(tensor.m01)' ixz='\(tensor.m02)' iyy='\(tensor.m11)' iyz='\(tensor.m12)' izz='\(tensor.m22)'/>"
    }
    private func inertia(_ tensor: Matrix3) -> String { Self.inertia(tensor) }
}
