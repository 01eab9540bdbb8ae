import DatasetExport
import Testing
