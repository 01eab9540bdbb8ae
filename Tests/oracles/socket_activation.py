#!/usr/bin/env python3
"""Socket activation of robotd the way systemd does it, without systemd.

Usage: socket_activation.py ROBOTD CONFIG SOCKETPATH

Creates, binds and listens on a Unix stream socket at SOCKETPATH, then forks and execs
`ROBOTD run --config CONFIG` with that listening socket as fd 3 and LISTEN_FDS=1,
LISTEN_PID=<the child's pid> (set in the child between fork and exec, as systemd does),
NOTIFY_SOCKET unset. Waits until a `hello` over SOCKETPATH is answered (at most 20 s), sends
SIGTERM, waits for the exit and prints one JSON object on stdout:

  {"hello": <hello reply or null>, "exit": <exit status, or -signal>,
   "socket_file_exists_after": <bool>}

The daemon's stderr is passed through to this script's stderr.
"""
import json
import os
import signal
import socket
import sys
import time


def hello(path: str, timeout: float):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(b'{"jsonrpc":"2.0","id":"activation","method":"hello"}\n')
        buffer = b""
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                reply = json.loads(line)
                if reply.get("id") == "activation":
                    return reply
            chunk = s.recv(65536)
            if not chunk:
                return None
            buffer += chunk
    finally:
        s.close()


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    robotd, config, path = sys.argv[1:]
    if os.path.lexists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o660)
    listener.listen(16)

    env = dict(os.environ)
    for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        env.pop(key, None)
    env["LISTEN_FDS"] = "1"

    pid = os.fork()
    if pid == 0:
        try:
            if listener.fileno() != 3:
                os.dup2(listener.fileno(), 3, inheritable=True)
            else:
                os.set_inheritable(3, True)
            env["LISTEN_PID"] = str(os.getpid())
            os.execve(robotd, [robotd, "run", "--config", config], env)
        except BaseException as e:  # never return into the parent's code
            print(f"exec {robotd}: {e}", file=sys.stderr)
        os._exit(127)

    listener.close()  # only the daemon holds the listening socket now
    reply = None
    status = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        try:
            reply = hello(path, timeout=2)
            if reply is not None:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)

    if status is None:
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                break
            time.sleep(0.02)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)

    print(json.dumps({"hello": reply, "exit": exit_code, "socket_file_exists_after": os.path.lexists(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
