"""How deep JSON text nests, measured on the bytes as they stream by, before any parser sees
them. A 200 KB file nested 100,000 deep costs a streaming parser memory that grows with the
square of the depth (its path to every value) and a recursive one a RecursionError; GeoJSON
that QuPath or we write nests fewer than 20 levels, so a generous limit refuses only the hostile.

Brackets inside strings do not count (a class named "[[[[" is a name): strings are tracked
across chunks, with escaped quotes told apart by the backslashes before them."""

from __future__ import annotations

import numpy as np

MAX_DEPTH = 100

_QUOTE, _BACKSLASH = 34, 92
_OPEN = np.zeros(256, np.int8)
_OPEN[[91, 123]] = 1  # [ {
_OPEN[[93, 125]] = -1  # ] }


class TooDeep(ValueError):
    def __init__(self, depth: int):
        super().__init__(f"JSON nested more than {depth} levels deep")


class DepthGuard:
    """Feed it the text chunk by chunk; it raises ``TooDeep`` past ``limit`` levels."""

    def __init__(self, limit: int = MAX_DEPTH):
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.backslashes = 0  # backslashes ending the previous chunk (they may escape its first byte)

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        b = np.frombuffer(chunk, np.uint8)
        if not len(b):
            return
        is_quote = b == _QUOTE
        candidates = np.flatnonzero(is_quote[1:] & (b[:-1] == _BACKSLASH)) + 1  # quotes after a backslash: rare
        if len(b) and b[0] == _QUOTE and self.backslashes:
            candidates = np.concatenate([[0], candidates])
        for q in candidates.tolist():
            if self._odd_backslashes(b, q):
                is_quote[q] = False  # an escaped quote does not end the string
        quotes = np.flatnonzero(is_quote)
        folded = b | 32  # '[' → '{' and ']' → '}' (91 | 32 == 123, 93 | 32 == 125)
        brackets = np.flatnonzero((folded == 123) | (folded == 125))  # only these can change the depth
        if len(brackets):
            outside = ((np.searchsorted(quotes, brackets) + self.in_string) & 1) == 0  # an even count of quotes before it
            steps = _OPEN[b[brackets[outside]]]
            if len(steps):
                levels = np.cumsum(steps, dtype=np.int64) + self.depth
                if levels.max() > self.limit:
                    raise TooDeep(self.limit)
                self.depth = int(levels[-1])
        self.in_string = bool((self.in_string + len(quotes)) & 1)
        not_backslash = np.flatnonzero(b != _BACKSLASH)
        self.backslashes = len(b) - 1 - int(not_backslash[-1]) if len(not_backslash) else len(b) + self.backslashes

    def _odd_backslashes(self, b: np.ndarray, q: int) -> bool:
        """Whether the quote at ``q`` is escaped: an odd run of backslashes right before it."""
        k, n = q - 1, 0
        while k >= 0 and b[k] == _BACKSLASH:
            n, k = n + 1, k - 1
        if k < 0:
            n += self.backslashes
        return n % 2 == 1
