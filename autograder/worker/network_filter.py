"""No network for submission code where the sandbox cannot give it a network namespace of its own
(a container without CAP_SYS_ADMIN, as Gradescope's): a seccomp filter, loaded by `sandbox_launch`
just before it execs the worker, so the worker and everything it forks or runs inherit it.

The filter refuses `socket()` for every address family but AF_UNIX (EACCES: the student's
traceback says "Permission denied"), and io_uring altogether, whose socket and connect
operations would bypass a system-call filter. Pipes, AF_UNIX sockets and the worker's own
channel (its stdin and stdout) keep working. libseccomp sets PR_SET_NO_NEW_PRIVS first, which
needs no privilege, and kills a call made through another architecture's system-call table
(32-bit `int 0x80`), which the filter's numbers do not cover.

It holds libseccomp's pure-Python binding (PyPI's pyseccomp) to the kernel's rules rather than
hand-written BPF: the binding resolves system-call numbers and argument layouts for this
architecture. Standard library and pyseccomp only: it runs before anything else in the sandbox.

    python -I network_filter.py     # exits 0 if the filter loads here and refuses an IPv4 socket
"""
import errno
import os
import socket
import sys

REFUSED_SYSCALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register")


def install() -> None:
    """Load the filter into this process (and so into what it execs and forks). Raises if it cannot."""
    import pyseccomp as seccomp  # a missing binding or libseccomp raises ImportError or RuntimeError

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    for name in REFUSED_SYSCALLS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    rules.load()


def works() -> bool:
    """Whether, in a child process, the filter loads, refuses an IPv4 and an IPv6 socket and keeps AF_UNIX."""
    child = os.fork()
    if child == 0:
        try:
            install()
            for family in (socket.AF_INET, socket.AF_INET6):
                try:
                    socket.socket(family, socket.SOCK_STREAM).close()
                    os._exit(1)
                except PermissionError:
                    pass
            for end in socket.socketpair(socket.AF_UNIX):
                end.close()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0


if __name__ == "__main__":
    sys.exit(0 if works() else 1)
