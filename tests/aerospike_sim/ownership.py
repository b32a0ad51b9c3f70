"""Partition ownership table of one namespace: the simulator's truth.

`Namespace.owners[c][p]` is the name of the node holding replica column c of
partition p (column 0 = master). Balancing mimics what a server rebalance
looks like from outside: when a node leaves, the next replica of each of its
partitions is promoted; when a node joins it takes an even share; partitions
that need not move stay where they are.

Invariants (after every `rebalance` and `migrate`):
- n_cols = min(rf, number of members) (0 when there is no member);
- every (partition, column) has exactly one owner, a current member;
- no node appears twice in the columns of one partition;
- after `rebalance`, each column's counts differ by at most one between nodes
  whenever that is reachable without putting a node twice in one partition
  (always the case for column 0).
- regime is 0 while the namespace is AP; in SC mode it only ever grows, by one
  at every change of ownership.
"""

from .digest import N_PARTITIONS


class Namespace:
    def __init__(self, name, rf):
        if not 1 <= len(name) <= 31 or ":" in name or ";" in name or "," in name:
            raise ValueError("bad namespace name %r" % (name,))
        if not 1 <= rf <= 255:
            raise ValueError("replication factor must be 1..255")
        self.name = name
        self.rf = rf
        self.sc = False
        self.regime = 0
        self.owners = []

    @property
    def n_cols(self):
        return len(self.owners)

    def rebalance(self, members):
        """Recompute ownership over `members` (ordered names) with minimal movement."""
        self.owners = balance(self.owners, list(members), min(self.rf, len(members)))

    def migrate(self, partitions, to, column=0):
        """Give column `column` of `partitions` to node `to`.

        If `to` already holds another column of a partition, the two owners
        swap, so a partition never lists a node twice. Returns the set of
        partitions whose ownership actually changed.
        """
        if not 0 <= column < self.n_cols:
            raise ValueError("column %d out of range (n_cols %d)" % (column, self.n_cols))
        changed = set()
        for p in partitions:
            if not 0 <= p < N_PARTITIONS:
                raise ValueError("partition id %r out of range" % (p,))
            current = self.owners[column][p]
            if current == to:
                continue
            for c in range(self.n_cols):
                if self.owners[c][p] == to:
                    self.owners[c][p] = current
            self.owners[column][p] = to
            changed.add(p)
        return changed

    def partitions_of(self, node):
        """[set of pids per column] that `node` claims."""
        return [{p for p, n in enumerate(col) if n == node} for col in self.owners]

    def bump_regime(self):
        if self.sc:
            self.regime += 1

    def snapshot(self):
        return [list(col) for col in self.owners]

    def to_json(self):
        return {
            "rf": self.rf,
            "n_cols": self.n_cols,
            "sc": self.sc,
            "regime": self.regime,
            # partitions[p] = [master, prole, ...] like the client's table rows.
            "partitions": [[col[p] for col in self.owners] for p in range(N_PARTITIONS)],
        }


def balance(previous, members, n_cols):
    """New owners (list of n_cols lists of N_PARTITIONS names) from `previous`."""
    if not members or n_cols == 0:
        return []
    alive = set(members)
    order = {m: i for i, m in enumerate(members)}
    # Per partition: surviving previous owners in column order. Dropping a
    # departed node shifts the later replicas up, i.e. promotes the prole.
    wanted = []
    for p in range(N_PARTITIONS):
        seen = []
        for col in previous:
            n = col[p]
            if n in alive and n not in seen:
                seen.append(n)
        wanted.append(seen)

    owners = []
    for c in range(n_cols):
        column = [None] * N_PARTITIONS
        count = {m: 0 for m in members}
        floor, extra = divmod(N_PARTITIONS, len(members))

        def eligible(p, n, c=c):
            return all(owners[k][p] != n for k in range(c))

        # Keep previous owners up to the even share: first those that already
        # held this very column (nothing moves), then promoted replicas.
        for stable_pass in (True, False):
            for p in range(N_PARTITIONS):
                cand = wanted[p][c] if c < len(wanted[p]) else None
                if cand is None or column[p] is not None:
                    continue
                same = c < len(previous) and previous[c][p] == cand
                if same == stable_pass and eligible(p, cand) and count[cand] < floor:
                    column[p] = cand
                    count[cand] += 1
        # Then let previous owners keep one more while odd slots remain.
        for p in range(N_PARTITIONS):
            if column[p] is not None:
                continue
            cand = wanted[p][c] if c < len(wanted[p]) else None
            if cand is not None and eligible(p, cand) and count[cand] == floor and extra > 0:
                column[p] = cand
                count[cand] += 1
                extra -= 1
        # Everything else goes to the least loaded eligible node.
        for p in range(N_PARTITIONS):
            if column[p] is not None:
                continue
            choices = [m for m in members if eligible(p, m)]
            best = min(choices, key=lambda m: (count[m], order[m]))
            column[p] = best
            count[best] += 1
        _even_out(column, count, eligible, floor)
        owners.append(column)
    return owners


def _even_out(column, count, eligible, floor):
    """Move single partitions from the most to the least loaded nodes.

    Needed because the partitions a newcomer could take in a prole column are
    often exactly those it already masters; a few direct moves fix the skew.
    """
    def move_to(under, limit):
        for p, owner in enumerate(column):
            if count[under] >= limit:
                return
            if owner != under and count[owner] > limit and eligible(p, under):
                column[p] = under
                count[owner] -= 1
                count[under] += 1

    for node in list(count):
        if count[node] < floor:
            move_to(node, floor)
    for node in list(count):
        if count[node] <= floor and max(count.values()) > floor + 1:
            move_to(node, floor + 1)
