// Pinocchio side of `robotd bench dynamics`: the same URDF, the same states, the same timing
// scheme (median over batches of `calls` calls cycling over the states), one JSON object on the
// last line of standard output.
//
//   pinocchio_dynamics URDF --frame NAME --calls N --batches B --dof n --joints name,…
//       --states q0..q(n-1),v0..,tau0..;q0..;…   (';' between states, ',' inside)
//       [--armature name=value,…]
//
// robotd compiles this file on demand (g++ -O3 -march=native -DNDEBUG: Pinocchio is header-only
// here, so its algorithms get this CPU's instructions as robotd's release build does) and caches
// the binary under its build folder keyed by this file's hash (Sources/Benchmarks/
// DynamicsAnchor.swift). The URDF is read by urdfdom (Pinocchio's own URDF reader) and the model
// built the way pinocchio::urdf::buildModel builds it (joints on a unit axis become RX/RY/RZ or
// PX/PY/PZ, others the Unaligned kinds; links behind fixed joints merged into their joint's
// body), but in this file: libpinocchio_parsers is compiled for generic x86-64, and a Model
// crossing from it into code built with -march=native does not have the same layout (Eigen's
// alignment), which crashed. A continuous joint becomes a bounded revolute joint (nq = 1 like
// robotd's q; Pinocchio's parser would make it nq = 2 (cos, sin); the dynamics are the same).
//
// What each figure computes (robotd's in parentheses when it differs in shape):
//   fk              forwardKinematics(q)
//   jacobian        computeFrameJacobian(q, frame, LOCAL_WORLD_ALIGNED): its own kinematics of
//                   the joints supporting the frame, then the 6×n Jacobian (robotd: full
//                   forwardKinematics + frameJacobian, same matrix)
//   rnea            rnea(q, v, a = τ of the state) with armature
//   crba            crba(q) with armature, then the strictly lower triangle copied from the upper
//                   one (robotd fills both); the faster of Convention::WORLD and LOCAL
//   aba             aba(q, v, τ) with armature (no damping or friction on either side); the
//                   faster of Convention::LOCAL and WORLD (both in "conventions_ns_per_call")
//   aba_derivatives computeABADerivatives(q, v, τ): ddq, ∂ddq/∂q, ∂ddq/∂v and M⁻¹ (both
//                   triangles on both sides)
#include <pinocchio/algorithm/aba-derivatives.hpp>
#include <pinocchio/algorithm/aba.hpp>
#include <pinocchio/algorithm/crba.hpp>
#include <pinocchio/algorithm/frames.hpp>
#include <pinocchio/algorithm/jacobian.hpp>
#include <pinocchio/algorithm/kinematics.hpp>
#include <pinocchio/algorithm/rnea.hpp>
#include <pinocchio/multibody.hpp>
#include <urdf_parser/urdf_parser.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> split(const std::string & s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void fail(const std::string & message) {
  std::cerr << "pinocchio_dynamics: " << message << std::endl;
  std::exit(2);
}

struct State {
  Eigen::VectorXd q, v, tau;
};

volatile double sink = 0;

pinocchio::SE3 pose(const urdf::Pose & p) {
  const Eigen::Quaterniond r(p.rotation.w, p.rotation.x, p.rotation.y, p.rotation.z);
  return pinocchio::SE3(r.normalized().toRotationMatrix(), Eigen::Vector3d(p.position.x, p.position.y, p.position.z));
}

// The link `link`, whose frame is `placement` in joint `joint`'s frame, and everything below it.
void addLink(pinocchio::Model & model, const urdf::LinkConstSharedPtr & link, pinocchio::JointIndex joint,
             const pinocchio::SE3 & placement) {
  if (link->inertial) {
    const auto & in = *link->inertial;
    const pinocchio::SE3 com = pose(in.origin);
    Eigen::Matrix3d inertia;
    inertia << in.ixx, in.ixy, in.ixz, in.ixy, in.iyy, in.iyz, in.ixz, in.iyz, in.izz;
    const pinocchio::Inertia y(in.mass, com.translation(), com.rotation() * inertia * com.rotation().transpose());
    model.appendBodyToJoint(joint, y, placement);
  }
  model.addBodyFrame(link->name, joint, placement);
  for (size_t k = 0; k < link->child_joints.size(); ++k) {
    const auto & child = link->child_joints[k];
    const urdf::LinkConstSharedPtr childLink = link->child_links[k];
    const pinocchio::SE3 origin = placement * pose(child->parent_to_joint_origin_transform);
    const Eigen::Vector3d axis(child->axis.x, child->axis.y, child->axis.z);
    pinocchio::JointIndex id;
    switch (child->type) {
    case urdf::Joint::FIXED:
      addLink(model, childLink, joint, origin);
      continue;
    case urdf::Joint::REVOLUTE:
    case urdf::Joint::CONTINUOUS:
      if (axis.isApprox(Eigen::Vector3d::UnitX())) id = model.addJoint(joint, pinocchio::JointModelRX(), origin, child->name);
      else if (axis.isApprox(Eigen::Vector3d::UnitY())) id = model.addJoint(joint, pinocchio::JointModelRY(), origin, child->name);
      else if (axis.isApprox(Eigen::Vector3d::UnitZ())) id = model.addJoint(joint, pinocchio::JointModelRZ(), origin, child->name);
      else id = model.addJoint(joint, pinocchio::JointModelRevoluteUnaligned(axis.normalized()), origin, child->name);
      break;
    case urdf::Joint::PRISMATIC:
      if (axis.isApprox(Eigen::Vector3d::UnitX())) id = model.addJoint(joint, pinocchio::JointModelPX(), origin, child->name);
      else if (axis.isApprox(Eigen::Vector3d::UnitY())) id = model.addJoint(joint, pinocchio::JointModelPY(), origin, child->name);
      else if (axis.isApprox(Eigen::Vector3d::UnitZ())) id = model.addJoint(joint, pinocchio::JointModelPZ(), origin, child->name);
      else id = model.addJoint(joint, pinocchio::JointModelPrismaticUnaligned(axis.normalized()), origin, child->name);
      break;
    default:
      fail("joint " + child->name + ": only fixed, revolute, continuous and prismatic joints are compared");
    }
    if (child->mimic) fail("joint " + child->name + ": mimic joints are not compared");
    model.addJointFrame(id);
    addLink(model, childLink, id, pinocchio::SE3::Identity());
  }
}

template <typename Body> double measure(int calls, int batches, Body body) {
  for (int k = 0; k < calls; ++k) body(k & 15);
  std::vector<double> perCall;
  perCall.reserve(batches);
  for (int b = 0; b < batches; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < calls; ++k) body(k & 15);
    const auto t1 = std::chrono::steady_clock::now();
    perCall.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / calls);
  }
  std::sort(perCall.begin(), perCall.end());
  return perCall[perCall.size() / 2];
}

}  // namespace

int main(int argc, char ** argv) {
  if (argc < 2) fail("usage: pinocchio_dynamics URDF --frame NAME --calls N --batches B --dof n --states …");
  const std::string urdf = argv[1];
  std::string frameName, statesText, armatureText, jointsText;
  int calls = 2000, batches = 101, dof = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--frame") frameName = value;
    else if (key == "--calls") calls = std::atoi(value.c_str());
    else if (key == "--batches") batches = std::atoi(value.c_str());
    else if (key == "--dof") dof = std::atoi(value.c_str());
    else if (key == "--states") statesText = value;
    else if (key == "--armature") armatureText = value;
    else if (key == "--joints") jointsText = value;
    else fail("unknown option " + key);
  }
  if (calls <= 0 || batches <= 0) fail("--calls and --batches must be positive");

  const auto description = urdf::parseURDFFile(urdf);
  if (!description) fail("urdfdom could not parse " + urdf);
  pinocchio::Model model;
  model.name = description->getName();
  addLink(model, description->getRoot(), 0, pinocchio::SE3::Identity());
  if (dof >= 0 && model.nv != dof)
    fail("Pinocchio's model has nv = " + std::to_string(model.nv) + ", robotd's " + std::to_string(dof) +
         " (mimic joints are not compared)");
  // States and results are in robotd's joint order; both walk the tree depth-first, which on
  // the arms compared is the chain's order (a tree could differ: then say so rather than permute).
  const auto jointNames = split(jointsText, ',');
  for (size_t k = 0; k < jointNames.size(); ++k)
    if (k + 1 >= model.names.size() || model.names[k + 1] != jointNames[k])
      fail("joint " + std::to_string(k) + " is " + (k + 1 < model.names.size() ? model.names[k + 1] : std::string("missing")) +
           " in Pinocchio's order, " + jointNames[k] + " in robotd's");
  // robotd's <robotd><joint armature=…/></robotd> extension: Pinocchio's parser does not read it.
  for (const auto & entry : split(armatureText, ',')) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) fail("--armature wants name=value, got " + entry);
    const std::string name = entry.substr(0, eq);
    if (!model.existJointName(name)) fail("no joint " + name);
    const auto & joint = model.joints[model.getJointId(name)];
    model.armature[joint.idx_v()] = std::atof(entry.substr(eq + 1).c_str());
  }
  if (!model.existFrame(frameName)) fail("no frame " + frameName);
  const auto frame = model.getFrameId(frameName);

  std::vector<State> states;
  for (const auto & text : split(statesText, ';')) {
    const auto values = split(text, ',');
    if ((int)values.size() != 3 * model.nv) fail("a state needs 3·nv values");
    State s{Eigen::VectorXd(model.nv), Eigen::VectorXd(model.nv), Eigen::VectorXd(model.nv)};
    for (int j = 0; j < model.nv; ++j) {
      s.q[j] = std::atof(values[j].c_str());
      s.v[j] = std::atof(values[model.nv + j].c_str());
      s.tau[j] = std::atof(values[2 * model.nv + j].c_str());
    }
    states.push_back(s);
  }
  if (states.size() != 16) fail("--states needs 16 states");

  pinocchio::Data data(model);
  pinocchio::Data::Matrix6x jacobian = pinocchio::Data::Matrix6x::Zero(6, model.nv);
  double fk, jac, rnea, crba, aba, abaDerivatives;
  fk = measure(calls, batches, [&](int s) {
    pinocchio::forwardKinematics(model, data, states[s].q);
    sink = sink + data.oMi[model.njoints - 1].translation()[0];
  });
  jac = measure(calls, batches, [&](int s) {
    pinocchio::computeFrameJacobian(model, data, states[s].q, frame, pinocchio::LOCAL_WORLD_ALIGNED, jacobian);
    sink = sink + jacobian(0, 0);
  });
  rnea = measure(calls, batches, [&](int s) {
    pinocchio::rnea(model, data, states[s].q, states[s].v, states[s].tau);
    sink = sink + data.tau[0];
  });
  // crba and aba in both of Pinocchio's conventions; the faster one is the figure.
  const double crbaWorld = measure(calls, batches, [&](int s) {
    pinocchio::crba(model, data, states[s].q, pinocchio::Convention::WORLD);
    data.M.triangularView<Eigen::StrictlyLower>() = data.M.transpose().triangularView<Eigen::StrictlyLower>();
    sink = sink + data.M(0, 0);
  });
  const double crbaLocal = measure(calls, batches, [&](int s) {
    pinocchio::crba(model, data, states[s].q, pinocchio::Convention::LOCAL);
    data.M.triangularView<Eigen::StrictlyLower>() = data.M.transpose().triangularView<Eigen::StrictlyLower>();
    sink = sink + data.M(0, 0);
  });
  crba = std::min(crbaWorld, crbaLocal);
  const double abaLocal = measure(calls, batches, [&](int s) {
    pinocchio::aba(model, data, states[s].q, states[s].v, states[s].tau, pinocchio::Convention::LOCAL);
    sink = sink + data.ddq[0];
  });
  const double abaWorld = measure(calls, batches, [&](int s) {
    pinocchio::aba(model, data, states[s].q, states[s].v, states[s].tau, pinocchio::Convention::WORLD);
    sink = sink + data.ddq[0];
  });
  aba = std::min(abaLocal, abaWorld);
  abaDerivatives = measure(calls, batches, [&](int s) {
    pinocchio::computeABADerivatives(model, data, states[s].q, states[s].v, states[s].tau);
    sink = sink + data.ddq_dq(0, 0);
  });

  // State 0's results, for robotd to check that both sides compute the same thing.
  const State & s0 = states[0];
  pinocchio::rnea(model, data, s0.q, s0.v, s0.tau);
  const Eigen::VectorXd tau = data.tau;
  pinocchio::crba(model, data, s0.q, pinocchio::Convention::WORLD);
  data.M.triangularView<Eigen::StrictlyLower>() = data.M.transpose().triangularView<Eigen::StrictlyLower>();
  const Eigen::MatrixXd mass = data.M;
  pinocchio::aba(model, data, s0.q, s0.v, s0.tau, pinocchio::Convention::LOCAL);
  const Eigen::VectorXd ddq = data.ddq;
  pinocchio::computeABADerivatives(model, data, s0.q, s0.v, s0.tau);
  const Eigen::MatrixXd ddqDq = data.ddq_dq, ddqDv = data.ddq_dv;
  pinocchio::computeFrameJacobian(model, data, s0.q, frame, pinocchio::LOCAL_WORLD_ALIGNED, jacobian);

  auto list = [](const Eigen::MatrixXd & m) {
    std::ostringstream out;
    out.precision(17);
    out << "[";
    // Column-major, like robotd's matrices.
    for (Eigen::Index k = 0; k < m.size(); ++k) out << (k ? "," : "") << m.data()[k];
    out << "]";
    return out.str();
  };
  std::ostringstream json;
  json.precision(6);
  json << "{\"version\":\"" << PINOCCHIO_VERSION << "\",\"compiler\":\"g++ " << __VERSION__
       << " -O3 -march=native -DNDEBUG\",\"nv\":" << model.nv << ",\"ns_per_call\":{\"fk\":" << fk
       << ",\"jacobian\":" << jac << ",\"rnea\":" << rnea << ",\"crba\":" << crba << ",\"aba\":" << aba
       << ",\"aba_derivatives\":" << abaDerivatives << "},\"conventions_ns_per_call\":{\"crba_world\":" << crbaWorld
       << ",\"crba_local\":" << crbaLocal << ",\"aba_local\":" << abaLocal << ",\"aba_world\":" << abaWorld
       << "},\"state0\":{\"rnea\":" << list(tau)
       << ",\"crba\":" << list(mass) << ",\"aba\":" << list(ddq) << ",\"ddq_dq\":" << list(ddqDq)
       << ",\"ddq_dv\":" << list(ddqDv) << ",\"jacobian\":" << list(jacobian) << "}}";
  std::cout << json.str() << std::endl;
  return sink == 12345.678 ? 1 : 0;
}
