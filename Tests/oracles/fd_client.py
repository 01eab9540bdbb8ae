#!/usr/bin/env python3
"""A file method on robotd's control socket with the file passed as a descriptor (SCM_RIGHTS),
written from docs/protocol.md ("Files") independently of robotctl.

Usage: fd_client.py SOCKET METHOD FILE HOW
  HOW: read   - pass FILE opened O_RDONLY|O_NONBLOCK (works for FIFOs without blocking)
       write  - pass FILE opened O_WRONLY
       two    - pass FILE twice (two descriptors in one message)
       none   - send the byte without a descriptor

Prints {"expect": <fd.expect params or null>, "reply": <reply>} as one JSON line.
"""
import json
import os
import socket
import sys


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 64
    path, method, file, how = sys.argv[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    request = {"jsonrpc": "2.0", "id": 41, "method": method, "params": {"fd": True, "name": file}}
    s.sendall(json.dumps(request).encode() + b"\n")
    buffer, expect = b"", None
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            message = json.loads(line)
            if message.get("method") == "fd.expect":
                expect = message["params"]
                if how == "none":
                    s.sendall(b"x")
                else:
                    flags = os.O_WRONLY if how == "write" else os.O_RDONLY | os.O_NONBLOCK
                    fd = os.open(file, flags)
                    fds = [fd, fd] if how == "two" else [fd]
                    socket.send_fds(s, [b"x"], fds)
                    os.close(fd)
            elif "id" in message:
                print(json.dumps({"expect": expect, "reply": message}))
                return 0
        chunk = s.recv(65536)
        if not chunk:
            print(json.dumps({"expect": expect, "reply": None}))
            return 3
        buffer += chunk


if __name__ == "__main__":
    sys.exit(main())
