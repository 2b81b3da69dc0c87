"""Public identifiers: a type prefix and a time-ordered number, as Skyvern's look.

Database primary keys never leave the server; these do. The number is the
creation time in milliseconds shifted left by 22 random bits, so ids sort by
creation time and two ids made in the same millisecond still differ.
"""

import re
import secrets
import time

RANDOM_BITS = 22
_PUBLIC_ID = re.compile(r"[a-z][a-z0-9_]{1,47}")


def new_public_id(prefix: str) -> str:
    millis = time.time_ns() // 1_000_000
    return f"{prefix}{(millis << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)}"


def is_public_id(value: str) -> bool:
    """Whether `value` could be one of our ids; anything else is not worth a query.

    Also keeps NUL bytes and other junk from client-supplied path parameters out
    of SQL, where PostgreSQL would reject them with an error instead of a miss.
    """
    return _PUBLIC_ID.fullmatch(value) is not None
