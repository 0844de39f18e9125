"""The judge <-> worker message format: JSON plus raw tensor bytes, never pickles.

A message is an 8-byte little-endian header length, a UTF-8 JSON header, then the bytes
of each tensor in order. In the header's `body`, a tensor stands as {"__tensor__": i};
`tensors[i]` gives its dtype and shape. Decoding checks every dtype, size and count, so a
reply from a misbehaving worker fails with WireError instead of being trusted. `receive` reads
one message through either side's own reader.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Callable

import numpy as np
import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
          "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}
MAX_HEADER = 16 * 2**20
MAX_PAYLOAD = 2 * 2**30
_LENGTH = struct.Struct("<Q")


class WireError(ValueError):
    """A message that does not follow the format."""


def encode(body: Any) -> bytearray:
    """Serialise `body` (JSON types and tensors, nested in dicts and lists)."""
    tensors: list[torch.Tensor] = []

    def lift(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            if tensor.dtype in (torch.float16, torch.bfloat16):
                tensor = tensor.float()
            tensors.append(tensor.contiguous())
            return {"__tensor__": len(tensors) - 1}
        if isinstance(value, dict):
            return {str(k): lift(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [lift(v) for v in value]
        return value

    lifted = lift(body)
    meta = []
    for tensor in tensors:
        name = str(tensor.dtype).removeprefix("torch.")
        if name not in DTYPES:
            raise WireError(f"cannot send a tensor of dtype {tensor.dtype}")
        meta.append({"dtype": name, "shape": list(tensor.shape)})
    header = json.dumps({"body": lifted, "tensors": meta}, allow_nan=True).encode()
    # One buffer, each tensor's bytes copied in once: a training check's images are sent whole, and copies of
    # them (bytes, then joined, then prefixed) were the judge's largest allocations.
    message = bytearray(_LENGTH.size + len(header) + sum(t.numel() * t.element_size() for t in tensors))
    _LENGTH.pack_into(message, 0, len(header))
    offset = _LENGTH.size + len(header)
    message[_LENGTH.size:offset] = header
    for tensor in tensors:
        data = tensor.numpy().reshape(-1).view(np.uint8)
        message[offset:offset + len(data)] = memoryview(data)
        offset += len(data)
    return message


def header_length(prefix: bytes) -> int:
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_HEADER:
        raise WireError(f"header of {length} bytes is over the limit")
    return length


def payload_length(header: dict) -> int:
    """Bytes of tensor data that follow `header`, validating its tensor table."""
    tensors = header.get("tensors")
    if not isinstance(tensors, list):
        raise WireError("header has no tensor table")
    total = 0
    for meta in tensors:
        if not isinstance(meta, dict) or meta.get("dtype") not in DTYPES:
            raise WireError(f"bad tensor entry {meta!r}")
        shape = meta.get("shape")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise WireError(f"bad tensor shape {shape!r}")
        total += int(np.prod(shape, dtype=np.int64)) * DTYPES[meta["dtype"]].itemsize
    if total > MAX_PAYLOAD:
        raise WireError(f"{total} bytes of tensors is over the limit")
    return total


def parse_header(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"header is not JSON: {error}") from None
    if not isinstance(header, dict) or "body" not in header:
        raise WireError("header has no body")
    return header


def decode_body(header: dict, payload: bytes) -> Any:
    """Rebuild the body, turning tensor references into fresh, plain torch tensors."""
    tensors, offset = [], 0
    for meta in header["tensors"]:
        dtype = DTYPES[meta["dtype"]]
        count = int(np.prod(meta["shape"], dtype=np.int64))
        size = count * dtype.itemsize
        array = np.frombuffer(payload, dtype=np.dtype(meta["dtype"]), count=count, offset=offset)
        tensors.append(torch.from_numpy(array.copy()).reshape(meta["shape"]))
        offset += size

    def lower(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"__tensor__"}:
                index = value["__tensor__"]
                if type(index) is not int or not 0 <= index < len(tensors):
                    raise WireError(f"bad tensor reference {index!r}")
                return tensors[index]
            return {k: lower(v) for k, v in value.items()}
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value

    return lower(header["body"])


def decode(message: bytes) -> Any:
    """Decode one whole message (as produced by `encode`)."""
    length = header_length(message[:_LENGTH.size])
    header = parse_header(message[_LENGTH.size:_LENGTH.size + length])
    payload = message[_LENGTH.size + length:]
    if len(payload) != payload_length(header):
        raise WireError("payload length does not match the tensor table")
    return decode_body(header, payload)



def receive(read_exact: Callable[[int], bytes]) -> Any:
    """Read one message through `read_exact(n)`, which returns exactly n bytes or raises EOFError."""
    header = parse_header(read_exact(header_length(read_exact(_LENGTH.size))))
    return decode_body(header, read_exact(payload_length(header)))
