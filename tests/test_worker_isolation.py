"""Student code runs only in the worker; its crashes, hangs and import errors become clear failures."""
from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
import torch

from autograder.judge.time_shares import TOO_SLOW
from autograder.judge.worker_client import StudentError, StudentTimeout, Submission, SubprocessWorker, WorkerCrashed
from autograder.rubric import load_rubric
from autograder.worker.loop_fixtures import loop_model
from autograder.worker.serve import HANDLERS

from .grading import UNIT_ONLY, grade
from .submissions.build import REPO, copy_solution


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    return copy_solution(tmp_path / "submission")


def patch(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


FORWARD = "        out = F.relu(self.bn1(self.conv1(x)))\n"
RETURN = "        return F.relu(out + self.shortcut(x))\n"


def test_a_hang_is_cut_by_the_time_limit_and_the_worker_restarts(submission: Path) -> None:
    patch(submission, "resnet.py", FORWARD, "        while True:\n            pass\n" + FORWARD)
    worker = SubprocessWorker(submission)
    try:
        student = Submission(worker)
        block = student.build("resnet", "BasicBlock", 4, 4)
        worker.set_time_limit(2)
        with pytest.raises(StudentTimeout, match="did not return within its time limit of 2 s"):
            block.forward(torch.randn(1, 4, 4, 4))
        worker.set_time_limit(30)
        assert student.build("senet", "SEBlock", 8).parameter_count() == 8 * 1 + 1 + 8 + 8
        assert worker.starts == 2
        started = time.monotonic()
        with pytest.raises(StudentTimeout, match="in an earlier check, BasicBlock.forward: .*not tried again"):
            student.build("resnet", "BasicBlock", 4, 8, 2).backward(torch.randn(1, 4, 4, 4), torch.ones(1, 8, 2, 2))
        assert time.monotonic() - started < 5 and worker.starts == 2, "a forward known to hang was run again"
    finally:
        worker.close()


def test_os_exit_in_forward_is_a_crash_with_a_message(submission: Path) -> None:
    patch(submission, "resnet.py", FORWARD, "        import os; os._exit(0)\n")
    worker = SubprocessWorker(submission)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 4, 4)
        with pytest.raises(WorkerCrashed, match="ended the worker process"):
            block.forward(torch.randn(1, 4, 4, 4))
    finally:
        worker.close()


def test_sys_exit_is_reported_as_the_students_own_call(submission: Path) -> None:
    patch(submission, "resnet.py", FORWARD, "        raise SystemExit(0)\n")
    worker = SubprocessWorker(submission)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 4, 4)
        with pytest.raises(StudentError, match=r"called sys.exit\(0\)") as raised:
            block.forward(torch.randn(1, 4, 4, 4))
        assert "resnet.py" in raised.value.trace
    finally:
        worker.close()


def checks_of(part: str) -> list[str]:
    return [c.id for c in load_rubric().values() if c.part == part]


def test_syntax_error_fails_only_the_checks_that_need_the_file(submission: Path, tmp_path: Path) -> None:
    patch(submission, "mobilenet.py", "class DepthwiseSeparableConv(nn.Module):", "class DepthwiseSeparableConv(nn.Module:")
    (submission / "densenet.py").unlink()
    result = grade(submission, tmp_path, *UNIT_ONLY)
    failed = {t["name"]: t["output"] for t in result.results["tests"] if t["score"] < t["max_score"]}
    mobilenet = [name for name in failed if name.startswith("3.")]
    densenet = [name for name in failed if name.startswith("2.")]
    assert len(mobilenet) == len(checks_of("mobilenet.py")) and len(densenet) == len(checks_of("densenet.py")), (
        sorted(failed))
    assert len(failed) == len(mobilenet) + len(densenet), sorted(failed)
    assert all("SyntaxError" in failed[n] and "mobilenet.py" in failed[n] for n in mobilenet)
    assert all("densenet.py is missing from the submission" in failed[n] for n in densenet)


def test_the_judge_never_imports_the_graded_code(submission: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported-by.json"
    record = (f'import json as _j, os as _o, sys as _s\n'
              f'open({str(marker)!r}, "a").write(_j.dumps({{"pid": _o.getpid(), "argv": _s.argv}}) + "\\n")\n')
    patch(submission, "resnet.py", "from __future__ import annotations\n", "from __future__ import annotations\n" + record)
    result = grade(submission, tmp_path, "-k", "basic_block_parameter_count")
    assert result.score == result.max_score
    imports = [json.loads(line) for line in marker.read_text().splitlines()]
    assert imports and all(Path(i["argv"][0]).name == "worker" for i in imports), imports


def test_student_prints_do_not_disturb_the_protocol(submission: Path) -> None:
    patch(submission, "resnet.py", FORWARD, "        print('debug', x.shape); os.write(1, b'raw bytes')\n" + FORWARD)
    patch(submission, "resnet.py", "import torch\n", "import os\n\nimport torch\n")
    worker = SubprocessWorker(submission)
    try:
        y = Submission(worker).build("resnet", "BasicBlock", 4, 4).forward(torch.randn(2, 4, 3, 3))
        assert y.shape == (2, 4, 3, 3)
    finally:
        worker.close()


def test_inprocess_mode_grades_the_same(tmp_path: Path) -> None:
    solutions = Path(__file__).resolve().parent.parent / "solutions"
    result = grade(solutions, tmp_path, "--inprocess", "-k", "resnet", *UNIT_ONLY)
    assert result.failed == set() and result.score == result.max_score > 0
    assert "unisolated and untimed" in result.output


def test_a_loop_that_asks_the_loader_for_more_than_the_spec_promises_gets_a_hint(submission: Path) -> None:
    patch(submission, "train.py", "    model.eval()\n", "    model.eval()\n    workers = loader.num_workers\n")
    worker = SubprocessWorker(submission)
    try:
        batches = [(torch.randn(n, 1, 8, 8), torch.randint(0, 10, (n,))) for n in (4, 4, 2)]
        state = {k: v.clone() for k, v in loop_model().state_dict().items()}
        with pytest.raises(StudentError, match="promises a loader only batches, len.loader., loader.batch_size"):
            Submission(worker).evaluate(state, batches)
    finally:
        worker.close()


def test_a_worker_that_stops_reading_cannot_block_a_large_request(submission: Path) -> None:
    """The time limit bounds sending too: here the worker stops itself once it has answered."""
    patch(submission, "resnet.py", FORWARD, "        import os, signal, threading\n"
          "        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGSTOP)).start()\n" + FORWARD)
    worker = SubprocessWorker(submission)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 4, 4)
        block.forward(torch.randn(1, 4, 4, 4))
        time.sleep(1)
        worker.set_time_limit(5)
        with pytest.raises(StudentTimeout):
            block.forward(torch.randn(64, 4, 64, 64))  # 4 MiB: far more than a pipe holds
    finally:
        worker.close()


def test_a_constructor_that_hung_once_fails_at_once_after(submission: Path) -> None:
    """An endless __init__ costs one time limit, not one per check that builds the block."""
    patch(submission, "mobilenet.py", "        super().__init__()\n", "        super().__init__()\n        while True:\n            pass\n")
    worker = SubprocessWorker(submission)
    try:
        worker.set_time_limit(2)
        with pytest.raises(StudentTimeout):
            Submission(worker).build("mobilenet", "DepthwiseSeparableConv", 4, 8)
        worker.set_time_limit(30)
        started = time.monotonic()
        with pytest.raises(StudentTimeout, match=r"in an earlier check, DepthwiseSeparableConv: did not return within its time limit of 2 s .*; so it was not "
                                                 "tried again"):
            Submission(worker).build("mobilenet", "DepthwiseSeparableConv", 8, 8, 2)
        assert time.monotonic() - started < 1, "the second build waited"
        assert worker.starts == 1, "the worker was restarted for a constructor known to hang"
        assert Submission(worker).build("resnet", "BasicBlock", 4, 4).parameter_count() > 0
    finally:
        worker.close()


def test_a_module_that_kills_the_worker_at_import_is_not_imported_again(submission: Path) -> None:
    """After os._exit() at import, the module's other classes fail at once: no restart per check."""
    (submission / "densenet.py").write_text("import os\nos._exit(3)\n")
    worker = SubprocessWorker(submission)
    try:
        with pytest.raises(WorkerCrashed, match="exit status 3"):
            Submission(worker).build("densenet", "DenseLayer", 4, 4)
        with pytest.raises(WorkerCrashed, match="not tried again"):
            Submission(worker).build("densenet", "Transition", 8, 4)
        assert worker.starts == 1
    finally:
        worker.close()


def test_release_drops_what_a_check_built(submission: Path) -> None:
    worker = SubprocessWorker(submission)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 4, 4)
        worker.release()
        with pytest.raises(StudentError, match="no object with handle"):
            block.parameters()
    finally:
        worker.close()


def test_the_worker_is_the_one_the_oom_killer_takes(submission: Path) -> None:
    worker = SubprocessWorker(submission)
    try:
        Submission(worker).build("resnet", "BasicBlock", 4, 4)
        assert Path(f"/proc/{worker.process.pid}/oom_score_adj").read_text().strip() == "1000"
    finally:
        worker.close()


def test_a_hang_costs_only_the_checks_of_the_code_that_hangs(submission: Path, tmp_path: Path) -> None:
    """train_one_epoch loops forever: its first check waits out its limit, its later checks fail at once naming
    that, and evaluate's checks and every other part keep their points, within a tight overall limit."""
    patch(submission, "train.py", "    ### BEGIN SOLUTION\n", "    while True:\n        pass\n", )
    result = grade(submission, tmp_path, *UNIT_ONLY, "--time-limit", "90", "--time-limit-scale", "0.25")
    by_id = {c.id: c for c in load_rubric().values()}
    lost = {t["number"]: t["output"] for t in result.results["tests"] if t["score"] < t["max_score"]}
    loop_checks = [c.number for c in by_id.values() if c.id.startswith("test_train_one_epoch")]
    assert sorted(lost) == sorted(loop_checks), f"other checks lost points: {sorted(set(lost) - set(loop_checks))}"
    first, *later = loop_checks
    assert "did not return within its time limit" in lost[first], lost[first]
    assert all("in an earlier check, train_one_epoch: did not return" in lost[n] and "not tried again" in lost[n]
               for n in later), [lost[n] for n in later]
    assert len(result.results["tests"]) == len([c for c in by_id.values() if c.part != "training"])


def test_time_up_with_no_hang_is_not_graded_rather_than_failed(tmp_path: Path) -> None:
    """The reference solution in far too little time: the checks left are "not graded", the machine's fault, and
    results.json says which, for a regrade."""
    result = grade(REPO / "solutions", tmp_path, *UNIT_ONLY, "--time-limit", "12")
    lost = [t for t in result.results["tests"] if t["score"] < t["max_score"]]
    assert lost and all(t["output"] == TOO_SLOW for t in lost), [t["output"] for t in lost]
    assert sorted(result.results["extra_data"]["not_graded"]) == sorted(t["number"] for t in lost)
    assert result.results["output"].startswith("Not graded in full: the grading machine was too slow")


def test_a_copy_the_submission_forks_never_answers_for_the_worker(submission: Path) -> None:
    """A forked child that returns from forward would otherwise write a second reply and read the next
    request: the judge would get one request's answer for another (a tensor for a parameter list)."""
    patch(submission, "resnet.py", RETURN, "        import os; os.fork()\n" + RETURN)
    worker = SubprocessWorker(submission)
    try:
        block = Submission(worker).build("resnet", "BasicBlock", 4, 4)
        worker.set_time_limit(20)
        for _ in range(3):
            assert block.forward(torch.randn(1, 4, 4, 4)).shape == (1, 4, 4, 4)
            assert isinstance(block.parameters(), list)
    finally:
        worker.close()


def requests_sent(path: Path) -> set[str]:
    """The request names a judge-side file sends: request("op", ...), construct or guarded(target, "op", ...),
    run_forward("op", ...), op="op"."""
    sent = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            position = {"request": 0, "construct": 1, "guarded": 1, "_guarded": 1, "run_forward": 0}.get(node.func.attr)
            if position is not None and len(node.args) > position and isinstance(node.args[position], ast.Constant):
                sent.add(node.args[position].value)
        if isinstance(node, ast.keyword) and node.arg == "op" and isinstance(node.value, ast.Constant):
            sent.add(node.value.value)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "op" and isinstance(value, ast.Constant):
                    sent.add(value.value)
    return sent


def test_every_request_the_judge_sends_has_a_handler_and_every_handler_a_sender() -> None:
    grader = Path(__file__).resolve().parent.parent / "autograder"
    sent = set().union(*(requests_sent(p) for p in grader.rglob("*.py") if "worker" not in p.relative_to(grader).parts))
    assert sent == set(HANDLERS), f"sent without a handler: {sent - set(HANDLERS)}; never sent: {set(HANDLERS) - sent}"
