"""Core: the streaming loop every backend shares — pieces in, the engine's steering out.

A backend produces text piece by piece (llama.cpp a token at a time, a server a chunk at a
time). What happens to each piece is the same everywhere, and lives here: it is kept, the
time to the first one is noted, the engine's ``on_piece`` callback sees it and answers with a
:class:`~.base.Steer` (may the text end next? stop now?), and a set cancel token ends the
stream with what was written kept. The backend only says where pieces come from.
"""

from __future__ import annotations

import time

from ..errors import CancelToken
from .base import Generation, OnPiece, Steer

#: Characters a model may print that show nothing and only break a manuscript: a zero-width
#: space, a word joiner, a byte-order mark ("Read more\u200b\u200bThe" from the demo model).
#: Never kept. (Zero-width joiners and non-joiners are left: scripts and emoji need them.)
INVISIBLE = "\u200b\u2060\ufeff"
_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)


class PieceStream:
    """One ``generate`` call's stream: the pieces so far, the steering, why it ended.

    ``finish`` starts as "length" (the token budget ran out); :meth:`cancelled` and
    :meth:`feed` set "cancelled" and "stop", the backend sets "end" when the model ends.
    """

    def __init__(self, on_piece: OnPiece | None, cancel: CancelToken | None, allow_end: bool) -> None:
        self.on_piece = on_piece
        self.cancel = cancel
        self.steer = Steer(allow_end=allow_end)
        self.pieces: list[str] = []
        self.finish = "length"
        self.started = time.perf_counter()
        self.first = 0.0            # seconds to the first piece
        self.dropped = False        # an invisible character was taken out (see INVISIBLE)

    def cancelled(self) -> bool:
        """True (and finish "cancelled") once the cancel token is set."""
        if self.cancel is not None and self.cancel.cancelled:
            self.finish = "cancelled"
            return True
        return False

    def feed(self, piece: str) -> bool:
        """Keep a piece and hand it to the engine (an empty piece, as a token that ends inside
        a UTF-8 character gives, only counts for the first-piece time). True when the engine
        says stop (finish "stop"). Invisible characters (:data:`INVISIBLE`) are taken out
        first."""
        if not self.first:
            self.first = time.perf_counter() - self.started
        piece = self.keep(piece)
        self.pieces.append(piece)
        if self.on_piece is None or not piece:
            return False
        answer = self.on_piece(piece)
        if answer is not None:
            self.steer = answer
            if answer.stop:
                self.finish = "stop"
                return True
        return False

    def keep(self, piece: str) -> str:
        """``piece`` without the invisible characters (:data:`INVISIBLE`)."""
        kept = piece.translate(_DROP_INVISIBLE)
        if len(kept) != len(piece):
            self.dropped = True
        return kept

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def result(self, *, prompt_tokens: int, evaluated: int, generated: int) -> Generation:
        return Generation(text=self.text, finish=self.finish, prompt_tokens=prompt_tokens,
                          prompt_tokens_evaluated=evaluated, generated_tokens=generated,
                          seconds=time.perf_counter() - self.started, first_token_seconds=self.first)
