"""The request on a network the student trained: its checkpoint loaded into their own architecture, then run.

A checkpoint is a file from the submission, so nothing in it may run: `torch.load(weights_only=True)` unpickles
tensors and plain containers only and refuses anything that would import or call code. What it holds must then
be exactly the architecture's state_dict, every value finite, before `load_state_dict(strict=True)`. The archive
is read only if its entries are stored as torch.save stores them, so its size bounds what loading it allocates.
"""
from __future__ import annotations

import pickle
import re
import zipfile

import torch

from .contract import StudentError
from .session import Session
from .training_run import predict

SAVE_ADVICE = "fit(..., checkpoint=NAME) in train.py saves the state_dict as the grader reads it"


def trained_predict(session: Session, name: str, module: str, factory: str, kwargs: dict, images: torch.Tensor,
                    threads: int) -> torch.Tensor:
    """Test logits of `module.factory(**kwargs)` with the weights of checkpoints/NAME.pt, on the CPU."""
    torch.set_num_threads(threads)
    where = f"checkpoints/{name}.pt"
    weights = read_weights(session, where)
    model = session.build(module, factory, [], kwargs, seed=0)
    call = f"{factory}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    expected = session.run_student("checkpoint", f"{call}.state_dict()", model.state_dict)
    problem = mismatch(weights, expected)
    if problem:
        raise StudentError("checkpoint", f"{where} does not fit your {call}: {problem}. Train and save it again with "
                                         "the code you submit (or submit the code you trained).", "")
    for key, value in weights.items():  # after the shapes match, so this reads no more than the network holds
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise StudentError("checkpoint", f"{where}: {key} holds NaN or infinite values: the training diverged "
                                             "(a lower learning rate usually helps), or the file was damaged", "")
    session.run_student("checkpoint", f"{call}.load_state_dict(...)", lambda: model.load_state_dict(weights))
    return session.run_student("forward", "forward", lambda: predict(model, images, torch.device("cpu")))


def read_weights(session: Session, where: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint, or a StudentError saying what the file holds instead."""
    path = session.impl / where
    if not path.is_file():
        raise StudentError("checkpoint", f"{where} is not in the submission", "")
    try:  # torch.save's zip archive only: the legacy format allocates each storage at the size its pickle claims
        with zipfile.ZipFile(path) as archive:
            compressed = any(m.compress_type != zipfile.ZIP_STORED for m in archive.infolist())
    except zipfile.BadZipFile:
        raise StudentError("checkpoint", f"{where} is not the zip archive torch.save writes (the legacy format, "
                                         f"_use_new_zipfile_serialization=False, is not read); {SAVE_ADVICE}.",
                           "") from None
    if compressed:  # torch would inflate it, however large: a small file could fill the memory
        raise StudentError("checkpoint", f"{where} holds compressed entries, which torch.save never writes, so it was "
                                         f"not unpacked (a small compressed file can unpack to more than the grader's "
                                         f"memory); {SAVE_ADVICE}.", "")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        if not found:
            raise StudentError("checkpoint", f"{where} could not be read as tensors ({str(error).splitlines()[-3:]}); "
                                             f"{SAVE_ADVICE}.", "") from None
        raise StudentError("checkpoint", f"{where} holds more than tensors: loading it would import or run code "
                                         f"({found.group(1)}). It was refused, and nothing in it ran; {SAVE_ADVICE}.",
                           "") from None
    except Exception as error:  # a damaged or truncated archive
        raise StudentError("checkpoint", f"{where} is not a file torch.save wrote ({type(error).__name__}: "
                                         f"{str(error)[:200]})", "") from None
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in loaded.items()):
        keys = f" with keys {sorted(map(str, loaded))[:5]}" if isinstance(loaded, dict) else ""
        raise StudentError("checkpoint", f"{where} holds a {type(loaded).__name__}{keys}, not a state_dict (names to "
                                         f"tensors); {SAVE_ADVICE}.", "")
    return loaded


def mismatch(weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> str:
    """The first difference between a checkpoint's names and shapes and the architecture's, in words ("" if none)."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing:
        return (f"your network has {missing[0]} {list(expected[missing[0]].shape)}, which the checkpoint lacks "
                f"({len(missing)} such entr{'ies' if len(missing) > 1 else 'y'}"
                + (f"; and the checkpoint has {unexpected[0]}, which your network lacks)" if unexpected else ")"))
    if unexpected:
        return (f"the checkpoint has {unexpected[0]} {list(weights[unexpected[0]].shape)}, which your network lacks "
                f"({len(unexpected)} such entr{'ies' if len(unexpected) > 1 else 'y'})")
    for key, value in expected.items():
        if weights[key].shape != value.shape:
            return f"{key} is {list(weights[key].shape)} in the checkpoint but {list(value.shape)} in your network"
    return ""
