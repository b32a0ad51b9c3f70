"""test_torn_publish.py - kill the tender at random moments, over and over,
while readers check every snapshot they can get: no reader may ever see a
snapshot that is not whole.

Setup: the session Redis Cluster (real servers), a segment with a big map
(max_nodes=4096: about 1.4 MiB of payload, so every publish copies and
hashes that much and takes a while), a tender tending every 10 ms and more
often on refresh requests (min_refresh_interval=5 ms), 8 reader processes
running `verifyloop ... yield` (cshm_verify_snapshot plus routes of random
keys, nonstop, a refresh request every 64 rounds) and a pool of candidate
processes that only hold a connection.  Every connected process competes
for the role; a reader that wins it hands it back at once (yield: close and
connect again), so the tender the test kills is always a candidate and no
reader is ever killed.

Each round: wait until a candidate is the tender, wait a random 0-30 ms
(so kills land anywhere in the tend cycle, in the middle of a publish
included: counted when a slot's seqlock is found odd right after the kill),
SIGKILL it, then wait (bounded: a hang catcher, not a speed test) until a
new epoch has published, and start a replacement candidate so at least two
are always there.  KILLS rounds: 100 in CI, 1000 under CSHM_SOAK=1.

Asserted: zero invalid snapshots (verify or route answered
CSHM_ERR_SEGMENT), zero reader crashes, every reader answered every
verifyloop, a tender always returned after a kill, and the monitor's log of
publishes obeys the fencing rules.  Recorded, printed and written to
build/reliability/torn_publish.json: the counts and the takeover latency
(kill -> first publish by a newer epoch, seen by cshm-monitor) p50/p99/max.
"""
import os
import random
import signal
import time

from chaos import (SOAK, Monitor, SegmentView, distribution_ms, fencing_violations,
                   first_publish_after, publishes, soak_or, wait_until, write_figures)
from support.worker import connect_all

KILLS = soak_or(100, 1000)
READERS = 8
CANDIDATES = 3            # at start; one replacement per kill keeps >= 2 alive at a kill
CHUNK = 4.0               # seconds of one verifyloop; readers run chunk after chunk
TAKEOVER_WITHIN = 15.0    # seconds: only catches a tender that never returns
TENDER_IS_CANDIDATE_WITHIN = 30.0
DEADLINE = soak_or(420, 3600)
SEED = int(os.environ.get("CSHM_TEST_SEED", "20240601"))

OPTIONS = dict(max_nodes=4096, tend_interval=0.01, min_refresh_interval=0.005,
               takeover_timeout=5, connect_timeout=2)


class Readers:
    """Readers running verifyloop chunk after chunk; answers are collected
    whenever the test looks, without waiting."""

    def __init__(self, workers):
        self.workers = workers
        self.outstanding = set()
        self.answers = []
        for w in workers:
            self._start(w)

    def _start(self, w):
        w.send("verifyloop %g yield" % CHUNK)
        self.outstanding.add(w)

    def collect(self, restart=True):
        for w in list(self.outstanding):
            answer = w.answer_ready()
            if answer is None:
                continue
            self.outstanding.discard(w)
            assert answer.get("ok"), "%r: verifyloop failed: %r\n%s" % (w, answer, w.log())
            self.answers.append((w, answer))
            if restart:
                self._start(w)

    def finish(self):
        deadline = time.monotonic() + CHUNK + 60
        while self.outstanding:
            self.collect(restart=False)
            assert time.monotonic() < deadline, \
                "readers %s gave no answer to verifyloop" % sorted(w.name for w in self.outstanding)
            time.sleep(0.01)

    def totals(self):
        t = {"chunks": len(self.answers), "reads": 0, "verifies": 0, "routes": 0,
             "refreshes": 0, "invalid": 0, "yields": 0, "errors": {}}
        for _, a in self.answers:
            for k in ("reads", "verifies", "routes", "refreshes", "invalid", "yields"):
                t[k] += a[k]
            for code, n in a["errors"].items():
                t["errors"][code] = t["errors"].get(code, 0) + n
        return t


def test_sigkill_of_the_tender_never_tears_a_snapshot(cluster, pool, shm_key, tmp_path):
    rng = random.Random(SEED)
    url = cluster.url()
    options = dict(OPTIONS, key=shm_key)
    candidates = pool(CANDIDATES, prefix="c")
    connect_all(candidates, url, **options)
    monitor = Monitor(shm_key, tmp_path / "monitor.log")
    readers_w = pool(READERS, prefix="r")
    connect_all(readers_w, url, **options)
    readers = Readers(readers_w)
    reader_pids = {w.pid for w in readers_w}
    view = SegmentView(shm_key)

    kills, mid_publish, reader_tender_waits = [], 0, 0
    started = time.monotonic()
    try:
        for round_no in range(KILLS):
            by_pid = {w.pid: w for w in candidates if w.alive()}

            def candidate_tender():
                readers.collect()
                epoch, pid = view.tender()
                if pid in by_pid and view.epoch() == epoch and view.published_epoch() == epoch:
                    return by_pid[pid]
                return None

            victim = candidate_tender()
            if victim is None:
                if view.tender()[1] in reader_pids:
                    reader_tender_waits += 1
                victim = wait_until(candidate_tender, TENDER_IS_CANDIDATE_WITHIN,
                                    "a candidate to be the tender (round %d)" % round_no,
                                    interval=0.002)
            time.sleep(rng.uniform(0, 0.03))
            old_epoch = view.epoch()
            killed_at = time.monotonic()
            victim.signal(signal.SIGKILL)
            victim.kill()  # reaps it
            if view.slots_being_written():
                mid_publish += 1
            victim.stop()  # its pipes and log file: a soak kills thousands
            candidates.remove(victim)

            def returned():
                readers.collect()
                return view.epoch() > old_epoch and view.published_epoch() > old_epoch

            try:
                wait_until(returned, TAKEOVER_WITHIN, "a new tender to publish after kill %d"
                           % round_no)
            except AssertionError as e:
                raise AssertionError("%s: state %s, tender word %s, published epoch %d"
                                     % (e, view.state(), view.tender(), view.published_epoch()))
            kills.append({"epoch": old_epoch, "pid": victim.pid, "t": killed_at,
                          "seen_by_test_s": time.monotonic() - killed_at})
            [fresh] = pool(1, prefix="c")
            connect_all([fresh], url, **options)
            candidates.append(fresh)
        readers.finish()
    finally:
        view.close()
        events, end = monitor.stop()
    duration = time.monotonic() - started

    for w in readers_w:
        assert w.alive(), "reader %r died\n%s" % (w, w.log())
        assert w.status()["role"] in ("follower", "tender")
    totals = readers.totals()
    latencies, unseen = [], 0
    for k in kills:
        e = first_publish_after(events, k["epoch"], k["t"])
        if e is None:
            unseen += 1
            latencies.append(k["seen_by_test_s"])
        else:
            latencies.append(e["t"] - k["t"])
    violations = fencing_violations(events)
    figures = {
        "soak": SOAK, "seed": SEED, "duration_s": round(duration, 1),
        "kills": len(kills), "kills_mid_publish": mid_publish,
        "tender_returned": len(kills), "readers": READERS, "reader_crashes": 0,
        "reader_answers": totals["chunks"], "reads": totals["reads"],
        "verifies": totals["verifies"], "routes": totals["routes"],
        "refresh_requests": totals["refreshes"], "invalid_snapshots": totals["invalid"],
        "reader_errors": totals["errors"], "reader_yields": totals["yields"],
        "waits_for_a_reader_to_yield": reader_tender_waits,
        "publishes_seen": len(publishes(events)), "monitor": end,
        "takeover_latency": distribution_ms(latencies),
        "takeovers_timed_by_test_not_monitor": unseen,
        "fencing_violations": violations[:20],
        "takeover_latencies_ms": [round(x * 1000, 3) for x in latencies],
    }
    write_figures("torn_publish", figures)

    assert len(kills) == KILLS
    assert totals["invalid"] == 0, \
        "readers saw %d invalid snapshots; first: %s" % (
            totals["invalid"], [a["first_error"] for _, a in readers.answers if a["invalid"]][:3])
    assert totals["chunks"] >= READERS and all(a["connected"] for _, a in readers.answers)
    assert totals["verifies"] > 0 and totals["routes"] > 0
    assert not violations, violations[:10]
