"""Relative-error minimax polynomial for exp(r) on [-ln2/2, ln2/2] with the constant term fixed at 1.

The C kernels' exp (v_exp_of_negative in Sources/CEffNetSIMD/KernelTemplate.h) reduces its argument to
that interval (Cody-Waite) and evaluates this polynomial in Horner form, one FMA per degree. This script
is where its coefficients come from:

    /work/venv/bin/python Tools/exp_minimax.py --degree 6

prints the maximum relative error before rounding (degree 6: 2.6e-9, far below a float ulp; degree 5:
4.3e-7, several ulps, too coarse) and the coefficients c1..cN rounded to float. Needs mpmath (installed
with torch; `pip install mpmath` otherwise). The rounded coefficients' error is what counts: it is
measured over every float in the C harness described at v_exp_of_negative.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--degree", type=int, default=6)
    args = parser.parse_args()
    import numpy as np

    coefficients, worst = minimax(args.degree)
    print(f"degree {args.degree}: max relative error {float(worst):.3g} before rounding to float")
    for j, c in enumerate(coefficients):
        print(f"c{j + 1} = {np.format_float_positional(np.float32(float(c)))}")


if __name__ == "__main__":
    main()
