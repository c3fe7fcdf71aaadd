"""A64 loads, stores, exclusives, acquire/release and LSE atomics.

Same entry shape as ``mnemonics_base``. The LSE families (CAS, SWP, LD<op>, ST<op>) are
generated from their ordering and size suffixes, because each suffix is its own mnemonic.
"""

from __future__ import annotations

GROUP = "base"

_ADDR = ("[Xn|SP{, #imm}]", "[Xn|SP, #imm]!", "[Xn|SP], #imm", "[Xn|SP, Xm{, LSL #s}]", "[Xn|SP, Wm, UXTW|SXTW {#s}]")


def _ls(op: str, reg: str) -> tuple[str, ...]:
    """Forms for a single-register load/store with every addressing mode."""
    return tuple(f"{op} {reg}, {a}" for a in _ADDR)


_PLAIN: tuple[tuple, ...] = (
    ("ldr", "Load a register (X, W, or SIMD&FP B/H/S/D/Q) from memory; also a PC-relative literal load.",
     _ls("LDR", "Xt|Wt|Qt|Dt|St") + ("LDR Xt, label", "LDR Xt, [Xn, #:lo12:symbol]", "LDR Xt, =value")),
    ("ldrb", "Load a byte and zero-extend it.", _ls("LDRB", "Wt")),
    ("ldrh", "Load a halfword and zero-extend it.", _ls("LDRH", "Wt")),
    ("ldrsb", "Load a byte and sign-extend it to 32 or 64 bits.", _ls("LDRSB", "Wt|Xt")),
    ("ldrsh", "Load a halfword and sign-extend it to 32 or 64 bits.", _ls("LDRSH", "Wt|Xt")),
    ("ldrsw", "Load a word and sign-extend it to 64 bits.", _ls("LDRSW", "Xt") + ("LDRSW Xt, label",)),
    ("str", "Store a register (X, W, or SIMD&FP B/H/S/D/Q) to memory.", _ls("STR", "Xt|Wt|Qt|Dt|St")),
    ("strb", "Store the low byte of a register.", _ls("STRB", "Wt")),
    ("strh", "Store the low halfword of a register.", _ls("STRH", "Wt")),
    ("ldur", "Load a register with an unscaled signed 9-bit offset (-256..255).", ("LDUR Xt|Wt|Qt|Dt|St, [Xn|SP{, #simm9}]",)),
    ("ldurb", "Load a byte, unscaled offset, zero-extended.", ("LDURB Wt, [Xn|SP{, #simm9}]",)),
    ("ldurh", "Load a halfword, unscaled offset, zero-extended.", ("LDURH Wt, [Xn|SP{, #simm9}]",)),
    ("ldursb", "Load a byte, unscaled offset, sign-extended.", ("LDURSB Wt|Xt, [Xn|SP{, #simm9}]",)),
    ("ldursh", "Load a halfword, unscaled offset, sign-extended.", ("LDURSH Wt|Xt, [Xn|SP{, #simm9}]",)),
    ("ldursw", "Load a word, unscaled offset, sign-extended to 64 bits.", ("LDURSW Xt, [Xn|SP{, #simm9}]",)),
    ("stur", "Store a register with an unscaled signed 9-bit offset.", ("STUR Xt|Wt|Qt|Dt|St, [Xn|SP{, #simm9}]",)),
    ("sturb", "Store a byte with an unscaled offset.", ("STURB Wt, [Xn|SP{, #simm9}]",)),
    ("sturh", "Store a halfword with an unscaled offset.", ("STURH Wt, [Xn|SP{, #simm9}]",)),
    ("ldp", "Load a pair of registers from consecutive memory (frame restore, 16-byte copies).",
     ("LDP Xt1, Xt2, [Xn|SP{, #imm}]", "LDP Xt1, Xt2, [Xn|SP, #imm]!", "LDP Xt1, Xt2, [Xn|SP], #imm",
      "LDP Qt1, Qt2, [Xn|SP{, #imm}]")),
    ("stp", "Store a pair of registers to consecutive memory (frame save, 16-byte copies).",
     ("STP Xt1, Xt2, [Xn|SP{, #imm}]", "STP X29, X30, [SP, #-imm]!", "STP Xt1, Xt2, [Xn|SP], #imm",
      "STP Qt1, Qt2, [Xn|SP{, #imm}]")),
    ("ldpsw", "Load a pair of words, sign-extending each to 64 bits.", ("LDPSW Xt1, Xt2, [Xn|SP{, #imm}]",)),
    ("ldnp", "Load a pair with a non-temporal (streaming) hint.", ("LDNP Xt1, Xt2, [Xn|SP{, #imm}]",)),
    ("stnp", "Store a pair with a non-temporal (streaming) hint.", ("STNP Xt1, Xt2, [Xn|SP{, #imm}]",)),
    ("prfm", "Prefetch memory into the cache (hint only).",
     ("PRFM PLDL1KEEP|PLDL1STRM|PSTL1KEEP|..., [Xn|SP{, #imm}]", "PRFM <prfop>, label")),
    ("prfum", "Prefetch memory with an unscaled offset.", ("PRFUM <prfop>, [Xn|SP{, #simm9}]",)),
    ("ldtr", "Load with unprivileged access checks (kernel copy_from_user).", ("LDTR Xt, [Xn|SP{, #simm9}]",)),
    ("sttr", "Store with unprivileged access checks.", ("STTR Xt, [Xn|SP{, #simm9}]",)),
    # acquire / release (no exclusivity)
    ("ldar", "Load-acquire: later accesses cannot be observed before this load (seq_cst/acquire atomic load).",
     ("LDAR Xt|Wt, [Xn|SP{, #0}]",)),
    ("ldarb", "Load-acquire a byte.", ("LDARB Wt, [Xn|SP{, #0}]",)),
    ("ldarh", "Load-acquire a halfword.", ("LDARH Wt, [Xn|SP{, #0}]",)),
    ("ldapr", "Load-acquire RCpc: weaker acquire used for memory_order_acquire (FEAT_LRCPC).", ("LDAPR Xt|Wt, [Xn|SP{, #0}]",)),
    ("ldaprb", "Load-acquire RCpc a byte (FEAT_LRCPC).", ("LDAPRB Wt, [Xn|SP{, #0}]",)),
    ("ldaprh", "Load-acquire RCpc a halfword (FEAT_LRCPC).", ("LDAPRH Wt, [Xn|SP{, #0}]",)),
    ("ldapur", "Load-acquire RCpc with an unscaled offset (FEAT_LRCPC2).", ("LDAPUR Xt|Wt, [Xn|SP{, #simm9}]",)),
    ("stlr", "Store-release: earlier accesses are observed before this store (release/seq_cst atomic store).",
     ("STLR Xt|Wt, [Xn|SP{, #0}]",)),
    ("stlrb", "Store-release a byte.", ("STLRB Wt, [Xn|SP{, #0}]",)),
    ("stlrh", "Store-release a halfword.", ("STLRH Wt, [Xn|SP{, #0}]",)),
    ("stlur", "Store-release with an unscaled offset (FEAT_LRCPC2).", ("STLUR Xt|Wt, [Xn|SP{, #simm9}]",)),
)

# Exclusive load/store (LL/SC loops used without LSE): (stem, ordering words).
_EXCLUSIVE: tuple[tuple[str, str, str], ...] = (
    ("ldxr", "Load exclusive: load and mark the address for a following store-exclusive", ""),
    ("ldaxr", "Load-acquire exclusive: acquire load that marks the address for a store-exclusive", ""),
    ("stxr", "Store exclusive: store only if the exclusive monitor still holds; Ws = 0 on success, 1 on failure", "Ws, "),
    ("stlxr", "Store-release exclusive: release store if the monitor still holds; Ws = 0 on success", "Ws, "),
)
_SIZES = (("", "Xt|Wt", ""), ("b", "Wt", " (byte)"), ("h", "Wt", " (halfword)"))


def _exclusives() -> list[tuple]:
    out: list[tuple] = []
    for stem, summary, status in _EXCLUSIVE:
        for suffix, reg, size in _SIZES:
            name = stem + suffix
            out.append((name, f"{summary}{size}.", (f"{name.upper()} {status}{reg}, [Xn|SP{{, #0}}]",)))
        pair = stem[:-1] + "p"  # ldxr -> ldxp
        out.append((pair, f"{summary} (register pair, 128-bit).",
                    (f"{pair.upper()} {status}Xt1, Xt2, [Xn|SP{{, #0}}]",)))
    return out


_ORDER = (("", ""), ("a", "acquire"), ("l", "release"), ("al", "acquire and release"))
_LD_OPS = (
    ("add", "add"), ("clr", "bit clear (AND NOT)"), ("eor", "exclusive OR"), ("set", "OR (bit set)"),
    ("smax", "signed maximum"), ("smin", "signed minimum"), ("umax", "unsigned maximum"), ("umin", "unsigned minimum"),
)


def _lse() -> list[tuple]:
    """CAS/SWP/LD<op>/ST<op> with every ordering and size suffix (FEAT_LSE, -march=armv8.1-a+)."""
    out: list[tuple] = []
    for order, order_words in _ORDER:
        how = f", {order_words} ordering" if order_words else ", no ordering"
        for size, reg, size_words in _SIZES:
            rs = reg.replace("t", "s")
            name = f"cas{order}{size}"
            out.append((name, f"Atomic compare and swap{size_words}: if [Xn] == Ws store Wt; Ws gets the old value{how}.",
                        (f"{name.upper()} {rs}, {reg}, [Xn|SP]",), "LSE atomic (FEAT_LSE)."))
            name = f"swp{order}{size}"
            out.append((name, f"Atomic swap{size_words}: store Rs to [Xn], old value to Rt{how}.",
                        (f"{name.upper()} {rs}, {reg}, [Xn|SP]",), "LSE atomic (FEAT_LSE)."))
            for op, op_words in _LD_OPS:
                name = f"ld{op}{order}{size}"
                out.append((name, f"Atomic {op_words}{size_words} on [Xn] with Rs, returning the old value in Rt{how}.",
                            (f"{name.upper()} {rs}, {reg}, [Xn|SP]",), "LSE atomic (FEAT_LSE)."))
                if order in ("", "l"):  # ST<op> has no acquire forms: nothing is loaded
                    name = f"st{op}{order}{size}"
                    out.append((name, f"Atomic {op_words}{size_words} on [Xn] with Rs, result discarded{how}.",
                                (f"{name.upper()} {rs}, [Xn|SP]",), f"Alias of LD{op.upper()}{order.upper()}"
                                f"{size.upper()} with XZR/WZR as Rt."))
        name = f"casp{order}"
        out.append((name, f"Atomic compare and swap of a register pair (128-bit){how}.",
                    (f"{name.upper()} Xs, Xs+1, Xt, Xt+1, [Xn|SP]",), "LSE atomic (FEAT_LSE)."))
    return out


MNEMONICS: tuple[tuple, ...] = _PLAIN + tuple(_exclusives()) + tuple(_lse())
