#!/usr/bin/env python3
"""One JSON-RPC request on robotd's control socket; prints the reply line.

Usage: peer_client.py SOCKET METHOD [PARAMS_JSON]

Run under another uid (e.g. `setpriv --reuid=nobody ...`) to test the daemon's access control:
the daemon identifies the peer with SO_PEERCRED. Telemetry notifications are skipped. Exit
status 0 when a reply arrived, 2 when the connection failed, 3 on timeout or EOF.
"""
import json
import socket
import sys


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 64
    path, method = sys.argv[1], sys.argv[2]
    request = {"jsonrpc": "2.0", "id": 1, "method": method}
    if len(sys.argv) == 4:
        request["params"] = json.loads(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
    except OSError as e:
        print(f"connect {path}: {e}", file=sys.stderr)
        return 2
    try:
        s.sendall(json.dumps(request).encode() + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed before reading the request (e.g. busy): its reply line is still readable
    buffer = b""
    try:
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                reply = json.loads(line)
                if "id" in reply:
                    print(line.decode())
                    return 0
            chunk = s.recv(65536)
            if not chunk:
                print("connection closed before a reply", file=sys.stderr)
                return 3
            buffer += chunk
    except socket.timeout:
        print("timed out waiting for a reply", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
