"""scribbler.py - a hostile same-uid process: writes words into a live
segment's header for a while.

    python3 scribbler.py SHMID SECONDS SEED LO HI

Attaches the segment (shmat, like any process of the same uid could) and,
until SECONDS have passed, writes 64-bit words at 8-byte aligned offsets:
most in [LO, HI) (the header's control words and locks), the rest anywhere
in the header after its 32-byte prefix.  The values are a mix of random
words, small numbers (plausible slot indexes, epochs, lock words) and the
current word with one bit flipped.  Prints the number of writes.  Never
writes outside the header, never detaches early.
"""
import ctypes
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support import shm  # noqa: E402

PREFIX = 32


def scribble(shmid, seconds, seed, lo, hi, header_size=8192):
    rng = random.Random(seed)
    addr = shm._attach(shmid)
    words = (ctypes.c_uint64 * (header_size // 8)).from_address(addr)
    lo_w, hi_w, first_w, last_w = lo // 8, hi // 8, PREFIX // 8, header_size // 8
    writes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(200):
            i = rng.randrange(lo_w, hi_w) if rng.random() < 0.8 else rng.randrange(first_w, last_w)
            kind = rng.random()
            if kind < 0.4:
                words[i] = rng.getrandbits(64)
            elif kind < 0.7:
                words[i] = rng.randrange(9) | (rng.randrange(9) << 8) | (rng.randrange(9) << 32)
            else:
                words[i] ^= 1 << rng.randrange(64)
            writes += 1
        # Let the processes under attack run between bursts on a small machine.
        time.sleep(0.0005)
    return writes


if __name__ == "__main__":
    shmid, seconds, seed, lo, hi = sys.argv[1:6]
    n = scribble(int(shmid), float(seconds), int(seed), int(lo), int(hi))
    print(n, flush=True)
