// SHA-256 (FIPS 180-4) for content hashes: calibration files, robot descriptions and
// configurations carried in status and in recorded episodes' provenance.
