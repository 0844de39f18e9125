"""The student skeleton is generated from the solution, imports cleanly and says what to write."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch

from autograder.instructor.skeleton import MarkerError, generate, main, skeleton_source
from autograder.worker.package_loader import load_module

REPO = Path(__file__).resolve().parent.parent
STUDENT_PARTS = {
    "resnet": ["BasicBlock"],
    "densenet": ["DenseLayer", "Transition"],
    "mobilenet": ["DepthwiseSeparableConv"],
    "senet": ["SEBlock", "SEBasicBlock"],
    "train": ["train_one_epoch", "evaluate"],
}


def test_assignment_is_what_the_generator_produces() -> None:
    assert main(["--check"]) == 0, "assignment/ was edited by hand: run `python -m autograder.instructor.skeleton`"


def test_check_reports_a_hand_edited_skeleton(tmp_path: Path) -> None:
    out = tmp_path / "assignment"
    assert main(["--out", str(out)]) == 0
    (out / "resnet.py").write_text((out / "resnet.py").read_text() + "# edited\n")
    assert main(["--check", "--out", str(out)]) == 1


def test_given_code_is_identical_outside_the_markers() -> None:
    for name, text in generate(REPO / "solutions").items():
        solution = (REPO / "solutions" / name).read_text()
        kept = re.sub(r"\n[ \t]*### BEGIN SOLUTION\n.*?### END SOLUTION\n", "\n", solution, flags=re.S)
        assert re.sub(r"\n[ \t]*raise NotImplementedError\(.*?\)\n", "\n", text) == kept, name


def skeleton(module: str):
    return load_module(REPO / "assignment", "skeleton_under_test", module)


@pytest.mark.parametrize("module", sorted(STUDENT_PARTS))
def test_student_parts_raise_with_a_message_naming_class_and_spec(module: str) -> None:
    stubbed = skeleton(module)
    for name in STUDENT_PARTS[module]:
        obj = getattr(stubbed, name)
        params = inspect.signature(obj).parameters
        args = [8] * sum(p.default is inspect.Parameter.empty for p in params.values())
        with pytest.raises(NotImplementedError) as raised:
            obj(*args)
        message = str(raised.value)
        assert message.startswith(f"{name}"), message
        assert f"ASSIGNMENT_SPEC.md, section {module}.py" in message, message


def test_given_models_build_once_the_student_parts_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject the solution's student parts into the skeleton: its given code must then work."""
    for module, names in STUDENT_PARTS.items():
        reference = load_module(REPO / "solutions", "reference_solution", module)
        for name in names:
            monkeypatch.setattr(skeleton(module), name, getattr(reference, name))
    x = torch.randn(2, 3, 32, 32)
    for module, factory in [("resnet", "resnet18"), ("resnet", "resnet34"), ("densenet", "densenet_cifar"),
                            ("mobilenet", "MobileNet"), ("senet", "se_resnet18"), ("baseline", "Net")]:
        assert getattr(skeleton(module), factory)().eval()(x).shape == (2, 10), factory


def test_markers_must_balance() -> None:
    body = "def f():\n    ### BEGIN SOLUTION\n    return 1\n"
    with pytest.raises(MarkerError, match="never closed"):
        skeleton_source(body, "f.py")
    with pytest.raises(MarkerError, match="outside a function"):
        skeleton_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "f.py")
    assert skeleton_source(body + "    ### END SOLUTION\n", "f.py") == (
        "def f():\n    raise NotImplementedError('f is yours to write: ASSIGNMENT_SPEC.md, section f.py, describes f')\n"
    )
