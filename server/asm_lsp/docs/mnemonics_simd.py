"""A64 Advanced SIMD (NEON): the vector instructions compilers emit when auto-vectorising.

Same entry shape as ``mnemonics_base``. ``<T>`` is an arrangement (8B 16B 4H 8H 2S 4S 2D);
``<Tb>`` the wider and ``<Ta>`` the narrower arrangement of a widening or narrowing pair.
Names shared with base or FP instructions (ADD, MOV, FADD...) add their vector forms to
that entry (see ``asm_lsp.docs`` merge rule).
"""

from __future__ import annotations

GROUP = "simd"


def _v3(op: str) -> tuple[str, ...]:
    return (f"{op} Vd.<T>, Vn.<T>, Vm.<T>",)


def _v2(op: str) -> tuple[str, ...]:
    return (f"{op} Vd.<T>, Vn.<T>",)


def _pairs(stem: str, summary_low: str, form: str) -> list[tuple]:
    """An instruction and its ``2`` variant that works on the upper half of a 128-bit register."""
    name2 = stem + "2"
    return [
        (stem, f"{summary_low} (lower half).", (form.format(op=stem.upper(), a="Ta"),)),
        (name2, f"{summary_low} (upper half).", (form.format(op=name2.upper(), a="Ta2"),)),
    ]


_LANE_OPS: tuple[tuple, ...] = (
    # integer arithmetic (lane-wise)
    ("add", "Vector: add corresponding lanes.", _v3("ADD") + ("ADD Dd, Dn, Dm",)),
    ("sub", "Vector: subtract corresponding lanes.", _v3("SUB") + ("SUB Dd, Dn, Dm",)),
    ("mul", "Vector: multiply lanes, keeping the low half (also by an element).",
     _v3("MUL") + ("MUL Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("mla", "Multiply-accumulate lanes: Vd += Vn * Vm.", _v3("MLA") + ("MLA Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("mls", "Multiply-subtract lanes: Vd -= Vn * Vm.", _v3("MLS") + ("MLS Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("neg", "Vector: negate each lane.", _v2("NEG")),
    ("abs", "Vector: absolute value of each signed lane.", _v2("ABS")),
    ("smax", "Vector: signed maximum of each lane pair.", _v3("SMAX")),
    ("smin", "Vector: signed minimum of each lane pair.", _v3("SMIN")),
    ("umax", "Vector: unsigned maximum of each lane pair.", _v3("UMAX")),
    ("umin", "Vector: unsigned minimum of each lane pair.", _v3("UMIN")),
    ("sabd", "Signed absolute difference of each lane pair.", _v3("SABD")),
    ("uabd", "Unsigned absolute difference of each lane pair.", _v3("UABD")),
    ("saba", "Signed absolute difference, accumulated into Vd.", _v3("SABA")),
    ("uaba", "Unsigned absolute difference, accumulated into Vd.", _v3("UABA")),
    ("shadd", "Signed halving add: (a + b) >> 1 without overflow.", _v3("SHADD")),
    ("uhadd", "Unsigned halving add: (a + b) >> 1 without overflow.", _v3("UHADD")),
    ("srhadd", "Signed rounding halving add: (a + b + 1) >> 1.", _v3("SRHADD")),
    ("urhadd", "Unsigned rounding halving add: (a + b + 1) >> 1 (byte averaging).", _v3("URHADD")),
    ("shsub", "Signed halving subtract.", _v3("SHSUB")),
    ("uhsub", "Unsigned halving subtract.", _v3("UHSUB")),
    ("sqadd", "Signed saturating add.", _v3("SQADD")),
    ("uqadd", "Unsigned saturating add (clamps at the lane maximum).", _v3("UQADD")),
    ("sqsub", "Signed saturating subtract.", _v3("SQSUB")),
    ("uqsub", "Unsigned saturating subtract (clamps at zero).", _v3("UQSUB")),
    ("sqabs", "Signed saturating absolute value.", _v2("SQABS")),
    ("sqneg", "Signed saturating negate.", _v2("SQNEG")),
    ("suqadd", "Signed saturating accumulate of unsigned values.", _v2("SUQADD")),
    ("usqadd", "Unsigned saturating accumulate of signed values.", _v2("USQADD")),
    ("sqdmulh", "Signed saturating doubling multiply, returning the high half (Q15/Q31 multiply).",
     _v3("SQDMULH") + ("SQDMULH Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("sqrdmulh", "Signed saturating rounding doubling multiply high half.", _v3("SQRDMULH")),
    ("pmul", "Polynomial (carry-less) multiply of bytes.", ("PMUL Vd.<8B|16B>, Vn.<8B|16B>, Vm.<8B|16B>",)),
    # compares: all-ones lane where true
    ("cmeq", "Compare lanes equal (or equal to zero); true lanes become all ones.",
     _v3("CMEQ") + ("CMEQ Vd.<T>, Vn.<T>, #0",)),
    ("cmge", "Compare lanes signed greater than or equal (or >= 0).", _v3("CMGE") + ("CMGE Vd.<T>, Vn.<T>, #0",)),
    ("cmgt", "Compare lanes signed greater than (or > 0).", _v3("CMGT") + ("CMGT Vd.<T>, Vn.<T>, #0",)),
    ("cmle", "Compare lanes signed less than or equal to zero.", ("CMLE Vd.<T>, Vn.<T>, #0",)),
    ("cmlt", "Compare lanes signed less than zero.", ("CMLT Vd.<T>, Vn.<T>, #0",)),
    ("cmhi", "Compare lanes unsigned higher (>).", _v3("CMHI")),
    ("cmhs", "Compare lanes unsigned higher or same (>=).", _v3("CMHS")),
    ("cmtst", "Test lanes: all ones where (Vn AND Vm) is nonzero.", _v3("CMTST")),
    ("fcmeq", "Floating-point compare lanes equal (or equal to 0.0).", _v3("FCMEQ") + ("FCMEQ Vd.<T>, Vn.<T>, #0.0",)),
    ("fcmge", "Floating-point compare lanes >= (or >= 0.0).", _v3("FCMGE") + ("FCMGE Vd.<T>, Vn.<T>, #0.0",)),
    ("fcmgt", "Floating-point compare lanes > (or > 0.0).", _v3("FCMGT") + ("FCMGT Vd.<T>, Vn.<T>, #0.0",)),
    ("fcmle", "Floating-point compare lanes <= 0.0.", ("FCMLE Vd.<T>, Vn.<T>, #0.0",)),
    ("fcmlt", "Floating-point compare lanes < 0.0.", ("FCMLT Vd.<T>, Vn.<T>, #0.0",)),
    ("facge", "Floating-point compare absolute values >=.", _v3("FACGE")),
    ("facgt", "Floating-point compare absolute values >.", _v3("FACGT")),
    # bitwise
    ("and", "Vector: bitwise AND of 128 or 64 bits.", ("AND Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("orr", "Vector: bitwise OR, or OR with a shifted 8-bit immediate.",
     ("ORR Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>", "ORR Vd.<4S|8H>, #imm8{, LSL #s}")),
    ("eor", "Vector: bitwise exclusive OR.", ("EOR Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("bic", "Vector: AND NOT, or clear bits given by a shifted 8-bit immediate.",
     ("BIC Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>", "BIC Vd.<4S|8H>, #imm8{, LSL #s}")),
    ("orn", "Vector: OR with the complement.", ("ORN Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("not", "Vector: bitwise NOT.", ("NOT Vd.<16B|8B>, Vn.<16B|8B>",)),
    ("mvn", "Vector: bitwise NOT.", ("MVN Vd.<16B|8B>, Vn.<16B|8B>",)),
    ("bsl", "Bitwise select: take Vn bits where Vd is 1 and Vm bits where Vd is 0.",
     ("BSL Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("bit", "Bitwise insert if true: copy Vn bits into Vd where Vm is 1.", ("BIT Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("bif", "Bitwise insert if false: copy Vn bits into Vd where Vm is 0.", ("BIF Vd.<16B|8B>, Vn.<16B|8B>, Vm.<16B|8B>",)),
    ("eor3", "Three-way exclusive OR (FEAT_SHA3).", ("EOR3 Vd.16B, Vn.16B, Vm.16B, Va.16B",)),
    ("bcax", "Bit clear and exclusive OR: Vn ^ (Vm & ~Va) (FEAT_SHA3).", ("BCAX Vd.16B, Vn.16B, Vm.16B, Va.16B",)),
    ("cnt", "Vector: population count of each byte.", ("CNT Vd.<8B|16B>, Vn.<8B|16B>",)),
    ("clz", "Vector: count leading zeros in each lane.", _v2("CLZ")),
    ("cls", "Vector: count leading sign bits in each lane.", _v2("CLS")),
    ("rbit", "Vector: reverse the bits within each byte.", ("RBIT Vd.<8B|16B>, Vn.<8B|16B>",)),
    ("rev16", "Vector: reverse the bytes in each halfword.", _v2("REV16")),
    ("rev32", "Vector: reverse the elements in each word.", _v2("REV32")),
    ("rev64", "Vector: reverse the elements in each doubleword (with EXT, reverses a whole vector).", _v2("REV64")),
    # shifts by immediate / register
    ("shl", "Shift each lane left by an immediate.", ("SHL Vd.<T>, Vn.<T>, #shift", "SHL Dd, Dn, #shift")),
    ("sshr", "Signed (arithmetic) shift right of each lane by an immediate.", ("SSHR Vd.<T>, Vn.<T>, #shift",)),
    ("ushr", "Unsigned (logical) shift right of each lane by an immediate.", ("USHR Vd.<T>, Vn.<T>, #shift",)),
    ("ssra", "Signed shift right and accumulate.", ("SSRA Vd.<T>, Vn.<T>, #shift",)),
    ("usra", "Unsigned shift right and accumulate.", ("USRA Vd.<T>, Vn.<T>, #shift",)),
    ("srshr", "Signed rounding shift right.", ("SRSHR Vd.<T>, Vn.<T>, #shift",)),
    ("urshr", "Unsigned rounding shift right.", ("URSHR Vd.<T>, Vn.<T>, #shift",)),
    ("srsra", "Signed rounding shift right and accumulate.", ("SRSRA Vd.<T>, Vn.<T>, #shift",)),
    ("ursra", "Unsigned rounding shift right and accumulate.", ("URSRA Vd.<T>, Vn.<T>, #shift",)),
    ("sli", "Shift left and insert, keeping the low bits of Vd.", ("SLI Vd.<T>, Vn.<T>, #shift",)),
    ("sri", "Shift right and insert, keeping the high bits of Vd.", ("SRI Vd.<T>, Vn.<T>, #shift",)),
    ("sshl", "Signed shift by a per-lane register amount (negative shifts right).", _v3("SSHL") + ("SSHL Dd, Dn, Dm",)),
    ("ushl", "Unsigned shift by a per-lane register amount (negative shifts right).", _v3("USHL") + ("USHL Dd, Dn, Dm",)),
    ("srshl", "Signed rounding shift by register.", _v3("SRSHL")),
    ("urshl", "Unsigned rounding shift by register.", _v3("URSHL")),
    ("sqshl", "Signed saturating shift left.", _v3("SQSHL") + ("SQSHL Vd.<T>, Vn.<T>, #shift",)),
    ("uqshl", "Unsigned saturating shift left.", _v3("UQSHL") + ("UQSHL Vd.<T>, Vn.<T>, #shift",)),
    ("sqshlu", "Signed saturating shift left, unsigned result.", ("SQSHLU Vd.<T>, Vn.<T>, #shift",)),
    # reductions
    ("addv", "Add all lanes into a scalar.", ("ADDV Bd|Hd|Sd, Vn.<T>",)),
    ("addp", "Add adjacent lane pairs (pairwise); scalar form adds the two D lanes.",
     _v3("ADDP") + ("ADDP Dd, Vn.2D",)),
    ("saddlv", "Signed add of all lanes into a widened scalar.", ("SADDLV Hd|Sd|Dd, Vn.<T>",)),
    ("uaddlv", "Unsigned add of all lanes into a widened scalar.", ("UADDLV Hd|Sd|Dd, Vn.<T>",)),
    ("smaxv", "Signed maximum across all lanes.", ("SMAXV Bd|Hd|Sd, Vn.<T>",)),
    ("sminv", "Signed minimum across all lanes.", ("SMINV Bd|Hd|Sd, Vn.<T>",)),
    ("umaxv", "Unsigned maximum across all lanes.", ("UMAXV Bd|Hd|Sd, Vn.<T>",)),
    ("uminv", "Unsigned minimum across all lanes.", ("UMINV Bd|Hd|Sd, Vn.<T>",)),
    ("smaxp", "Signed maximum of adjacent lane pairs.", _v3("SMAXP")),
    ("sminp", "Signed minimum of adjacent lane pairs.", _v3("SMINP")),
    ("umaxp", "Unsigned maximum of adjacent lane pairs.", _v3("UMAXP")),
    ("uminp", "Unsigned minimum of adjacent lane pairs.", _v3("UMINP")),
    ("faddp", "Floating-point add of adjacent lane pairs; scalar form adds two lanes.",
     _v3("FADDP") + ("FADDP Sd|Dd, Vn.<2S|2D>",)),
    ("fmaxp", "Floating-point maximum of adjacent lane pairs.", _v3("FMAXP")),
    ("fminp", "Floating-point minimum of adjacent lane pairs.", _v3("FMINP")),
    ("fmaxnmp", "Floating-point maximum number of adjacent lane pairs.", _v3("FMAXNMP") + ("FMAXNMP Sd|Dd, Vn.<2S|2D>",)),
    ("fminnmp", "Floating-point minimum number of adjacent lane pairs.", _v3("FMINNMP") + ("FMINNMP Sd|Dd, Vn.<2S|2D>",)),
    ("fmaxv", "Floating-point maximum across all lanes.", ("FMAXV Sd|Hd, Vn.<T>",)),
    ("fminv", "Floating-point minimum across all lanes.", ("FMINV Sd|Hd, Vn.<T>",)),
    ("fmaxnmv", "Floating-point maximum number across all lanes.", ("FMAXNMV Sd|Hd, Vn.<T>",)),
    ("fminnmv", "Floating-point minimum number across all lanes.", ("FMINNMV Sd|Hd, Vn.<T>",)),
    ("saddlp", "Signed add adjacent pairs into wider lanes.", ("SADDLP Vd.<Tb>, Vn.<Ta>",)),
    ("uaddlp", "Unsigned add adjacent pairs into wider lanes.", ("UADDLP Vd.<Tb>, Vn.<Ta>",)),
    ("sadalp", "Signed add adjacent pairs and accumulate into wider lanes.", ("SADALP Vd.<Tb>, Vn.<Ta>",)),
    ("uadalp", "Unsigned add adjacent pairs and accumulate into wider lanes.", ("UADALP Vd.<Tb>, Vn.<Ta>",)),
    # floating-point lane ops that have no scalar twin
    ("fmla", "Floating-point fused multiply-accumulate lanes: Vd += Vn * Vm (or by element).",
     _v3("FMLA") + ("FMLA Vd.<T>, Vn.<T>, Vm.<Ts>[i]", "FMLA Sd|Dd, Sn|Dn, Vm.<Ts>[i]")),
    ("fmls", "Floating-point fused multiply-subtract lanes: Vd -= Vn * Vm (or by element).",
     _v3("FMLS") + ("FMLS Vd.<T>, Vn.<T>, Vm.<Ts>[i]",)),
    ("fmulx", "Floating-point multiply extended (0 * inf = 2).", _v3("FMULX")),
    ("urecpe", "Unsigned reciprocal estimate.", _v2("URECPE")),
    ("ursqrte", "Unsigned reciprocal square-root estimate.", _v2("URSQRTE")),
    # dot product (FEAT_DotProd)
    ("sdot", "Signed dot product: each 32-bit lane += sum of four int8 products (FEAT_DotProd).",
     ("SDOT Vd.<2S|4S>, Vn.<8B|16B>, Vm.<8B|16B>", "SDOT Vd.<2S|4S>, Vn.<8B|16B>, Vm.4B[i]")),
    ("udot", "Unsigned dot product: each 32-bit lane += sum of four uint8 products (FEAT_DotProd).",
     ("UDOT Vd.<2S|4S>, Vn.<8B|16B>, Vm.<8B|16B>", "UDOT Vd.<2S|4S>, Vn.<8B|16B>, Vm.4B[i]")),
    ("usdot", "Mixed-sign dot product: unsigned by signed bytes (FEAT_I8MM).", ("USDOT Vd.<2S|4S>, Vn.<8B|16B>, Vm.<8B|16B>",)),
)

_MOVES: tuple[tuple, ...] = (
    ("dup", "Duplicate a general register or a vector element into every lane (splat).",
     ("DUP Vd.<T>, Wn|Xn", "DUP Vd.<T>, Vn.<Ts>[i]", "DUP Bd|Hd|Sd|Dd, Vn.<Ts>[i]")),
    ("ins", "Insert a general register or another vector's element into one lane.",
     ("INS Vd.<Ts>[i], Wn|Xn", "INS Vd.<Ts>[i], Vn.<Ts>[j]")),
    ("mov", "Vector forms: copy a vector, an element, or a general register into a lane.",
     ("MOV Vd.16B, Vn.16B", "MOV Vd.<Ts>[i], Wn|Xn", "MOV Vd.<Ts>[i], Vn.<Ts>[j]", "MOV Wd|Xd, Vn.<S|D>[i]",
      "MOV Bd|Hd|Sd|Dd, Vn.<Ts>[i]"),
     "Vector copy is ORR Vd, Vn, Vn; lane forms are INS, UMOV or DUP."),
    ("umov", "Move a vector element to a general register, zero-extended.", ("UMOV Wd, Vn.<B|H|S>[i]", "UMOV Xd, Vn.D[i]")),
    ("smov", "Move a vector element to a general register, sign-extended.", ("SMOV Wd|Xd, Vn.<B|H>[i]", "SMOV Xd, Vn.S[i]")),
    ("movi", "Move an immediate into every lane (8-bit value, optionally shifted, or a byte mask for 64-bit lanes).",
     ("MOVI Vd.<T>, #imm8{, LSL|MSL #s}", "MOVI Dd, #bytemask", "MOVI Vd.2D, #bytemask")),
    ("mvni", "Move the inverse of a shifted 8-bit immediate into every lane.", ("MVNI Vd.<T>, #imm8{, LSL|MSL #s}",)),
    ("ext", "Extract a vector from a pair: bytes #index.. of the concatenation Vm:Vn.",
     ("EXT Vd.<8B|16B>, Vn.<8B|16B>, Vm.<8B|16B>, #index",)),
    ("zip1", "Interleave the lower halves of two vectors lane by lane.", _v3("ZIP1")),
    ("zip2", "Interleave the upper halves of two vectors lane by lane.", _v3("ZIP2")),
    ("uzp1", "Concatenate the even-numbered lanes of two vectors (de-interleave).", _v3("UZP1")),
    ("uzp2", "Concatenate the odd-numbered lanes of two vectors (de-interleave).", _v3("UZP2")),
    ("trn1", "Transpose: even lanes of Vn and Vm, interleaved.", _v3("TRN1")),
    ("trn2", "Transpose: odd lanes of Vn and Vm, interleaved.", _v3("TRN2")),
    ("tbl", "Table lookup: pick bytes from 1-4 table registers by index; out-of-range indices give 0.",
     ("TBL Vd.<8B|16B>, {Vn.16B}, Vm.<8B|16B>", "TBL Vd.16B, {Vn.16B-Vn+3.16B}, Vm.16B")),
    ("tbx", "Table lookup extension: like TBL but out-of-range indices leave Vd unchanged.",
     ("TBX Vd.<8B|16B>, {Vn.16B}, Vm.<8B|16B>",)),
)

_STRUCTS = (("1", "one to four registers, no interleaving"), ("2", "2-element structures, de-interleaving pairs"),
            ("3", "3-element structures (e.g. RGB)"), ("4", "4-element structures (e.g. RGBA)"))


def _structure_loads() -> list[tuple]:
    out: list[tuple] = []
    for n, words in _STRUCTS:
        regs = "{Vt.<T>}" if n == "1" else "{Vt.<T>-Vt" + f"+{int(n) - 1}.<T>}}"
        lane = regs.replace("<T>", "<Ts>")
        mem = ("[Xn|SP]", "[Xn|SP], #imm", "[Xn|SP], Xm")
        out.append((f"ld{n}", f"Load multiple {words}; also a single lane.",
                    tuple(f"LD{n} {regs}, {m}" for m in mem) + (f"LD{n} {lane}[i], [Xn|SP]",)))
        out.append((f"st{n}", f"Store multiple {words}; also a single lane.",
                    tuple(f"ST{n} {regs}, {m}" for m in mem) + (f"ST{n} {lane}[i], [Xn|SP]",)))
        out.append((f"ld{n}r", f"Load one {n}-element structure and replicate it to all lanes of {n} register(s).",
                    (f"LD{n}R {regs}, [Xn|SP]", f"LD{n}R {regs}, [Xn|SP], #imm|Xm")))
    return out


def _widening() -> list[tuple]:
    """Long (L), wide (W) and narrowing (N) families, each with its upper-half ``2`` variant."""
    out: list[tuple] = []
    long3 = "{op} Vd.<Tb>, Vn.<{a}>, Vm.<{a}>"
    wide3 = "{op} Vd.<Tb>, Vn.<Tb>, Vm.<{a}>"
    narrow3 = "{op} Vd.<{a}>, Vn.<Tb>, Vm.<Tb>"
    long2 = "{op} Vd.<Tb>, Vn.<{a}>"
    longsh = "{op} Vd.<Tb>, Vn.<{a}>, #shift"
    narrow2 = "{op} Vd.<{a}>, Vn.<Tb>"
    narrowsh = "{op} Vd.<{a}>, Vn.<Tb>, #shift"
    table = (
        ("saddl", "Signed add, widening each lane", long3), ("uaddl", "Unsigned add, widening each lane", long3),
        ("ssubl", "Signed subtract, widening", long3), ("usubl", "Unsigned subtract, widening", long3),
        ("saddw", "Signed add of a widened narrow vector to a wide one", wide3),
        ("uaddw", "Unsigned add of a widened narrow vector to a wide one", wide3),
        ("ssubw", "Signed subtract of a widened narrow vector", wide3),
        ("usubw", "Unsigned subtract of a widened narrow vector", wide3),
        ("smull", "Signed multiply, widening each product", long3 + "|Vm.<Ts>[i]"),
        ("umull", "Unsigned multiply, widening each product", long3 + "|Vm.<Ts>[i]"),
        ("smlal", "Signed widening multiply-accumulate", long3), ("umlal", "Unsigned widening multiply-accumulate", long3),
        ("smlsl", "Signed widening multiply-subtract", long3), ("umlsl", "Unsigned widening multiply-subtract", long3),
        ("sqdmull", "Signed saturating doubling widening multiply", long3),
        ("pmull", "Polynomial (carry-less) widening multiply, 8->16 or 64->128 bits (CRC, GCM)", long3),
        ("sabdl", "Signed absolute difference, widening", long3), ("uabdl", "Unsigned absolute difference, widening", long3),
        ("sabal", "Signed absolute difference, widened and accumulated", long3),
        ("uabal", "Unsigned absolute difference, widened and accumulated (sum of absolute differences)", long3),
        ("sshll", "Signed shift left long: sign-extend lanes to double width, then shift", longsh),
        ("ushll", "Unsigned shift left long: zero-extend lanes to double width, then shift", longsh),
        ("shll", "Shift left long by the element size", longsh),
        ("sxtl", "Sign-extend each lane to double width (SSHLL #0)", long2),
        ("uxtl", "Zero-extend each lane to double width (USHLL #0)", long2),
        ("xtn", "Narrow each lane to half width, keeping the low bits", narrow2),
        ("sqxtn", "Signed saturating narrow to half width", narrow2),
        ("uqxtn", "Unsigned saturating narrow to half width", narrow2),
        ("sqxtun", "Signed to unsigned saturating narrow", narrow2),
        ("shrn", "Shift right and narrow, keeping the low half of each shifted lane", narrowsh),
        ("rshrn", "Rounding shift right and narrow", narrowsh),
        ("sqshrn", "Signed saturating shift right and narrow", narrowsh),
        ("uqshrn", "Unsigned saturating shift right and narrow", narrowsh),
        ("sqrshrn", "Signed saturating rounding shift right and narrow", narrowsh),
        ("uqrshrn", "Unsigned saturating rounding shift right and narrow", narrowsh),
        ("sqshrun", "Signed saturating shift right, unsigned narrow", narrowsh),
        ("sqrshrun", "Signed saturating rounding shift right, unsigned narrow", narrowsh),
        ("addhn", "Add and narrow, keeping the high half of each sum", narrow3),
        ("subhn", "Subtract and narrow, keeping the high half of each difference", narrow3),
        ("raddhn", "Rounding add and narrow, high half", narrow3),
        ("rsubhn", "Rounding subtract and narrow, high half", narrow3),
    )
    for stem, summary, form in table:
        out.extend(_pairs(stem, summary, form))
    return out


_CRYPTO: tuple[tuple, ...] = (
    ("aese", "AES single-round encryption (AddRoundKey, SubBytes, ShiftRows).", ("AESE Vd.16B, Vn.16B",)),
    ("aesd", "AES single-round decryption.", ("AESD Vd.16B, Vn.16B",)),
    ("aesmc", "AES MixColumns.", ("AESMC Vd.16B, Vn.16B",)),
    ("aesimc", "AES inverse MixColumns.", ("AESIMC Vd.16B, Vn.16B",)),
    ("sha256h", "SHA-256 hash update, part 1.", ("SHA256H Qd, Qn, Vm.4S",)),
    ("sha256h2", "SHA-256 hash update, part 2.", ("SHA256H2 Qd, Qn, Vm.4S",)),
    ("sha256su0", "SHA-256 message schedule update 0.", ("SHA256SU0 Vd.4S, Vn.4S",)),
    ("sha256su1", "SHA-256 message schedule update 1.", ("SHA256SU1 Vd.4S, Vn.4S, Vm.4S",)),
)

MNEMONICS: tuple[tuple, ...] = _LANE_OPS + _MOVES + tuple(_structure_loads()) + tuple(_widening()) + _CRYPTO
