"""Writes the small tensor files that Tests/EffNetRuntimeTests/IO/PythonFixtureTests.swift reads.

They prove that files written by NumPy (np.save) and by the `safetensors` package (as PyTorch
users write them) load in Swift with the expected shapes, values, dtypes and metadata.
Run from anywhere with the repo's torch venv:  /work/venv/bin/python Tests/Fixtures/io/make_io_fixtures.py
The output is deterministic; every file is < 1 KB.
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(here, name)


# safetensors with every dtype the reader converts, plus integer tensors and metadata.
save_file(
    {
        "f32": (torch.arange(6, dtype=torch.float32) * 0.5 - 1.0).reshape(2, 3),
        "f64": torch.tensor([0.1, -2.5, 3.0], dtype=torch.float64),
        "f16": torch.tensor([1.0, -0.5, 65504.0, 2.0**-24], dtype=torch.float16),
        "bf16": torch.tensor([[1.0, -2.0], [3.140625, 0.0078125]], dtype=torch.bfloat16),
        "i64": torch.tensor([-1, 0, 1 << 40], dtype=torch.int64),
        "i32": torch.tensor([7, -8], dtype=torch.int32),
        "features.0.0.weight": torch.zeros(4, 3, 1, 1, dtype=torch.float32),
    },
    path("python_mixed.safetensors"),
    metadata={"format": "pt", "source": "effnet io fixture"},
)

np.save(path("python_f32.npy"), (np.arange(6, dtype=np.float32) / 4 - 0.5).reshape(2, 3))
np.save(path("python_f64.npy"), np.array([[0.1, -0.2], [3.5, 1e-3]], dtype=np.float64))
np.save(path("python_scalar.npy"), np.array(2.5, dtype=np.float32))
np.save(path("python_i64.npy"), np.array([3, 1, 4, 1, 5], dtype=np.int64))
np.save(path("python_i32.npy"), np.array([[1, -2], [3, -4]], dtype=np.int32))
np.save(path("python_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(path("python_complex.npy"), np.array([1 + 2j], dtype=np.complex64))
