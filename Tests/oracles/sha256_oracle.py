"""SHA-256 oracle for DigestTests: reads hex messages (one per line) on stdin, prints their
SHA-256 digests in hex, one per line (Python's hashlib, independent of robotd's Digest)."""
import hashlib
import sys

for line in sys.stdin.read().splitlines():
    print(hashlib.sha256(bytes.fromhex(line.strip())).hexdigest())
