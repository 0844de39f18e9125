"""Start the worker inside the sandbox: run as root, end as the sandbox user.

    python -I sandbox_launch.py CONFIG_JSON -- PYTHON -I WORKER_FOLDER ARGS...

In this order: join the sandbox's cgroups, volunteer for the out-of-memory killer, leave
the network namespace (needs root), set the resource limits, drop the supplementary groups, the group and the user, check
that root cannot be regained, load the seccomp filter where there was no namespace to leave, then exec.
Standard library only (and pyseccomp, for the filter): it runs before anything else in the sandbox.
"""
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNET = 0x40000000
LIMITS = {"cpu_seconds": resource.RLIMIT_CPU, "address_space_bytes": resource.RLIMIT_AS,
          "processes": resource.RLIMIT_NPROC, "open_files": resource.RLIMIT_NOFILE,
          "file_bytes": resource.RLIMIT_FSIZE}
CGROUP_ONLY = {"memory_bytes"}  # set on the sandbox's cgroup by the judge, not per process


def enter(config: dict) -> None:
    for procs in config["cgroups"]:  # before anything can fork: every descendant stays in the groups
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    # Under memory pressure the kernel kills the submission's processes first, never the judge:
    # a fork bomb's copies of the worker can together exhaust memory that no rlimit counts.
    with open("/proc/self/oom_score_adj", "w") as file:
        file.write("1000")
    if config["network"] == "namespace":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "cannot leave the network namespace")
    uid, gid = config["uid"], config["gid"]
    for name, value in config["limits"].items():
        if value is None or name in CGROUP_ONLY or (name == "processes" and uid is None):
            continue  # without a user of its own, a process limit would count the grader's processes too
        resource.setrlimit(LIMITS[name], (value, value))
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("the sandbox user could regain root")
    if config["network"] == "seccomp":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
        import network_filter

        network_filter.install()
    os.chdir(config["home"])


def main() -> None:
    separator = sys.argv.index("--")
    config = json.loads(sys.argv[1])
    command = sys.argv[separator + 1:]
    try:
        enter(config)
    except Exception as error:
        print(f"sandbox: {type(error).__name__}: {error}", file=sys.stderr)
        os._exit(70)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
