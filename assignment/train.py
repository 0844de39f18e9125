"""Training loop of the lab: one epoch of training, evaluation, and the `fit` driver around them."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sized

import torch
from torch import nn

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
# Where fit(..., checkpoint=NAME) saves what it trained: submit this folder's files with your code.
CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


def train_one_epoch(
    model: nn.Module,
    loader: Batches,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    device: torch.device | str,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """Train `model` for one pass over `loader`; return the mean loss per sample.

    Each batch: move inputs (N, C, H, W) and targets (N,) to `device`, clear the old
    gradients, back-propagate `criterion(model(inputs), targets)`, step the optimizer,
    then step `scheduler` if one is given. A batch's loss counts N times in the mean.
    """
    raise NotImplementedError('train_one_epoch is yours to write: ASSIGNMENT_SPEC.md, section train.py, describes train_one_epoch')


def evaluate(model: nn.Module, loader: Batches, device: torch.device | str) -> float:
    """Return the fraction of samples in `loader` whose arg-max prediction equals the target.

    Runs in evaluation mode without gradients, so no parameter and no batch-norm
    running statistic changes.
    """
    raise NotImplementedError('evaluate is yours to write: ASSIGNMENT_SPEC.md, section train.py, describes evaluate')


@dataclass
class History:
    """Per-epoch record of a `fit` run."""

    train_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # fit's arguments, the device and torch's version


def fit(
    model: nn.Module,
    train_loader: Batches,
    test_loader: Batches,
    *,
    epochs: int,
    lr: float,
    device: torch.device | str = "cpu",
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    label_smoothing: float = 0.1,
    log: Callable[[str], None] | None = print,
    checkpoint: str | None = None,
) -> History:
    """Train with SGD (Nesterov momentum) and a one-cycle learning rate stepped every batch.

    The defaults are the ones the autograder's training checks use, so a run here and a
    grading run train alike (autograder/training_profiles.toml, [settings]).

    `train_loader` must have a length (batches per epoch) for the schedule. After every
    epoch the test accuracy is measured and, if `log` is given, one line is reported.
    With `checkpoint="resnet18"`, the trained weights and the history are saved as
    checkpoints/resnet18.pt and checkpoints/resnet18.json (`save_checkpoint`).
    """
    if not isinstance(train_loader, Sized):
        raise TypeError("fit needs a train_loader with a len() to plan the learning-rate schedule")
    model.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(train_loader), pct_start=0.25
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    history = History(settings=dict(epochs=epochs, lr=lr, weight_decay=weight_decay, momentum=momentum,
                                    label_smoothing=label_smoothing, batch_size=getattr(train_loader, "batch_size", None),
                                    device=str(device), torch=torch.__version__))
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer, criterion, device, scheduler)
        accuracy = evaluate(model, test_loader, device)
        history.train_loss.append(loss)
        history.test_accuracy.append(accuracy)
        history.seconds.append(time.perf_counter() - start)
        if log is not None:
            log(f"epoch {epoch:>2}/{epochs}  train loss {loss:.4f}  test accuracy {accuracy:6.2%}  "
                f"{history.seconds[-1]:.1f}s")
    if checkpoint is not None:
        save_checkpoint(model, history, checkpoint)
    return history


def save_checkpoint(model: nn.Module, history: History, name: str, folder: Path = CHECKPOINTS) -> Path:
    """Save the model's weights as folder/NAME.pt (its state_dict, on the CPU) and its history as NAME.json.

    A state_dict holds tensors only, so the grader can load it without running anything;
    it loads it into the architecture your submitted code builds, so submit the code you trained.
    """
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, folder / f"{name}.pt")
    (folder / f"{name}.json").write_text(json.dumps(asdict(history), indent=1) + "\n")
    return folder / f"{name}.pt"
