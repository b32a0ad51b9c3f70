"""scribbler.py - a hostile same-uid process: writes words into a live
segment for a while.

    python3 scribbler.py SHMID SECONDS SEED LO HI
    python3 scribbler.py --regions SHMID SECONDS SEED LO:HI[,LO:HI...]
    python3 scribbler.py --flip SHMID SECONDS SEED OFF:WIDTH[,OFF:WIDTH...]

Attaches the segment (shmat, like any process of the same uid could).

The first form writes, until SECONDS have passed, 64-bit words at 8-byte
aligned offsets: most in [LO, HI) (the header's control words and locks),
the rest anywhere in the header after its 32-byte prefix.

--regions writes anywhere in the segment: each write picks one of the
regions [LO, HI) with equal chance (so a small region - the prefix, the
lock words, a slot head - is hit as often as the big owners table), then
an aligned word inside it.

In both, the values are a mix of random words, small numbers (plausible
slot indexes, epochs, lock words, counts and node indices) and the current
word with one bit flipped.  Prints the number of writes.

--flip rewrites the given fields (OFF:WIDTH, width 4 or 8) in a tight
loop: a random subset gets a bad value (random, zero, doubled, one more
than the real value), then every field gets its original value back, so a
process attaching meanwhile may copy a header that is whole, or torn in
any field.  Prints the number of rewrites.

Never writes outside the segment, never detaches early.
"""
import ctypes
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support import shm  # noqa: E402

PREFIX = 32


def _value(rng, current):
    kind = rng.random()
    if kind < 0.4:
        return rng.getrandbits(64)
    if kind < 0.7:
        return rng.randrange(9) | (rng.randrange(9) << 8) | (rng.randrange(9) << 32)
    return current ^ (1 << rng.randrange(64))


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
            words[i] = _value(rng, words[i])
            writes += 1
        # Let the processes under attack run between bursts on a small machine.
        time.sleep(0.0005)
    return writes


def scribble_regions(shmid, seconds, seed, regions):
    rng = random.Random(seed)
    size = shm.info_by_shmid(shmid)["size"]
    addr = shm._attach(shmid)
    words = (ctypes.c_uint64 * (size // 8)).from_address(addr)
    spans = []
    for lo, hi in regions:
        lo_w, hi_w = lo // 8, min(hi, size) // 8
        assert 0 <= lo_w < hi_w, "empty region %d:%d in a %d-byte segment" % (lo, hi, size)
        spans.append((lo_w, hi_w))
    writes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(200):
            lo_w, hi_w = spans[rng.randrange(len(spans))]
            i = rng.randrange(lo_w, hi_w)
            words[i] = _value(rng, words[i])
            writes += 1
        time.sleep(0.0005)
    return writes


def flip(shmid, seconds, seed, fields):
    rng = random.Random(seed)
    addr = shm._attach(shmid)
    cells = []
    for off, width in fields:
        ctype = ctypes.c_uint32 if width == 4 else ctypes.c_uint64
        cell = ctype.from_address(addr + off)
        cells.append((cell, cell.value, (1 << (8 * width)) - 1))
    rewrites = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            for cell, original, mask in rng.sample(cells, rng.randrange(1, len(cells) + 1)):
                kind = rng.randrange(4)
                cell.value = (rng.getrandbits(64) if kind == 0 else 0 if kind == 1
                              else original * 2 if kind == 2 else original + 1) & mask
            # A tight loop, but the torn header must stay torn for a moment.
            for _ in range(rng.randrange(50)):
                pass
            for cell, original, _ in cells:
                cell.value = original
            rewrites += 1
        time.sleep(0.0002)
    return rewrites


def _pairs(text):
    return [tuple(int(x, 0) for x in item.split(":")) for item in text.split(",") if item]


if __name__ == "__main__":
    if sys.argv[1] == "--regions":
        shmid, seconds, seed, regions = sys.argv[2:6]
        n = scribble_regions(int(shmid), float(seconds), int(seed), _pairs(regions))
    elif sys.argv[1] == "--flip":
        shmid, seconds, seed, fields = sys.argv[2:6]
        n = flip(int(shmid), float(seconds), int(seed), _pairs(fields))
    else:
        shmid, seconds, seed, lo, hi = sys.argv[1:6]
        n = scribble(int(shmid), float(seconds), int(seed), int(lo), int(hi))
    print(n, flush=True)
