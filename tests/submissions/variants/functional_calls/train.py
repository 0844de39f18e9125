"""Variant: .to(device=..., non_blocking=True), model.zero_grad(), a Python-float running sum, evaluate under a no_grad decorator."""

import torch
from torch import nn

def train_one_epoch(model, loader, optimizer, criterion, device, scheduler=None):
    model.train()
    running, count = 0.0, 0
    for batch in loader:
        inputs, targets = batch[0].to(device=device, non_blocking=True), batch[1].to(device=device, non_blocking=True)
        model.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        if scheduler:
            scheduler.step()
        running += loss.item() * inputs.size(0)
        count += inputs.size(0)
    return running / count

@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    right = total = 0
    for inputs, targets in loader:
        predictions = model(inputs.to(device)).max(dim=1).indices
        right += int((predictions == targets.to(device)).sum())
        total += targets.numel()
    return right / total
