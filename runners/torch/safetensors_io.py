"""Reads and writes safetensors files without the safetensors package.

Layout: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
(plus optional "__metadata__": {str: str}), then the raw little-endian tensor bytes.
"""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
NAMES = {v: k for k, v in DTYPES.items()}


class SafetensorsError(Exception):
    pass


def _header(f, path):
    raw = f.read(8)
    if len(raw) != 8:
        raise SafetensorsError(f"{path}: too short for a safetensors file (no 8-byte header length)")
    (n,) = struct.unpack("<Q", raw)
    if n > 100_000_000:
        raise SafetensorsError(f"{path}: header length {n} is implausible; is this a safetensors file?")
    try:
        return json.loads(f.read(n).decode("utf-8")), 8 + n
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e}); is this a safetensors file?")


def read_metadata(path):
    with open(path, "rb") as f:
        header, _ = _header(f, path)
    return header.get("__metadata__", {}) or {}


def load(path):
    """Returns ({name: tensor}, metadata)."""
    with open(path, "rb") as f:
        header, start = _header(f, path)
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            raise SafetensorsError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        if e > len(data) or b > e:
            raise SafetensorsError(f"{path}: tensor {name} data_offsets {b}..{e} run past the file ({len(data)} data bytes)")
        t = torch.frombuffer(bytearray(data[b:e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out, header.get("__metadata__", {}) or {}


def save(path, tensors, metadata=None):
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in NAMES:
            t = t.float()
        b = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
