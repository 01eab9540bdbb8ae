#!/usr/bin/env python3
"""Opens N connections to robotd's control socket and holds them until stdin closes.

Usage: connection_hog.py SOCKET N

Run under another uid (`setpriv --reuid=nobody ...`) to play a peer that tries to fill the
daemon's connection pool. Each connection sends `hello`; prints one JSON line
{"served": S, "busy": B, "busy_message": "...", "other": O} once every connection has its
answer, then keeps the served ones open (idle) until stdin reaches EOF.
"""
import json
import socket
import sys


def answer(s):
    buffer = b""
    while b"\n" not in buffer:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    return json.loads(buffer.split(b"\n", 1)[0])


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    path, n = sys.argv[1], int(sys.argv[2])
    held, served, busy, other, message = [], 0, 0, 0, ""
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(path)
        try:
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\n')
        except OSError:
            pass  # refused and closed already; its busy line is still readable
        try:
            reply = answer(s)
        except OSError:
            reply = None
        if reply is not None and "result" in reply:
            served += 1
            held.append(s)
        elif reply is not None and reply.get("error", {}).get("code") == -32003:
            busy += 1
            message = reply["error"]["message"]
            s.close()
        else:
            other += 1
            s.close()
    print(json.dumps({"served": served, "busy": busy, "busy_message": message, "other": other}), flush=True)
    sys.stdin.read()
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
