#!/usr/bin/env python3
"""Drive robotd's end effector from the keyboard (mode teleop, docs/protocol.md "teleop.stream").

Python standard library only: the terminal in raw mode (termios), JSON-RPC 2.0 lines over the
daemon's Unix socket. Enters teleop (or, with --takeover, takes the arm from policy or mpc), then
sends the end-effector target at --rate Hz; each key press moves the target by --step metres:

    arrow left / right   -x / +x          w / s   +z / -z
    arrow down / up      -y / +y          r       target := where the arm is now
    h                    hold (stop teleop; with --takeover: hand back)
    q, Esc, Ctrl-C       quit (the arm holds where it is once the stream stops)

The target is a position (m, base frame); the daemon solves the inverse kinematics, keeps every
joint inside its limits and moves at most teleop.max_velocity, so a held key is a steady motion,
never a jump. Stop streaming and the arm holds after teleop.timeout.

    scripts/teleop-keyboard.py [--socket ./run/robotd.sock] [--step 0.005] [--rate 50] [--takeover]
"""

import argparse
import json
import os
import select
import socket
import sys
import termios
import time
import tty

KEYS = {
    "\x1b[D": (-1, 0, 0), "\x1b[C": (1, 0, 0),   # left, right: x
    "\x1b[B": (0, -1, 0), "\x1b[A": (0, 1, 0),   # down, up: y
    "w": (0, 0, 1), "s": (0, 0, -1),             # z
}


def default_socket():
    env = os.environ.get("ROBOTD_SOCKET")
    if env:
        return env
    return "/run/robotd/robotd.sock" if os.path.exists("/run/robotd/robotd.sock") else "./run/robotd.sock"


class Client:
    """One JSON-RPC connection: call() sends a request and waits for its reply, skipping notifications."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buffer = b""
        self.next_id = 1

    def call(self, method, params=None):
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            request["params"] = params
        self.next_id += 1
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("robotd closed the connection")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            message = json.loads(line)
            if message.get("id") != request["id"]:
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error'].get('message')}")
            return message["result"]


def read_keys():
    """Keys pressed since the last call (escape sequences kept whole)."""
    keys = []
    while select.select([sys.stdin], [], [], 0)[0]:
        ch = os.read(sys.stdin.fileno(), 1).decode(errors="ignore")
        if ch == "\x1b" and select.select([sys.stdin], [], [], 0.01)[0]:
            ch += os.read(sys.stdin.fileno(), 2).decode(errors="ignore")
        keys.append(ch)
    return keys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", default=default_socket(), help="robotd's control socket")
    parser.add_argument("--step", type=float, default=0.005, help="metres per key press (default 0.005)")
    parser.add_argument("--rate", type=float, default=50.0, help="targets sent per second (default 50)")
    parser.add_argument("--takeover", action="store_true", help="take over from policy or mpc (and hand back on h)")
    args = parser.parse_args()
    if not (0 < args.step <= 0.1 and 1 <= args.rate <= 1000):
        parser.error("--step must be in (0, 0.1] m and --rate in [1, 1000] Hz")

    client = Client(args.socket)
    if args.takeover:
        print(client.call("teleop.takeover"))
    else:
        print(client.call("mode.set", {"mode": "teleop"}))

    def measured():
        return list(client.call("status")["end_effector"]["position"])

    target = measured()
    print(__doc__.split("\n\n")[2])
    old = termios.tcgetattr(sys.stdin)
    tty.setcbreak(sys.stdin.fileno())
    period = 1.0 / args.rate
    deadline = time.monotonic()
    try:
        while True:
            for key in read_keys():
                if key in ("q", "\x1b", "\x03"):
                    return
                if key == "h":
                    print(client.call("teleop.handback" if args.takeover else "mode.set",
                                      None if args.takeover else {"mode": "hold"}), end="\r\n")
                    return
                if key == "r":
                    target = measured()
                elif key in KEYS:
                    target = [t + args.step * d for t, d in zip(target, KEYS[key])]
            try:
                reply = client.call("teleop.stream", {"position": target})
                error = reply.get("position_error_m", 0.0)
                print(f"\rtarget {target[0]:+.3f} {target[1]:+.3f} {target[2]:+.3f} m  "
                      f"ik error {error * 1000:6.2f} mm  mode {reply['mode']}   ", end="", flush=True)
            except RuntimeError as e:
                # Refused (outside the reach): start again from where the arm is.
                print(f"\r{e}", end="\r\n")
                target = measured()
            deadline += period
            time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, old)
        print()


if __name__ == "__main__":
    try:
        main()
    except (ConnectionError, OSError, RuntimeError) as e:
        print(f"teleop-keyboard: {e}", file=sys.stderr)
        sys.exit(1)
