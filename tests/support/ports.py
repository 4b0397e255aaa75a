"""Free loopback ports for test servers that must be told their port up front."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago.

    The port is released before returning, so another process may grab it first;
    callers that hand it to a subprocess should retry on "address already in use".
    Servers running in this process should bind port 0 instead.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
