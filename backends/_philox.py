"""Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, SC11), written once over an array namespace's integer ops.

One round maps the counter (c0, c1, c2, c3) under round key (k0, k1) to
``(hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0))``, hi/lo the upper and lower
32 bits of the 64-bit product; the key advances by the Weyl constants (W0, W1) between rounds.
The only operation that is not an array-API one-liner is that 32×32→64-bit product, and no single
integer type does it on every framework (NumPy and TensorFlow: uint64; torch has no uint64 shifts,
so int64, whose products wrap; JAX without x64 has no 64-bit integers, so uint32 and 16-bit limbs).
A :class:`WordArithmetic` says how a framework holds a 32-bit word and forms the product; the
rounds themselves are written once, in :func:`philox4x32`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

#: Random123's Philox-4x32 multipliers and Weyl key increments.
PHILOX_M: Final = (0xD2511F53, 0xCD9E8D57)
PHILOX_W: Final = (0x9E3779B9, 0xBB67AE85)
ROUNDS: Final = 10
MASK32: Final = 0xFFFFFFFF

Word = Any  # an integer array of the kit's word dtype, or a Python int in [0, 2³²)


class WordArithmetic:
    """32-bit words held in a 64-bit integer dtype whose product of two words keeps all 64 bits.

    ``signed``: the dtype is int64, where a product at or above 2⁶³ wraps to a negative value (as it
    does in torch on CPU and CUDA); its 64 bits are still the unsigned product's, and :meth:`clean`
    drops the sign extension the arithmetic shift drags in. The Random123 known-answer test (all
    words 0xFFFFFFFF) exercises exactly those wrapping products.
    """

    wide: bool = True  # words are 64-bit, so a flat index up to 2⁶³ fits one array

    def __init__(self, xp: Any, dtype: Any, *, signed: bool = False, device: Any = None) -> None:
        self.xp = xp
        self.dtype = dtype
        self.signed = signed
        self.device = device
        self._constants: dict[int, Any] = {}

    def const(self, value: int) -> Any:
        """``value`` as a 0-d array of the word dtype (JAX rejects a bare Python int ≥ 2³¹)."""
        if value not in self._constants:
            self._constants[value] = self.xp.asarray(value, dtype=self.dtype, device=self.device)
        return self._constants[value]

    def arange(self, start: int, stop: int, step: int = 1) -> Any:
        """start, start + step, ... (below stop) as words."""
        return self.xp.arange(start, stop, step, dtype=self.dtype, device=self.device)

    def xor(self, a: Word, b: Word) -> Word:
        """a ⊕ b; Python ints stay Python ints."""
        if isinstance(a, int) and isinstance(b, int):
            return a ^ b
        return self.xp.bitwise_xor(self._array(a), self._array(b))

    def shift_right(self, a: Any, bits: int) -> Any:
        """a >> bits (a non-negative, so arithmetic and logical shifts agree)."""
        return self.xp.bitwise_right_shift(a, self.const(bits))

    def shift_left(self, a: Any, bits: int) -> Any:
        """a << bits."""
        return self.xp.bitwise_left_shift(a, self.const(bits))

    def mask(self, a: Any, bits: int) -> Any:
        """a & (2^bits − 1)."""
        return self.xp.bitwise_and(a, self.const((1 << bits) - 1))

    def add(self, a: Word, b: Word) -> Word:
        """(a + b) mod 2³²."""
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) & MASK32
        return self.mask(self.xp.add(self._array(a), self._array(b)), 32)

    def mulhilo(self, a: Word, multiplier: int) -> tuple[Word, Word]:
        """(hi, lo) 32-bit halves of the 64-bit product a·multiplier (``a`` below 2³²).

        Signed words skip both masks: hi's sign-extension bits and lo's upper half only reach
        the round's outputs through xors, and :func:`philox4x32` masks those once (``clean``).
        """
        if isinstance(a, int):
            product = a * multiplier
            return product >> 32, product & MASK32
        product = self.xp.multiply(a, self.const(multiplier))
        if self.signed:
            return self.shift_right(product, 32), product
        return self.shift_right(product, 32), self.mask(product, 32)

    def clean(self, a: Word) -> Word:
        """a's low 32 bits, where :meth:`mulhilo` may have left bits above them."""
        return a if isinstance(a, int) or not self.signed else self.mask(a, 32)

    def _array(self, a: Word) -> Any:
        return self.const(a) if isinstance(a, int) else a


class NarrowWordArithmetic(WordArithmetic):
    """32-bit words in uint32 (JAX without x64): lo wraps natively, hi from 16-bit limbs.

    With a = ah·2¹⁶ + al and m = mh·2¹⁶ + ml, every partial product is below 2³², and
    hi = ah·mh + (al·mh)>>16 + (ah·ml)>>16 + (carry of the middle column)>>16.
    """

    wide = False

    def add(self, a: Word, b: Word) -> Word:
        if isinstance(a, int) and isinstance(b, int):
            return (a + b) & MASK32
        return self.xp.add(self._array(a), self._array(b))  # uint32 addition wraps mod 2³²

    def mulhilo(self, a: Word, multiplier: int) -> tuple[Word, Word]:
        if isinstance(a, int):
            product = a * multiplier
            return product >> 32, product & MASK32
        return self.mulhi(a, multiplier), self.xp.multiply(a, self.const(multiplier))

    def mulhi(self, a: Any, multiplier: int) -> Any:
        """Upper 32 bits of a·multiplier, from four 16×16-bit partial products."""
        xp = self.xp
        a_lo, a_hi = self.mask(a, 16), self.shift_right(a, 16)
        m_lo, m_hi = self.const(multiplier & 0xFFFF), self.const(multiplier >> 16)
        lo_lo, lo_hi = xp.multiply(a_lo, m_lo), xp.multiply(a_lo, m_hi)
        hi_lo, hi_hi = xp.multiply(a_hi, m_lo), xp.multiply(a_hi, m_hi)
        middle = xp.add(xp.add(self.shift_right(lo_lo, 16), self.mask(lo_hi, 16)), self.mask(hi_lo, 16))
        high = xp.add(hi_hi, xp.add(self.shift_right(lo_hi, 16), self.shift_right(hi_lo, 16)))
        return xp.add(high, self.shift_right(middle, 16))


def round_keys(kit: WordArithmetic, key: Sequence[Word], rounds: int = ROUNDS) -> list[tuple[Word, Word]]:
    """The key schedule: (k0 + r·W0, k1 + r·W1) mod 2³² for r = 0, ..., rounds − 1."""
    return [
        (kit.add(key[0], (r * PHILOX_W[0]) & MASK32), kit.add(key[1], (r * PHILOX_W[1]) & MASK32))
        for r in range(rounds)
    ]


def philox4x32(
    kit: WordArithmetic, counter: Sequence[Word], key: Sequence[Word], rounds: int = ROUNDS
) -> tuple[Word, Word, Word, Word]:
    """Philox-4x32-``rounds`` of ``counter`` (4 words) under ``key`` (2 words); words broadcast together."""
    if len(counter) != 4 or len(key) != 2:
        raise ValueError(
            f"Philox-4x32 takes a 4-word counter and a 2-word key, got {len(counter)} and {len(key)}"
        )
    c0, c1, c2, c3 = counter
    for k0, k1 in round_keys(kit, key, rounds):
        hi0, lo0 = kit.mulhilo(c0, PHILOX_M[0])
        hi1, lo1 = kit.mulhilo(c2, PHILOX_M[1])
        # the multiplicands of the next round must be exact 32-bit words: clean them here
        c0, c1 = kit.clean(kit.xor(hi1, kit.xor(c1, k0))), lo1
        c2, c3 = kit.clean(kit.xor(hi0, kit.xor(c3, k1))), lo0
    return c0, kit.clean(c1), c2, kit.clean(c3)


class InPlaceWords(WordArithmetic):
    """Wide words in a namespace whose elementwise functions write into ``out=`` (NumPy, torch).

    ``store``: keyword arguments that let an integer result be written into a float ``out``
    (NumPy asks for ``casting="unsafe"``; torch casts on its own).
    """

    def __init__(
        self,
        xp: Any,
        dtype: Any,
        *,
        signed: bool = False,
        device: Any = None,
        store: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(xp, dtype, signed=signed, device=device)
        self.store = store or {}
        self.multipliers = xp.asarray([[PHILOX_M[0]], [PHILOX_M[1]]], dtype=dtype, device=device)

    def shift_into(self, word: Any, bits: int, out: Any) -> None:
        """out = word >> bits, ``out`` a float array; ``word`` (scratch) may be overwritten.

        NumPy casts inside the ufunc (``store``); torch has no integer kernel that writes floats on
        CUDA, so it shifts in place and then copies with a cast.
        """
        if self.store:
            self.xp.bitwise_right_shift(word, self.const(bits), out=out, **self.store)
            return
        self.xp.bitwise_right_shift(word, self.const(bits), out=word)
        out.copy_(word)


class PhiloxBuffers:
    """Philox-4x32-10 of up to ``capacity`` counters at a time, in three preallocated buffers, five array ops a round.

    The words ride in pairs, rows of (2, n) arrays: A = (c0, c2), the multiplicands, and the last
    product P, whose low halves are (c3, c1). One round is
    P = A·(M0, M1) (in place); H = (P >> 32) ⊕ P_previous; A = (H₁ ⊕ k0, H₀ ⊕ k1) & (2³² − 1),
    written over P_previous: the products keep all 64 bits (uint64, or int64 wrapping), the
    shift's and P_previous's upper halves are garbage that the one mask drops, and P_previous's
    low halves are exactly c1 and c3.
    """

    def __init__(self, kit: InPlaceWords, capacity: int) -> None:
        self.kit, self.capacity = kit, capacity
        xp, dtype, device = kit.xp, kit.dtype, kit.device
        self.buffers = [xp.empty((2, capacity), dtype=dtype, device=device) for _ in range(3)]
        self._views: dict[int, list[tuple[Any, Any, Any]]] = {}
        self._keys: dict[tuple[int, int, int], list[tuple[Any, Any]]] = {}

    def _rows(self, n: int) -> list[tuple[Any, Any, Any]]:
        """(whole, row 0, row 1) of each buffer cut to n columns; views cost a microsecond each, so keep them."""
        if n not in self._views:
            self._views[n] = [(b[:, :n], b[0, :n], b[1, :n]) for b in self.buffers]
        return self._views[n]

    def _round_keys(self, key: Sequence[int], rounds: int) -> list[tuple[Any, Any]]:
        index = (int(key[0]), int(key[1]), rounds)
        if index not in self._keys:
            self._keys[index] = [
                (self.kit.const(k0), self.kit.const(k1)) for k0, k1 in round_keys(self.kit, key, rounds)
            ]
        return self._keys[index]

    def __call__(
        self, counter: Any, stream: Sequence[int], key: Sequence[int], rounds: int = ROUNDS
    ) -> tuple[Any, Any, Any, Any]:
        """The four output words (c0, c1, c2, c3), each (n,), of the counters ``counter`` (n 64-bit words).

        They are views into the buffers: use them before the next call.
        """
        kit, xp = self.kit, self.kit.xp
        n = counter.shape[0]
        if n > self.capacity:
            raise ValueError(f"{n} counters exceed the buffers' capacity of {self.capacity}")
        a, previous, high = self._rows(n)
        mask, shift, multipliers = kit.const(MASK32), kit.const(32), kit.multipliers
        xp.bitwise_and(counter, mask, out=a[1])
        a[2][...] = stream[0]
        xp.bitwise_right_shift(counter, shift, out=previous[2])  # c1: the counter's high word
        previous[1][...] = stream[1]  # c3
        for k0, k1 in self._round_keys(key, rounds):
            xp.multiply(a[0], multipliers, out=a[0])
            xp.bitwise_right_shift(a[0], shift, out=high[0])
            xp.bitwise_xor(high[0], previous[0], out=high[0])  # (hi(M0·c0) ⊕ c3, hi(M1·c2) ⊕ c1)
            xp.bitwise_xor(high[2], k0, out=previous[1])
            xp.bitwise_xor(high[1], k1, out=previous[2])
            xp.bitwise_and(previous[0], mask, out=previous[0])
            a, previous = previous, a
        xp.bitwise_and(previous[0], mask, out=previous[0])
        return a[1], previous[2], a[2], previous[1]
