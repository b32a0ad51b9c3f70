"""plots.py - the figures of a full run as PNGs under docs/bench/ (make
bench): load at the servers vs processes (groups 3 and 6) and takeover
latency (group 7's samples).  matplotlib (scripts/deps.sh) with the Agg
backend: no display needed.  Invariant: drawn from results.json's data
only, so a plot shows the run whose figures docs/benchmarks.md quotes.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import PLOT_DIR  # noqa: E402


def _group(results, n, title_start=""):
    for g in results["groups"]:
        if g["group"] == n and g["title"].startswith(title_start):
            return g
    return None


def _machine(results):
    m = results["machine"]
    return "%s, %d cores, Linux %s" % (m["cpu"], m["cores"], m["kernel"])


def draw(results):
    os.makedirs(PLOT_DIR, exist_ok=True)
    written = []
    g3, g6 = _group(results, 3), _group(results, 6)
    if g3 or g6:
        fig, axes = plt.subplots(1, 2 if g3 and g6 else 1, figsize=(11, 4.2), squeeze=False)
        ax_i = 0
        if g3:
            ax = axes[0][ax_i]
            ax_i += 1
            table = g3["data"]["table"]
            n = [r["processes"] for r in table]
            peer = g3["data"]["peer"]
            ax.plot(n, [r[peer]["cluster"] + r[peer]["command"] for r in table], "o-",
                    label=peer + " (CLUSTER* + COMMAND)")
            ax.plot(n, [r["clustershm"]["cluster"] + r["clustershm"]["command"] for r in table],
                    "s-", label="clustershm.redis (CLUSTER* + COMMAND)")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("processes doing GETs (%.0f s each)" % g3["data"]["seconds"])
            ax.set_ylabel("topology commands at the servers")
            ax.set_title("Redis Cluster")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        if g6:
            ax = axes[0][ax_i]
            load = g6["data"]["load"]
            n = [r["processes"] for r in load]
            for side, style in (("official", "o-"), ("official-shm", "o--"),
                                ("clustershm-private", "s-"), ("clustershm-shared", "s--")):
                ax.plot(n, [r[side]["per_second"] for r in load], style, label=side)
            ax.set_xscale("log")
            ax.set_xlabel("processes connected")
            ax.set_ylabel("info requests/s at the servers")
            ax.set_title("Aerospike (simulator, 3 nodes)")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.suptitle("Load at the servers vs processes - " + _machine(results), fontsize=9)
        fig.tight_layout()
        path = os.path.join(PLOT_DIR, "load-vs-processes.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    g7 = _group(results, 7)
    if g7:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, label in (("handoff_ms", "handoff (clean close)"),
                            ("takeover_ms", "takeover after SIGKILL")):
            v = sorted(g7["data"][name])
            ax.plot(v, [(i + 1) / len(v) for i in range(len(v))], drawstyle="steps-post",
                    label="%s, %d rounds" % (label, len(v)))
        ax.axvline(1.0, color="grey", linestyle=":", label="target p99 1 ms")
        ax.set_xscale("log")
        ax.set_xlabel("ms until a follower sees the new tender's epoch")
        ax.set_ylabel("fraction of rounds")
        ax.set_title("Tender handoff and takeover latency - " + _machine(results), fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = os.path.join(PLOT_DIR, "takeover-latency.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
