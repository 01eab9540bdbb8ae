// Recorded episodes → LeRobotDataset v3.0 (issue 16): built by the export helper.
import EpisodeStore
import LeRobotExport
