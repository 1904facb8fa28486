"""Where the constants of the C kernels' exp come from (v_one_plus_exp_of_negative_group in
Sources/CEffNetSIMD/KernelTemplate.h). Two forms, one per instruction set:

Polynomial (AVX2): the argument is reduced to [-ln2/2, ln2/2] (Cody-Waite) and exp(r) is a
relative-error minimax polynomial with the constant term fixed at 1, in Horner form, one FMA per degree:

    /work/venv/bin/python Tools/exp_minimax.py --degree 6

prints the maximum relative error before rounding (degree 6: 2.6e-9, far below a float ulp; degree 5:
4.3e-7, several ulps, too coarse) and the coefficients c1..cN rounded to float (Remez exchange).

Table (AVX-512): exp(-x) = 2^(k/16) * exp(r) with r in [-ln2/32, ln2/32]; 2^(j/16) for j = k mod 16 comes
from a 16-entry table (one vpermps) and exp(r) needs only degree 3:

    /work/venv/bin/python Tools/exp_minimax.py --table

prints the polynomial (Lawson's iteration; degree 3: 1.6e-9 after rounding the coefficients), the table's
bit patterns with j << 19 taken off (the kernel adds k << 19, which puts j back and adds floor(k/16) to
the exponent) and, per entry, ln(2^(j/16) / T_j): the rounding error of the float T_j, which the kernel
adds to r so that the table's rounding does not show in the result.

Needs mpmath (installed with torch; `pip install mpmath` otherwise). The rounded constants' error is what
counts: it is measured over every float in the C harness described at v_one_plus_exp_of_negative_group.
"""
import argparse

import mpmath as mp


def minimax(degree: int, grid: int = 4000, iterations: int = 30):
    """Remez exchange for 1 + c1*r + ... + cN*r^N ~ exp(r), minimizing max |p(r)/exp(r) - 1|."""
    mp.mp.dps = 40
    half = mp.log(2) / 2
    points = [half * mp.cos(mp.pi * (degree - k) / degree) for k in range(degree + 1)]
    points = [x if abs(x) > 1e-30 else mp.mpf("1e-20") for x in points]
    samples = [-half + 2 * half * k / grid for k in range(grid + 1)]
    for _ in range(iterations):
        # p(x_i) - exp(x_i) = (-1)^i * E * exp(x_i) at the reference points.
        a = mp.matrix(degree + 1, degree + 1)
        b = mp.matrix(degree + 1, 1)
        for i, x in enumerate(points):
            for j in range(degree):
                a[i, j] = x ** (j + 1)
            a[i, degree] = (-1) ** i * mp.exp(x)
            b[i] = mp.exp(x) - 1
        solution = mp.lu_solve(a, b)
        coefficients = [solution[j] for j in range(degree)]

        def error(x):
            return (1 + sum(c * x ** (j + 1) for j, c in enumerate(coefficients))) / mp.exp(x) - 1

        values = [error(x) for x in samples]
        # The new reference: the error's alternating extrema.
        extrema = []
        for k, value in enumerate(values):
            peak = k in (0, len(values) - 1) or (abs(value) >= abs(values[k - 1]) and abs(value) >= abs(values[k + 1]))
            if not peak:
                continue
            if extrema and (extrema[-1][1] > 0) == (value > 0):
                if abs(value) > abs(extrema[-1][1]):
                    extrema[-1] = (samples[k], value)
            else:
                extrema.append((samples[k], value))
        while len(extrema) > degree + 1:
            extrema.pop(0 if abs(extrema[0][1]) < abs(extrema[-1][1]) else -1)
        if len(extrema) == degree + 1:
            points = [x for x, _ in extrema]
    return coefficients, max(abs(v) for v in values)


def lawson(degree: int, half: float, nodes: int = 2001, iterations: int = 200):
    """Near-minimax 1 + c1*r + ... + cN*r^N ~ exp(r) on [-half, half] by Lawson's iteratively reweighted
    least squares on Chebyshev nodes (the Remez exchange above does not converge on short intervals at
    degree 3). Returns float32 coefficients and their max relative error on a fine grid."""
    import numpy as np

    r = half * np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    a = np.stack([r ** (j + 1) / np.exp(r) for j in range(degree)], 1)
    b = 1 - 1 / np.exp(r)
    weights = np.ones_like(r)
    for _ in range(iterations):
        root = np.sqrt(weights)
        c, *_ = np.linalg.lstsq(a * root[:, None], b * root, rcond=None)
        weights = weights * np.abs(a @ c - b)
        weights /= weights.sum()
    c = np.float32(c)
    fine = np.linspace(-half, half, 200001)
    p = 1 + sum(float(c[j]) * fine ** (j + 1) for j in range(degree))
    return c, float(np.max(np.abs(p / np.exp(fine) - 1)))


def table(degree: int = 3):
    """The AVX-512 form's constants: 16 entries (one vpermps holds 16 lanes), so k << 19 = k << (23 - 4)
    carries floor(k/16) into the exponent field."""
    import numpy as np

    steps, shift = 16, 19
    mp.mp.dps = 40
    c, worst = lawson(degree, float(mp.log(2)) / (2 * steps))
    print(f"degree {degree} on [-ln2/{2 * steps}, ln2/{2 * steps}]: max relative error {worst:.3g} with float coefficients")
    for j, cj in enumerate(c):
        print(f"c{j + 1} = {np.format_float_positional(cj)}")
    bits, corrections = [], []
    for j in range(steps):
        exact = mp.power(2, mp.mpf(j) / steps)
        t = np.float32(float(exact))
        bits.append(int(t.view(np.uint32)) - (j << shift))
        corrections.append(np.float32(float(mp.log(exact / mp.mpf(float(t))))))
    print("table bits - (j << 19):", ", ".join(f"0x{b:08X}" for b in bits))
    print("corrections ln(2^(j/16) / T_j):", ", ".join(f"{float(x):.9g}f" for x in corrections))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--degree", type=int, default=6)
    parser.add_argument("--table", action="store_true", help="the AVX-512 form: 16-entry table and degree 3")
    args = parser.parse_args()
    import numpy as np

    if args.table:
        table()
        return
    coefficients, worst = minimax(args.degree)
    print(f"degree {args.degree}: max relative error {float(worst):.3g} before rounding to float")
    for j, c in enumerate(coefficients):
        print(f"c{j + 1} = {np.format_float_positional(np.float32(float(c)))}")


if __name__ == "__main__":
    main()
