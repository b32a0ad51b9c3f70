"""injected.py - what the fault suites broke on purpose, counted by kind.

Tests call count("redis master killed (SIGKILL)") and the like as they
inject; conftest's terminal summary prints the totals at the end of the
run ("faults injected"), so a run says what it survived, not only that it
passed.
"""
from collections import Counter

COUNTS = Counter()


def count(kind, n=1):
    COUNTS[kind] += n
