import LinearAlgebra
import RealModule
import RigidBody
import Testing

/// Links with mass and a zero inertia tensor (point masses), as CAD exporters write them for
/// dummy frames (the SO-101's onshape export: 1e-9 kg) and as hand-written models put servos in.
@Suite struct PointMassTests {
    /// A revolute joint `j1` about z carrying `body`, then `j2` about `axis2` at `origin2`
    /// carrying `tip`; `extra` is appended to the document.
    static func arm(body: String, tip: String, axis2: String = "0 1 0", origin2: String = "0 0 0.2", extra: String = "") -> String {
        """
        <robot name="pm">
          <link name="base"/>
          <link name="body">\(body)</link>
          <link name="tip">\(tip)</link>
          <joint name="j1" type="revolute">
            <parent link="base"/><child link="body"/><axis xyz="0 0 1"/>
            <limit lower="-2" upper="2" effort="5" velocity="3"/>
          </joint>
          <joint name="j2" type="revolute">
            <parent link="body"/><child link="tip"/><origin xyz="\(origin2)"/><axis xyz="\(axis2)"/>
            <limit lower="-2" upper="2" effort="5" velocity="3"/>
          </joint>
        \(extra)
        </robot>
        """
    }

    static func point(_ mass: Double, at xyz: String) -> String {
        "<inertial><origin xyz='\(xyz)'/><mass value='\(mass)'/><inertia ixx='0' ixy='0' ixz='0' iyy='0' iyz='0' izz='0'/></inertial>"
    }

    static let box = "<inertial><mass value='0.5'/><inertia ixx='1e-3' ixy='0' ixz='0' iyy='1e-3' iyz='0' izz='1e-3'/></inertial>"

    static func modelError(_ text: String) -> URDFError? {
        do throws(URDFError) {
            _ = try RobotModel(urdfText: text, file: "pm.urdf")
            return nil
        } catch {
            return error
        }
    }

    @Test func pointMassesLoadAndSimulate() throws {
        // Dummy 1e-9 kg frames on the base and on the tip, as onshape-to-robot writes them.
        let frames = """
          <link name="baseframe">\(Self.point(1e-9, at: "0 0 0"))</link>
          <joint name="baseframe_frame" type="fixed"><parent link="base"/><child link="baseframe"/><axis xyz="0 0 0"/></joint>
          <link name="tipframe">\(Self.point(1e-9, at: "0 0 0"))</link>
          <joint name="tipframe_frame" type="fixed"><parent link="tip"/><child link="tipframe"/><origin xyz="0.1 0 0"/></joint>
        """
        let text = Self.arm(body: Self.box, tip: Self.point(0.2, at: "0.15 0 0.02"), extra: frames)
        let urdf = try URDFParser.parse(text)
        #expect(urdf.links.first { $0.name == "tip" }?.inertial?.tensor == .zero)
        let model = try RobotModel(urdf: urdf)
        #expect(model.dof == 2)
        #expect(abs(model.totalMass - (0.5 + 0.2 + 2e-9)) < 1e-15)
        #expect(abs(model.baseMass - 1e-9) < 1e-24)
        // The point mass's inertia about its own centre is zero; about the j2 frame it is m·|c|².
        let tip = model.bodyInertia(1)
        #expect(tip.mass == 0.2 + 1e-9)

        var iw = model.makeIntegratorWorkspace()
        var q = [0.3, -0.4], v = [0.0, 0.0]
        for method in IntegrationMethod.allCases {
            for _ in 0 ..< 1000 {
                model.step(&iw, q: &q, v: &v, tau: [0.01, 0.02], dt: 1e-3, method: method)
            }
        }
        #expect(q.allSatisfy(\.isFinite) && v.allSatisfy(\.isFinite), "q \(q), v \(v)")
        #expect(v.contains { $0 != 0 }, "gravity moves the point mass")
    }

    /// j2's whole subtree is a point mass on j2's axis (y through the tip origin): turning j2
    /// moves nothing, M's row is zero and ABA would divide by zero.
    @Test func pointMassOnTheAxisOfItsJointIsAnError() throws {
        let text = Self.arm(body: Self.box, tip: Self.point(0.2, at: "0 0.05 0"))
        let error = try #require(Self.modelError(text))
        #expect(error.code == .masslessJoint, "\(error)")
        #expect(error.element == #"joint "j2""#)
        #expect(error.line == 9)
        #expect(error.description.hasPrefix(#"pm.urdf:9: joint "j2": moves no mass or inertia at q = 0"#), "\(error)")
        #expect(error.message.contains("point masses on its axis"))
    }

    /// The same point mass on j1's axis instead, with j1's own body massless and j2 coaxial
    /// with j1: each joint alone moves the mass's inertia about z, but j1 moves nothing j2 does
    /// not, so M is singular and j1 is named.
    @Test func jointCoaxialWithItsChildAndCarryingNothingIsAnError() throws {
        let text = Self.arm(body: "", tip: Self.point(0.2, at: "0.1 0 0"), axis2: "0 0 1", origin2: "0 0 0.3")
        let error = try #require(Self.modelError(text))
        #expect(error.code == .singularMassMatrix, "\(error)")
        #expect(error.element == #"joint "j1""#)
        #expect(error.line == 5)
        #expect(error.message.contains("moves no inertia that the joints below it cannot move on their own"), "\(error)")
    }

    /// A point mass off every axis makes M positive definite; a prismatic joint moves a point
    /// mass wherever it is.
    @Test(arguments: ["0.1 0.03 0.02", "0 0.05 0"])
    func pointMassesThatMoveWithEveryJointAreFine(_ xyz: String) throws {
        let prismatic = """
        <robot name="pm">
          <link name="base"/><link name="carriage">\(Self.point(0.3, at: xyz))</link>
          <joint name="slide" type="prismatic"><parent link="base"/><child link="carriage"/><axis xyz="0 1 0"/>
            <limit lower="-0.1" upper="0.1" effort="5" velocity="1"/></joint>
        </robot>
        """
        _ = try RobotModel(urdfText: prismatic)
        _ = try RobotModel(urdfText: Self.arm(body: Self.box, tip: Self.point(0.2, at: xyz == "0 0.05 0" ? "0.1 0.05 0" : xyz)))
    }

    /// A model built in code with a zero tensor behaves like the URDF one (the parser is not
    /// what makes point masses work).
    @Test func planarTwoLinkWithExactPointMassesMatchesClosedFormGravity() throws {
        var urdf = TestRobots.planarTwoLink(l1: 0.3, l2: 0.2, m1: 1.5, m2: 0.7)
        for k in urdf.links.indices {
            if var inertial = urdf.links[k].inertial {
                inertial.ixx = 0; inertial.iyy = 0; inertial.izz = 0
                urdf.links[k].inertial = inertial
            }
        }
        let model = try RobotModel(urdf: urdf)
        var ws = model.makeWorkspace()
        let q = [0.4, -0.9], g = 9.81
        model.bias(&ws, q: q, v: [0, 0])
        let c1 = Double.cos(q[0]), c12 = Double.cos(q[0] + q[1])
        #expect(abs(ws.tau[0] - -g * (1.5 * 0.3 * c1 + 0.7 * (0.3 * c1 + 0.2 * c12))) < 1e-12)
        #expect(abs(ws.tau[1] - -g * 0.7 * 0.2 * c12) < 1e-12)
        // M of point masses: M_11 = m2·l2², exactly.
        model.crba(&ws, q: q)
        #expect(abs(ws.massMatrix[3] - 0.7 * 0.04) < 1e-15)
    }
}
