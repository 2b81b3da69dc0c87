"""Public identifiers: a type prefix and a time-ordered number, as Skyvern's look.

Database primary keys never leave the server; these do. The number is the
creation time in milliseconds shifted left by 22 random bits, so ids sort by
creation time and two ids made in the same millisecond still differ.
"""

import secrets
import time

RANDOM_BITS = 22


def new_public_id(prefix: str) -> str:
    millis = time.time_ns() // 1_000_000
    return f"{prefix}{(millis << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)}"
