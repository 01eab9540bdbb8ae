/// What one recorded episode is, as the store keeps it and the exporter reads it
/// (docs/architecture.md §5; issue 16). Values, no I/O: the store (`EpisodeStore`) fills them.

/// How an episode ended.
public enum EpisodeStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Frames are still being written (the daemon's recorder owns it).
    case recording
    /// `record.stop`: every frame up to the stop is stored.
    case complete
    /// The recording did not end by `record.stop`: the daemon was killed or crashed (found
    /// `recording` when the store opened), or the disk filled or became unwritable (`error` says
    /// which). Its frames up to the last commit are kept.
    case incomplete
}

/// Where an episode's frames came from, so that a dataset can be traced to the arm, its
/// description and calibration, the configuration and the software that recorded it.
public struct EpisodeProvenance: Sendable, Hashable, Codable {
    /// `robot.name` of the configuration.
    public var robot: String
    /// SHA-256 (hex) of the URDF file as read, of the calibration file (nil: a simulated arm has
    /// none) and of the configuration file.
    public var urdfSHA256: String
    public var calibrationSHA256: String?
    public var configurationSHA256: String
    /// `robotd --version`'s version.
    public var robotdVersion: String
    /// The policy installed when the recording started (its name, usually the file path, and
    /// the policy slot's version) and the learned dynamics model's version (0 = rigid body).
    public var policy: String?
    public var policyVersion: Int?
    public var modelVersion: Int?
    /// The uid of the client that started the recording (SO_PEERCRED).
    public var operatorUID: UInt32?
    /// The task text as given to `record.start`.
    public var task: String

    public init(robot: String, urdfSHA256: String, calibrationSHA256: String?, configurationSHA256: String, robotdVersion: String,
                policy: String? = nil, policyVersion: Int? = nil, modelVersion: Int? = nil, operatorUID: UInt32? = nil, task: String) {
        self.robot = robot
        self.urdfSHA256 = urdfSHA256
        self.calibrationSHA256 = calibrationSHA256
        self.configurationSHA256 = configurationSHA256
        self.robotdVersion = robotdVersion
        self.policy = policy
        self.policyVersion = policyVersion
        self.modelVersion = modelVersion
        self.operatorUID = operatorUID
        self.task = task
    }
}

/// An episode without its frames (`dataset.list`).
public struct EpisodeSummary: Sendable, Hashable {
    /// The store's id (never reused; exports renumber episodes contiguously from 0).
    public var id: Int64
    public var task: String
    /// Frames per second of the dataset (`record.start`'s `fps`).
    public var fps: Int
    /// Joint names in order (the URDF's actuated joints); every frame vector has this many values.
    public var jointNames: [String]
    /// What `action` means: "effort" (N·m), "position" (rad) or "velocity" (rad/s).
    public var commandMode: String
    /// Wall-clock start and end (Unix seconds); `endedAt` nil while recording or when the
    /// recording never ended.
    public var startedAt: Double
    public var endedAt: Double?
    public var status: EpisodeStatus
    public var frameCount: Int
    /// Why an `incomplete` episode stopped, when known (disk full, unwritable, …).
    public var error: String?
    public var provenance: EpisodeProvenance

    public init(id: Int64, task: String, fps: Int, jointNames: [String], commandMode: String, startedAt: Double, endedAt: Double?,
                status: EpisodeStatus, frameCount: Int, error: String? = nil, provenance: EpisodeProvenance) {
        self.id = id
        self.task = task
        self.fps = fps
        self.jointNames = jointNames
        self.commandMode = commandMode
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.frameCount = frameCount
        self.error = error
        self.provenance = provenance
    }
}

/// One frame at the dataset's rate, decimated from the loop's ticks.
public struct RecordedFrame: Sendable, Hashable {
    /// 0, 1, 2, … without gaps within an episode; `timestamp` = frameIndex / fps exactly
    /// (LeRobot's loader checks timestamps against that grid).
    public var frameIndex: Int
    public var timestamp: Double
    /// The loop's time of the tick the frame was taken from (s since the loop started).
    public var loopTime: Double
    /// Measured q (rad), v (rad/s), effort (N·m), one per joint.
    public var position: [Double]
    public var velocity: [Double]
    public var effort: [Double]
    /// The command sent to the arm (after the limiter) and the one asked for before it, in the
    /// episode's `commandMode`.
    public var action: [Double]
    public var requestedAction: [Double]
    /// The loop's mode at that tick ("teleop", "policy", "mpc", "hold", …).
    public var mode: String
    /// A person produced the command (teleop, or an operator's takeover).
    public var intervention: Bool

    public init(frameIndex: Int, timestamp: Double, loopTime: Double, position: [Double], velocity: [Double], effort: [Double],
                action: [Double], requestedAction: [Double], mode: String, intervention: Bool) {
        self.frameIndex = frameIndex
        self.timestamp = timestamp
        self.loopTime = loopTime
        self.position = position
        self.velocity = velocity
        self.effort = effort
        self.action = action
        self.requestedAction = requestedAction
        self.mode = mode
        self.intervention = intervention
    }
}

/// An episode with its frames, in frame order.
public struct RecordedEpisode: Sendable, Hashable {
    public var summary: EpisodeSummary
    public var frames: [RecordedFrame]

    public init(summary: EpisodeSummary, frames: [RecordedFrame]) {
        self.summary = summary
        self.frames = frames
    }
}
