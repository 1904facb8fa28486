#!/usr/bin/env python3
"""Reference values for the training math in Sources/EffNetRuntime/Optimization.

Writes Tests/Fixtures/optimization/reference.safetensors (a few tens of KB):

* cross-entropy: logits [3, 5], labels, loss and d(mean loss)/d(logits) for label smoothing 0
  and 0.1 (torch.nn.functional.cross_entropy in float64 on the float32 logits);
* optimizers: a 144-float parameter buffer holding six named slots (one of them frozen, plus
  padding), six steps of fixed gradients and base learning rates, and the buffer after every step
  for torch.optim.SGD (plain / momentum / dampening / Nesterov / decay-all), torch.optim.AdamW,
  and a float32 NumPy transcription of TensorFlow's ApplyRMSProp kernel (ms starts at 1.0);
* EMA shadows (TF ExponentialMovingAverage formula, float32) along the SGD-momentum trajectory;
* learning rates from torch.optim.lr_scheduler (CosineAnnealingLR, LinearLR, SequentialLR,
  LambdaLR with the EfficientNet exponential decay).

Usage: /work/venv/bin/python Tools/make_optimizer_fixtures.py
"""
import math
import os

import numpy as np
import torch
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "optimization", "reference.safetensors")
tensors = {}

# ---------------------------------------------------------------- cross-entropy
logits = (torch.randn(3, 5) * 2).float()
labels = torch.tensor([1, 4, 0])
tensors["ce.logits"] = logits
tensors["ce.labels"] = labels
for name, eps in (("0", 0.0), ("0.1", 0.1)):
    x = logits.double().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(x, labels, label_smoothing=eps)
    loss.backward()
    tensors[f"ce.loss.{name}"] = loss.detach().reshape(1)
    tensors[f"ce.grad.{name}"] = x.grad.detach()

# ---------------------------------------------------------------- optimizers
# name, offset, count, kind, group (None = frozen)
SLOTS = [
    ("conv.weight", 0, 20, "convolutionWeight", 0),
    ("bn.weight", 32, 5, "batchNormWeight", 0),
    ("bn.bias", 48, 5, "batchNormBias", 0),
    ("frozen.weight", 64, 7, "convolutionWeight", None),
    ("fc.weight", 80, 37, "linearWeight", 1),
    ("fc.bias", 128, 3, "bias", 1),
]
BUFFER = 144
GROUPS = [dict(scale=1.0, wd=0.01), dict(scale=0.5, wd=0.05)]
STEPS = 6
LRS = [0.1, 0.08, 0.05, 0.12, 0.03, 0.07]

params0 = torch.randn(BUFFER).float()
grads = torch.randn(STEPS, BUFFER).float()
tensors["opt.params0"] = params0
tensors["opt.grads"] = grads
tensors["opt.lrs"] = torch.tensor(LRS, dtype=torch.float64)


def decays(kind, decay_all):
    return decay_all or kind in ("convolutionWeight", "linearWeight")


def run_torch(make, decay_all=False):
    """Runs `make(param_groups)` over the slots; returns the buffer after each step [STEPS, BUFFER]."""
    buffer = params0.clone()
    leaves, groups = [], []
    for name, off, cnt, kind, g in SLOTS:
        if g is None:
            continue
        p = torch.nn.Parameter(buffer[off:off + cnt].clone())
        leaves.append((p, off, cnt))
        wd = GROUPS[g]["wd"] if decays(kind, decay_all) else 0.0
        groups.append(dict(params=[p], scale=GROUPS[g]["scale"], weight_decay=wd, lr=0.0))
    opt = make(groups)
    out = []
    for s in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = LRS[s] * group["scale"]
        for p, off, cnt in leaves:
            p.grad = grads[s, off:off + cnt].clone()
        opt.step()
        for p, off, cnt in leaves:
            buffer[off:off + cnt] = p.detach()
        out.append(buffer.clone())
    return torch.stack(out)


tensors["opt.sgd_plain"] = run_torch(lambda g: torch.optim.SGD(g, lr=0.0, foreach=False))
tensors["opt.sgd_momentum"] = run_torch(lambda g: torch.optim.SGD(g, lr=0.0, momentum=0.9, foreach=False))
tensors["opt.sgd_dampening"] = run_torch(
    lambda g: torch.optim.SGD(g, lr=0.0, momentum=0.9, dampening=0.1, foreach=False))
tensors["opt.sgd_nesterov"] = run_torch(
    lambda g: torch.optim.SGD(g, lr=0.0, momentum=0.9, nesterov=True, foreach=False))
tensors["opt.sgd_decay_all"] = run_torch(
    lambda g: torch.optim.SGD(g, lr=0.0, momentum=0.9, foreach=False), decay_all=True)
tensors["opt.adamw"] = run_torch(
    lambda g: torch.optim.AdamW(g, lr=0.0, betas=(0.9, 0.999), eps=1e-8, foreach=False))
tensors["opt.adamw_beta"] = run_torch(
    lambda g: torch.optim.AdamW(g, lr=0.0, betas=(0.8, 0.99), eps=1e-3, foreach=False))


def run_tf_rmsprop(rho=0.9, momentum=0.9, eps=1e-3):
    """TensorFlow ApplyRMSProp (training_ops.cc), float32; rms slot initialised to ones as
    tf.compat.v1.train.RMSPropOptimizer._create_slots does; L2 decay added to the gradient."""
    f = np.float32
    buffer = params0.numpy().copy()
    ms = {n: np.ones(c, np.float32) for n, o, c, k, g in SLOTS}
    mom = {n: np.zeros(c, np.float32) for n, o, c, k, g in SLOTS}
    out = []
    for s in range(STEPS):
        for name, off, cnt, kind, g in SLOTS:
            if g is None:
                continue
            lr = f(LRS[s] * GROUPS[g]["scale"])
            wd = f(GROUPS[g]["wd"] if decays(kind, False) else 0.0)
            p = buffer[off:off + cnt]
            grad = grads[s, off:off + cnt].numpy() + wd * p
            ms[name] = ms[name] + (grad * grad - ms[name]) * f(1 - rho)
            mom[name] = mom[name] * f(momentum) + grad * lr / np.sqrt(ms[name] + f(eps))
            buffer[off:off + cnt] = p - mom[name]
        out.append(buffer.copy())
    return torch.from_numpy(np.stack(out))


tensors["opt.rmsprop_tf"] = run_tf_rmsprop()

# ---------------------------------------------------------------- EMA
def run_ema(decay, warmup):
    traj = tensors["opt.sgd_momentum"]
    shadow = params0.clone()
    out = []
    for n in range(1, STEPS + 1):
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        shadow = shadow - np.float32(1 - d) * (shadow - traj[n - 1])
        out.append(shadow.clone())
    return torch.stack(out)


tensors["ema.d0.9"] = run_ema(0.9, False)
tensors["ema.d0.9999_warmup"] = run_ema(0.9999, True)

# ---------------------------------------------------------------- schedules
def lrs_of(make, steps, base):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(out, dtype=torch.float64)


tensors["lr.cosine"] = lrs_of(
    lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50, eta_min=0.001), 51, 0.1)
tensors["lr.linear_warmup"] = lrs_of(
    lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=10), 15, 0.2)
tensors["lr.sequential"] = lrs_of(
    lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
        torch.optim.lr_scheduler.LinearLR(o, start_factor=0.01, total_iters=5),
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)], milestones=[5]), 25, 0.256)
SPE = 10
tensors["lr.exp_staircase"] = lrs_of(
    lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 0.97 ** math.floor(s / (SPE * 2.4))), 100, 0.256)
tensors["lr.exp_smooth"] = lrs_of(
    lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 0.97 ** (s / (SPE * 2.4))), 100, 0.256)

tensors = {k: v.contiguous() for k, v in tensors.items()}
meta = {"torch": torch.__version__, "generator": "Tools/make_optimizer_fixtures.py"}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
save_file(tensors, OUT, metadata=meta)
print(OUT, os.path.getsize(OUT), "bytes")
