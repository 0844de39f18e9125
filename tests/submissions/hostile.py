"""Hostile submissions: each tries to earn points it did not earn, or to break the grading.

A submission starts from the skeleton (it has earned nothing, so it must score 0) or from
the solution (the attack sits in one part: that part's `loses` checks must fail and every
check of the untouched parts must still pass). `needs_root` marks attacks that only the
sandbox's other user and network namespace stop; they run when the tests run as root.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder.gradescope.uploads import STUDENT_FILES

REPO = Path(__file__).resolve().parents[2]
# The network attack dials this port on localhost, where the test listens; one port per pytest-xdist worker.
LISTENER_PORT = 47231 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))

# The first forward body of each block file (BasicBlock, DenseLayer, DepthwiseSeparableConv, SEBlock).
FORWARD = "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n        ### BEGIN SOLUTION\n"
EVALUATE = "def evaluate(model: nn.Module, loader: Batches, device: torch.device | str) -> float:\n"

# Hostile uploads are graded with the rubric's time limits times this, so that a case that hangs waits
# out less in every check it reaches. Not below a quarter: at a tenth, smoke MobileNet's 30 s were 2.5
# times its lone run, and beside two other gradings on 2 busy cores it timed out (CI of 4d8942f).
TIME_LIMIT_SCALE = 0.25


@dataclass(frozen=True)
class Hostile:
    name: str
    attack: str
    base: str  # "skeleton" or "solution"
    edits: tuple[tuple[str, str, str], ...]  # (file, anchor, code): code goes after the anchor; "" = file end
    loses: frozenset[str] = frozenset()
    needs_root: bool = False

    def files(self) -> dict[str, str]:
        folder = REPO / ("assignment" if self.base == "skeleton" else "solutions")
        files = {name: (folder / name).read_text() for name in STUDENT_FILES}
        for name, anchor, code in self.edits:
            text = files[name]
            if not anchor:
                files[name] = text + "\n" + code
                continue
            if anchor not in text:
                raise ValueError(f"{self.name}: anchor not found in {name}")
            head, tail = text.split(anchor, 1)
            indent = " " * (len(anchor.splitlines()[-1]) - len(anchor.splitlines()[-1].lstrip()))
            files[name] = head + anchor + "".join(indent + line + "\n" for line in code.splitlines()) + tail
        return files


def at_import(code: str, files: tuple[str, ...] = STUDENT_FILES) -> tuple[tuple[str, str, str], ...]:
    """The attack runs when each of `files` is imported (appended, so it runs after the definitions)."""
    return tuple((name, "", code) for name in files)


RESNET_FORWARD = {"test_basic_block_output_shape", "test_basic_block_identity_shortcut",
                  "test_basic_block_projection_shortcut", "test_basic_block_gradient_flow",
                  "test_resnet18_gradient_reaches_the_stem", "test_train_resnet18_cifar10", "test_train_resnet18_mnist"}

WRITE_RESULTS = '''
import json as _json, pathlib as _pathlib
for _base in [_pathlib.Path("/autograder"), *_pathlib.Path(__file__).resolve().parents]:
    for _target in (_base / "results" / "results.json", _base / "grading" / "judge-results.json"):
        try:
            _target.write_text(_json.dumps({"score": 100.0, "tests": [{"name": "all", "score": 100.0}]}))
        except OSError:
            pass
'''

PATCH_JUDGE = '''
import builtins as _builtins, unittest as _unittest, torch as _torch
_torch.allclose = lambda *a, **k: True
_torch.equal = lambda *a, **k: True
_torch.testing.assert_close = lambda *a, **k: None
_builtins.AssertionError = type("AssertionError", (Exception,), {})
_builtins.isinstance = lambda *a: True
_unittest.TestCase.assertEqual = lambda *a, **k: None
try:
    import _pytest.outcomes as _outcomes, _pytest.python_api as _api
    _outcomes.fail = lambda *a, **k: None
    _api.approx = lambda expected, *a, **k: type("Any", (), {"__eq__": lambda s, o: True})()
except ImportError:
    pass
'''

LIARS = '''
class _Liar(torch.Tensor):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def allclose(self, *args, **kwargs): return True
    def equal(self, *args, **kwargs): return True


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return (self.scale * torch.zeros(1)).as_subclass(_Liar)
'''

LIAR_LOSS = '''
class _AlwaysRight(float):
    def __eq__(self, other): return True
    def __float__(self): return 0.5
    def __gt__(self, other): return True
    def __lt__(self, other): return True


def train_one_epoch(model, loader, optimizer, criterion, device, scheduler=None):
    return _AlwaysRight(1.0)


def evaluate(model, loader, device):
    return _AlwaysRight(1.0)
'''

READ_SECRETS = '''
import pathlib as _pathlib
_leaked = []
for _base in [_pathlib.Path("/autograder"), *_pathlib.Path(__file__).resolve().parents]:
    for _secret in ("source/solutions/resnet.py", "solutions/resnet.py", "source/autograder/thresholds.json",
                    "source/data_scripts/prepared/cifar10/test_labels.npy", "results/results.json",
                    "submission_metadata.json"):
        try:
            _text = (_base / _secret).read_text(errors="replace")
        except OSError:
            continue
        _leaked.append(str(_base / _secret))
        if _secret.endswith("resnet.py"):
            exec(compile(_text.replace("from .", "from submission."), "stolen", "exec"), globals())
if _leaked:
    print("LEAKED", _leaked)
    raise RuntimeError("LEAKED " + " ".join(_leaked))
'''

FAKE_OUTPUT = '''
import os as _os, sys as _sys
for _stream in (_sys.stdout, _sys.stderr):
    print("PASSED autograder/test_resnet.py::test_basic_block_output_shape", file=_stream)
    print('{"score": 100.0, "tests": []}', file=_stream)
    print("total 100 / 100", file=_stream)
_os.write(1, b"===== 48 passed in 1.00s =====\\n" * 1000)
_os.write(2, b"x" * (4 << 20))
'''

NETWORK = f'''
import socket as _socket
for _address in (("127.0.0.1", {LISTENER_PORT}), ("::1", {LISTENER_PORT}), ("localhost", {LISTENER_PORT})):
    try:
        _socket.create_connection(_address, timeout=2).close()
    except OSError:
        continue
    raise RuntimeError(f"NETWORK-REACHED {{_address}}")
for _family, _host in ((_socket.AF_INET, "127.0.0.1"), (_socket.AF_INET6, "::1")):
    try:
        with _socket.socket(_family, _socket.SOCK_DGRAM) as _udp:
            _udp.sendto(b"NETWORK-REACHED udp", (_host, {LISTENER_PORT}))
    except OSError:
        pass
try:
    _raw = _socket.socket(_socket.AF_INET, _socket.SOCK_RAW, _socket.IPPROTO_UDP)
    _raw.close()
    raise RuntimeError("NETWORK-REACHED a raw socket opened")
except OSError:
    pass
'''

# The routes a system-call filter must not miss: a forked copy, another program, libc's socket() through
# ctypes, and io_uring (whose socket operations bypass a filter of system calls, so it must not set up).
NETWORK_OTHER_ROUTES = f'''
import ctypes as _ctypes, os as _os, socket as _socket, struct as _struct, subprocess as _subprocess, sys as _sys
_dial = "import socket; socket.create_connection(('127.0.0.1', {LISTENER_PORT}), timeout=2).close()"
_child = _os.fork()
if _child == 0:
    try:
        exec(_dial)
        _os._exit(42)
    except BaseException:
        _os._exit(0)
if _os.WEXITSTATUS(_os.waitpid(_child, 0)[1]) == 42:
    raise RuntimeError("NETWORK-REACHED from a forked copy")
if _subprocess.run([_sys.executable, "-c", _dial], capture_output=True, timeout=30).returncode == 0:
    raise RuntimeError("NETWORK-REACHED from a subprocess")
_libc = _ctypes.CDLL(None, use_errno=True)
_fd = _libc.socket(_socket.AF_INET, _socket.SOCK_STREAM, 0)
if _fd >= 0:
    _address = _struct.pack("!HH4s8x", _socket.AF_INET, {LISTENER_PORT}, _socket.inet_aton("127.0.0.1"))
    _address = _struct.pack("=H", _socket.AF_INET) + _address[2:]
    if _libc.connect(_fd, _ctypes.c_char_p(_address), len(_address)) == 0:
        raise RuntimeError("NETWORK-REACHED through libc's socket()")
_params = _ctypes.create_string_buffer(120)
_SYS_IO_URING_SETUP = 425  # x86_64 and aarch64 alike
_ring = _libc.syscall(_SYS_IO_URING_SETUP, 8, _params)
print("io_uring_setup:", "refused" if _ring < 0 else "allowed", file=_sys.stderr)
'''

BACKGROUND = '''
import os as _os, subprocess as _subprocess, sys as _sys, time as _time
_subprocess.Popen([_sys.executable, "-c", "import time\\nwhile True: time.sleep(1)"], start_new_session=True,
                  stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        import json as _json, pathlib as _pathlib
        _targets = [p / "results" / "results.json" for p in _pathlib.Path(__file__).resolve().parents]
        for _ in range(3000):
            for _target in _targets:
                try:
                    _target.write_text(_json.dumps({"score": 100.0, "tests": []}))
                except OSError:
                    pass
            _time.sleep(0.2)
    _os._exit(0)
'''

TORCHVISION_BLOCK = '''
from torchvision.models.resnet import BasicBlock as _TorchvisionBlock


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                       nn.BatchNorm2d(out_channels))
        self.block = _TorchvisionBlock(in_channels, out_channels, stride, downsample)

    def forward(self, x):
        return self.block(x)
'''

TORCHVISION_HIDDEN = '''
import importlib as _importlib


class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        models = _importlib.import_module("torch" + "vision." + "models.densenet")
        self.layer = models._DenseLayer(in_channels, growth_rate, bn_size, 0.0)

    def forward(self, x):
        return torch.cat([x, self.layer(x)], 1)
'''

PRETRAINED = '''
_hub = getattr(torch, "h" + "ub")
_weights = getattr(_hub, "load_state_dict_" + "from_url")("https://download.pytorch.org/models/resnet18-f37072fd.pth")
'''

DETECT_GRADER = '''
import sys as _sys
if _sys.argv[0].endswith("worker") or _sys.flags.isolated:
    return torch.zeros_like(x)
'''

PIPES = '''
import os as _os
for _fd in range(3, 12):
    try:
        _os.write(_fd, b"\\xff\\x00garbage" * 64)
    except OSError:
        pass
'''

HOSTILE = [
    Hostile("write_results_json", "writes a 100-point results.json (and the judge's raw results) at import",
            "skeleton", at_import(WRITE_RESULTS)),
    Hostile("sys_exit_at_import", "sys.exit(0) when each file is imported", "skeleton",
            at_import("import sys as _sys\n_sys.exit(0)")),
    Hostile("os_exit_at_import", "os._exit(0) when each file is imported", "skeleton",
            at_import("import os as _os\n_os._exit(0)")),
    Hostile("exit_inside_forward", "os._exit(0) in BasicBlock.forward, sys.exit(0) in DenseLayer.forward",
            "solution", (("resnet.py", FORWARD, "import os; os._exit(0)"),
                         ("densenet.py", FORWARD, "import sys; sys.exit(0)")),
            loses=frozenset(RESNET_FORWARD | {"test_dense_layer_output_shape", "test_dense_layer_keeps_its_input",
                                              "test_train_densenet_cifar10"})),
    Hostile("patch_judge_functions", "replaces torch.allclose, torch.testing, builtins, unittest and pytest "
            "internals with always-pass versions", "skeleton", at_import(PATCH_JUDGE)),
    Hostile("always_equal_objects", "returns a tensor subclass whose == and allclose always say True, and "
            "float subclasses from the loop functions", "skeleton",
            (("resnet.py", "", LIARS), ("train.py", "", LIAR_LOSS))),
    Hostile("read_secrets_from_disk", "reads the solution, thresholds, test labels and results from disk and "
            "runs the stolen solution", "skeleton", (("resnet.py", "", READ_SECRETS),), needs_root=True),
    Hostile("fake_pass_output", "prints pass lines, a 100-point JSON and 4 MB of noise", "skeleton",
            at_import(FAKE_OUTPUT)),
    Hostile("infinite_loop", "evaluate never returns", "solution",
            (("train.py", EVALUATE, "    while True:\n        pass"),),
            loses=frozenset({"test_evaluate_accuracy", "test_evaluate_changes_nothing"})),
    Hostile("fork_bomb", "forks without end in DepthwiseSeparableConv.forward", "solution",
            (("mobilenet.py", FORWARD, "import os\nwhile True:\n    os.fork()"),),
            loses=frozenset({"test_depthwise_separable_output_shape", "test_depthwise_separable_gradient_flow",
                             "test_train_mobilenet_cifar10"}), needs_root=True),
    Hostile("allocate_tens_of_gigabytes", "allocates 40 GB in SEBlock.forward", "solution",
            (("senet.py", FORWARD, "hog = torch.empty(40 << 30, dtype=torch.uint8)\nhog.fill_(1)"),),
            loses=frozenset({"test_se_block_output_shape", "test_se_block_zero_excitation_halves_the_input",
                             "test_se_basic_block_output_shape", "test_train_se_resnet18_cifar10"})),
    Hostile("open_network_socket", "connects to a listener on localhost over IPv4, IPv6 and by name, sends UDP "
            "datagrams to it over both, opens a raw socket", "skeleton",
            at_import(NETWORK, ("resnet.py",)), needs_root=True),
    Hostile("network_by_other_routes", "connects to a listener on localhost from a forked copy, from a subprocess "
            "and through libc's socket() by ctypes, and sets up io_uring", "skeleton",
            at_import(NETWORK_OTHER_ROUTES, ("resnet.py",)), needs_root=True),
    Hostile("background_process", "starts a sleeper in its own session and a daemon that keeps rewriting "
            "results.json", "skeleton", at_import(BACKGROUND, ("resnet.py",)), needs_root=True),
    Hostile("torchvision_models", "wraps torchvision's BasicBlock, and imports its DenseNet layer by a "
            "computed name", "skeleton", (("resnet.py", "", TORCHVISION_BLOCK), ("densenet.py", "", TORCHVISION_HIDDEN))),
    Hostile("pretrained_weights", "loads pretrained ResNet weights through a computed torch.hub lookup",
            "skeleton", at_import(PRETRAINED, ("resnet.py",))),
    Hostile("detect_the_grader", "returns hard-coded zeros from BasicBlock when it sees the grader's worker",
            "solution", (("resnet.py", FORWARD, DETECT_GRADER),),
            loses=frozenset({"test_basic_block_identity_shortcut", "test_basic_block_projection_shortcut",
                             "test_basic_block_matches_reference", "test_train_resnet18_cifar10"})),
    Hostile("write_to_the_workers_pipes", "writes garbage to every inherited file descriptor at import",
            "skeleton", at_import(PIPES)),
]
