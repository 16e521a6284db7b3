#!/usr/bin/python3
"""Derives the float polynomial of kernels/elementwise_math.h's normal_cdf_pdf.

erfc(u) = exp(-u^2) R(u) for u >= 0, where R(u) = erfc(u) exp(u^2) falls smoothly from 1 to
about 1 / (u sqrt(pi)). With t = 2 / (2 + u), R is a polynomial of degree 9 in t to a
relative error of 3e-8 over u in [0, 9.3] (beyond, exp(-u^2) underflows float); 2e-7 once
the coefficients are floats and the evaluation is done in float. The
fit is least squares in relative error on Chebyshev nodes; the printed maximum is checked on
a dense grid, also with the coefficients rounded to float and Horner's rule done in float.
Needs numpy (the system python3 with PyTorch has it).

    scripts/dev/fit_erfc.py
"""
import argparse
import math

import numpy as np

DEGREE, U_MAX, NODES = 9, 9.3, 4000


def ratio(u):
    return math.erfc(u) * math.exp(u * u)


def main():
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    t_lo = 2 / (2 + U_MAX)
    k = np.arange(NODES)
    t = (t_lo + 1) / 2 + (1 - t_lo) / 2 * np.cos(np.pi * (k + 0.5) / NODES)
    r = np.array([ratio(2 / ti - 2) for ti in t])
    coef, *_ = np.linalg.lstsq(np.vander(t, DEGREE + 1) / r[:, None], np.ones_like(r), rcond=None)
    grid = np.linspace(t_lo, 1, 20001)
    err = np.max(np.abs(np.polyval(coef, grid) / np.array([ratio(2 / g - 2) for g in grid]) - 1))
    # The same polynomial with float coefficients, evaluated by Horner's rule in float.
    c32, g32 = coef.astype(np.float32), grid.astype(np.float32)
    acc = np.zeros_like(g32)
    for c in c32:
        acc = (acc * g32 + c).astype(np.float32)
    err32 = np.max(np.abs(acc / np.array([ratio(2 / float(g) - 2) for g in g32]) - 1))
    print(f"max relative error of R over u in [0, {U_MAX}]: {err:.2e} (float coefficients, float Horner: {err32:.2e})")
    print("coefficients, highest power of t first:")
    for c in coef:
        print(f"  {float(np.float32(c))!r}f,")


if __name__ == "__main__":
    main()
