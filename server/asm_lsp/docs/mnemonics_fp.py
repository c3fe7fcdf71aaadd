"""A64 scalar floating point (and the vector forms of the same FP mnemonics).

Same entry shape as ``mnemonics_base``. ``Fd`` stands for Hd, Sd or Dd of one size;
vector forms use ``Vd.<T>`` with T one of 4H, 8H, 2S, 4S, 2D.
"""

from __future__ import annotations

GROUP = "fp"

def _bin(op: str) -> tuple[str, ...]:
    return (f"{op} Fd, Fn, Fm", f"{op} Vd.<T>, Vn.<T>, Vm.<T>")


def _un(op: str) -> tuple[str, ...]:
    return (f"{op} Fd, Fn", f"{op} Vd.<T>, Vn.<T>")


def _cvt_to_int(op: str) -> tuple[str, ...]:
    return (f"{op} Wd|Xd, Fn", f"{op} Vd.<T>, Vn.<T>", f"{op} Sd|Dd, Fn")


_ROUNDING = (
    ("n", "to nearest, ties to even"), ("a", "to nearest, ties away from zero"), ("m", "toward minus infinity (floor)"),
    ("p", "toward plus infinity (ceil)"), ("z", "toward zero (truncate)"),
)

_PLAIN: tuple[tuple, ...] = (
    ("fmov", "Move an FP value between FP registers, between FP and general registers, or load an 8-bit FP immediate.",
     ("FMOV Dd, Dn", "FMOV Dd, Xn", "FMOV Xd, Dn", "FMOV Sd, Wn", "FMOV Dd, #fpimm", "FMOV Vd.D[1], Xn",
      "FMOV Vd.<T>, #fpimm")),
    ("fadd", "Floating-point add.", _bin("FADD")),
    ("fsub", "Floating-point subtract.", _bin("FSUB")),
    ("fmul", "Floating-point multiply (also by a vector element).", _bin("FMUL") + ("FMUL Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("fdiv", "Floating-point divide.", _bin("FDIV")),
    ("fnmul", "Floating-point multiply, then negate.", ("FNMUL Fd, Fn, Fm",)),
    ("fsqrt", "Floating-point square root.", _un("FSQRT")),
    ("fabs", "Floating-point absolute value (clears the sign bit).", _un("FABS")),
    ("fneg", "Floating-point negate (flips the sign bit).", _un("FNEG")),
    ("fmadd", "Fused multiply-add: Fd = Fa + Fn * Fm with a single rounding.", ("FMADD Fd, Fn, Fm, Fa",)),
    ("fmsub", "Fused multiply-subtract: Fd = Fa - Fn * Fm.", ("FMSUB Fd, Fn, Fm, Fa",)),
    ("fnmadd", "Negated fused multiply-add: Fd = -Fa - Fn * Fm.", ("FNMADD Fd, Fn, Fm, Fa",)),
    ("fnmsub", "Negated fused multiply-subtract: Fd = -Fa + Fn * Fm.", ("FNMSUB Fd, Fn, Fm, Fa",)),
    ("fmax", "Floating-point maximum; a NaN operand gives NaN.", _bin("FMAX")),
    ("fmin", "Floating-point minimum; a NaN operand gives NaN.", _bin("FMIN")),
    ("fmaxnm", "Floating-point maximum number: a quiet NaN loses to a number (C fmax).", _bin("FMAXNM")),
    ("fminnm", "Floating-point minimum number: a quiet NaN loses to a number (C fmin).", _bin("FMINNM")),
    ("fabd", "Floating-point absolute difference |Fn - Fm|.", _bin("FABD")),
    ("fcmp", "Floating-point compare, setting NZCV; quiet NaNs do not raise Invalid (unordered sets C and V).",
     ("FCMP Fn, Fm", "FCMP Fn, #0.0")),
    ("fcmpe", "Floating-point signaling compare: like FCMP but any NaN raises Invalid (C <, >, <=, >=).",
     ("FCMPE Fn, Fm", "FCMPE Fn, #0.0")),
    ("fccmp", "Floating-point conditional compare: compare if cond holds, else set NZCV to #nzcv.",
     ("FCCMP Fn, Fm, #nzcv, <cond>",)),
    ("fccmpe", "Floating-point conditional signaling compare.", ("FCCMPE Fn, Fm, #nzcv, <cond>",)),
    ("fcsel", "Floating-point conditional select: Fd = cond ? Fn : Fm.", ("FCSEL Fd, Fn, Fm, <cond>",)),
    ("fcvt", "Convert between floating-point precisions (half, single, double).",
     ("FCVT Dd, Sn", "FCVT Sd, Dn", "FCVT Hd, Sn", "FCVT Sd, Hn", "FCVT Hd, Dn")),
    ("fcvtl", "Widen the lower half of a vector to the next FP precision (e.g. 2S -> 2D).", ("FCVTL Vd.<Tb>, Vn.<Ta>",)),
    ("fcvtl2", "Widen the upper half of a vector to the next FP precision.", ("FCVTL2 Vd.<Tb>, Vn.<Ta>",)),
    ("fcvtn", "Narrow each element to the next smaller FP precision into the lower half.", ("FCVTN Vd.<Tb>, Vn.<Ta>",)),
    ("fcvtn2", "Narrow each element to the next smaller FP precision into the upper half.", ("FCVTN2 Vd.<Tb>, Vn.<Ta>",)),
    ("fcvtxn", "Narrow double to single with round-to-odd (for exact double rounding).", ("FCVTXN Sd, Dn", "FCVTXN Vd.2S, Vn.2D")),
    ("fcvtxn2", "Narrow double to single with round-to-odd into the upper half.", ("FCVTXN2 Vd.4S, Vn.2D",)),
    ("fjcvtzs", "JavaScript convert: double to int32 rounding toward zero, modulo 2^32 (FEAT_JSCVT).", ("FJCVTZS Wd, Dn",)),
    ("scvtf", "Convert a signed integer (or fixed-point with #fbits) to floating point.",
     ("SCVTF Fd, Wn|Xn{, #fbits}", "SCVTF Fd, Fn", "SCVTF Vd.<T>, Vn.<T>{, #fbits}")),
    ("ucvtf", "Convert an unsigned integer (or fixed-point with #fbits) to floating point.",
     ("UCVTF Fd, Wn|Xn{, #fbits}", "UCVTF Fd, Fn", "UCVTF Vd.<T>, Vn.<T>{, #fbits}")),
    ("frinti", "Round to an integral FP value using the current FPCR rounding mode (nearbyint).", _un("FRINTI")),
    ("frintx", "Round to an integral FP value using the FPCR mode, raising Inexact if changed (rint).", _un("FRINTX")),
    ("frint32x", "Round to an integral value that fits int32, current mode (FEAT_FRINTTS).", _un("FRINT32X")),
    ("frint32z", "Round toward zero to an integral value that fits int32 (FEAT_FRINTTS).", _un("FRINT32Z")),
    ("frint64x", "Round to an integral value that fits int64, current mode (FEAT_FRINTTS).", _un("FRINT64X")),
    ("frint64z", "Round toward zero to an integral value that fits int64 (FEAT_FRINTTS).", _un("FRINT64Z")),
    ("frecpe", "Reciprocal estimate (about 8 bits).", _un("FRECPE")),
    ("frecps", "Newton-Raphson reciprocal step: 2 - Fn * Fm.", _bin("FRECPS")),
    ("frsqrte", "Reciprocal square-root estimate.", _un("FRSQRTE")),
    ("frsqrts", "Newton-Raphson reciprocal square-root step: (3 - Fn * Fm) / 2.", _bin("FRSQRTS")),
    ("frecpx", "Reciprocal exponent (for scaling).", ("FRECPX Fd, Fn",)),
)


def _rounding_family() -> list[tuple]:
    out: list[tuple] = []
    for letter, words in _ROUNDING:
        out.append((f"frint{letter}", f"Round to an integral FP value, {words}.", _un(f"FRINT{letter.upper()}")))
        for sign, kind in (("s", "a signed"), ("u", "an unsigned")):
            name = f"fcvt{letter}{sign}"
            out.append((name, f"Convert floating point to {kind} integer, rounding {words}; saturates on overflow.",
                        _cvt_to_int(name.upper()) + ((f"{name.upper()} Wd|Xd, Fn, #fbits",) if letter == "z" else ())))
    return out


MNEMONICS: tuple[tuple, ...] = _PLAIN + tuple(_rounding_family())
