"""Variant: enumerate, zero_grad(set_to_none=False), batches moved with .cuda(non_blocking=True) only when
the device is a GPU, inference_mode for evaluation, samples counted with len(loader.dataset) as PyTorch's
own examples do, and a tqdm progress bar over the training batches."""

import torch
from torch import nn
from tqdm import tqdm

def train_one_epoch(model, loader, optimizer, criterion, device, scheduler=None):
    model.train(True)
    losses, sizes = [], []
    for step, (inputs, targets) in enumerate(tqdm(loader, desc="training", unit="batch")):
        optimizer.zero_grad(set_to_none=False)
        if torch.device(device).type == "cuda":
            inputs = inputs.cuda(non_blocking=True)
            targets = targets.cuda(non_blocking=True)
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        sizes.append(len(inputs))
    return float(sum(l * n for l, n in zip(losses, sizes)) / sum(sizes))

def evaluate(model, loader, device):
    model.eval()
    hits = 0
    with torch.inference_mode():
        for inputs, targets in loader:
            logits = model(inputs.to(device))
            hits += (logits.argmax(1).cpu() == targets).sum().item()
    return hits / len(loader.dataset)
