"""Per-node request counters, so tests can measure the tend load.

Invariants: `names[name]` counts request lines by command name (the part
before the first '/', ':' or ';', e.g. `user-agent-set`), `requests` counts
info messages (one per proto frame), `connections` counts accepted sockets.
`data` lists the AS_MSG commands received as [namespace, partition, read],
oldest first, capped at DATA_LOG_MAX (older entries are dropped).
Counts only grow until `reset()`; faults do not stop a request from counting.
"""


DATA_LOG_MAX = 100_000


class Counters:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = 0
        self.connections = 0
        self.other_messages = 0
        self.names = {}
        self.data = []

    def count_request(self, names):
        self.requests += 1
        for name in names:
            self.names[name] = self.names.get(name, 0) + 1

    def count_data(self, namespace, partition, read):
        if len(self.data) >= DATA_LOG_MAX:
            del self.data[:len(self.data) // 2]
        self.data.append([namespace, partition, read])

    def to_json(self):
        return {
            "requests": self.requests,
            "connections": self.connections,
            "other_messages": self.other_messages,
            "names": dict(self.names),
            "data": [list(d) for d in self.data],
        }
