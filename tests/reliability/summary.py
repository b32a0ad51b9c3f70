"""summary.py - the reliability suites' figures in a few lines: reads
build/reliability/{torn_publish,fencing,churn}.json (written by the
suites) and prints what survived.  `make soak` and `make test-reliability`
run it after the suites.  Exit status 0 even when a file is missing (a
suite that failed says so itself)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "reliability")


def load(name):
    try:
        with open(os.path.join(DIR, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def latency(d):
    if not d or not d.get("count"):
        return "n/a"
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (d["p50_ms"], d["p99_ms"], d["max_ms"])


def main():
    lines = []
    t = load("torn_publish")
    if t:
        lines.append("torn publish: %d kills survived (%d mid-publish), %d invalid snapshots in "
                     "%d verifies + %d routes by %d readers, reader errors %s; takeover %s"
                     % (t["kills"], t["kills_mid_publish"], t["invalid_snapshots"],
                        t["verifies"], t["routes"], t["readers"], t["reader_errors"] or "none",
                        latency(t["takeover_latency"])))
    f = load("fencing")
    if f:
        lines.append("fencing: %d stop/cont rounds (caught mid-publish %d, mid-tend %d, idle %d), "
                     "%d resumed as followers, %d fencing violations; stop -> new publish %s "
                     "(takeover_timeout %g s)"
                     % (f["rounds"], f["stopped_mid"]["publish"], f["stopped_mid"]["tend"],
                        f["stopped_mid"]["idle"], f["resumed_as_follower"],
                        len(f["fencing_violations"]), latency(f["takeover_latency_after_stop"]),
                        f["takeover_timeout_s"]))
    c = load("churn")
    if c:
        lines.append("churn: %d operations on %d processes in %.0f s (%s; kills %s), %d epochs, "
                     "%d survivors, leaks: %s"
                     % (c["operations"], c["processes"], c["churn_s"],
                        ", ".join("%s %d" % kv for kv in sorted(c["by_operation"].items())),
                        c["kills"], c["epochs_seen"], c["survivors"],
                        "; ".join(c["leaks"]) or "none"))
    soak = any(x and x.get("soak") for x in (t, f, c))
    print("reliability figures (%s, %s):" % ("soak" if soak else "bounded", DIR))
    for line in lines or ["no figures found"]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
