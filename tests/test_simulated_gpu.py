"""The simulated GPU of the loop's device checks: what it lets through and what it notes, and where."""
from __future__ import annotations

from pathlib import Path

import torch

from autograder.worker.simulated_gpu import DEVICE, SimulatedGPU, on_host

HERE = Path(__file__).resolve().parent


def test_moves_follow_the_device_and_a_mix_is_noted_at_the_callers_line() -> None:
    gpu, batch, weight = SimulatedGPU(HERE), on_host(torch.ones(2, 3)), torch.ones(3)
    with gpu:
        moved = batch.to(DEVICE, non_blocking=True)
        assert (moved.device, batch.device, weight.device) == (DEVICE, torch.device("cpu"), DEVICE)
        assert (moved * weight).device == DEVICE and batch.cuda().device == DEVICE
        assert (moved.cpu() + batch).device == torch.device("cpu"), "back on the host, it meets the batch there"
        assert torch.zeros(2, device=DEVICE).device == DEVICE
        assert gpu.findings == []
        mixed = batch * weight  # the line a GPU would refuse
    assert torch.equal(mixed, torch.ones(2, 3)), "the arithmetic is the CPU's, unchanged"
    assert [(f["what"], f["op"], f["code"]) for f in gpu.findings] == [("mixed", "mul", "mixed = batch * weight  "
                                                                        "# the line a GPU would refuse")]
    assert gpu.findings[0]["where"].startswith("test_simulated_gpu.py, line ")


def test_what_crosses_devices_on_a_real_gpu_is_not_noted() -> None:
    gpu, batch = SimulatedGPU(HERE), on_host(torch.arange(6.0).view(2, 3))
    with gpu:
        on_device = torch.empty(2, 3, device=DEVICE)
        on_device.copy_(batch)
        on_device[0] = batch[1]
        total = batch.sum() + on_device.sum()  # a CPU scalar may meet a device tensor
        assert batch.pin_memory() is batch
    assert gpu.findings == [] and total.item() == 15.0 + 3 + 4 + 5 + 3 + 4 + 5
