"""Listeners on loopback that the hostile network uploads dial: TCP and UDP, IPv4 and, where the machine has it,
IPv6. None must ever see a connection or a datagram.

Standard library only, and no imports of this package: tests/test_container.py runs this file's source inside
the image as well, around run_autograder.
"""
import socket


def listen(port: int) -> list:
    """Non-blocking sockets bound to `port` on every loopback address this machine has, for TCP and UDP."""
    sockets = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            server = socket.socket(family, kind)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                server.bind((host, port))
            except OSError:  # no IPv6 loopback here
                server.close()
                continue
            if kind == socket.SOCK_STREAM:
                server.listen()
            server.setblocking(False)
            sockets.append(server)
    return sockets


def heard(sockets: list) -> list:
    """What reached the listeners: one entry per connection or datagram."""
    found = []
    for server in sockets:
        try:
            found.append(str(server.accept()[1]) if server.type == socket.SOCK_STREAM else str(server.recvfrom(256)))
        except BlockingIOError:
            pass
    return found
