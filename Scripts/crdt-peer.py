#!/usr/bin/env python3
"""The bench's CRDT peer: Margin's record workload written into one pycrdt (Yrs) document and
synced to a second, empty one, in one process and in memory (no disk, no network).

usage: crdt-peer.py WORKLOAD.json   (written by margin-bench; prints JSON figures on stdout)

Records are modelled the natural Yjs way: a top-level Map per kind, one nested Map per record,
tags as a nested Map (tag -> True). Writes use the same transactions as Margin's bench path:
articles by article_batch, annotations by annotation_batch, one transaction per edit.
"""
import json
import resource
import statistics
import sys
import time

import pycrdt
from pycrdt import Doc, Map


def main():
    workload = json.load(open(sys.argv[1]))
    a = Doc()
    articles = a.get("articles", type=Map)
    annotations = a.get("annotations", type=Map)

    start = time.perf_counter()
    batch = workload["article_batch"]
    records = workload["articles"]
    for first in range(0, len(records), batch):
        with a.transaction():
            for r in records[first:first + batch]:
                articles[r["id"]] = Map({k: v for k, v in r.items() if k != "id"})
    batch = workload["annotation_batch"]
    records = workload["annotations"]
    for first in range(0, len(records), batch):
        with a.transaction():
            for r in records[first:first + batch]:
                fields = {k: v for k, v in r.items() if k not in ("id", "tags")}
                fields["tags"] = Map({t: True for t in r["tags"]})
                annotations[r["id"]] = Map(fields)
    for e in workload["edits"]:
        with a.transaction():
            record = annotations[e["annotation"]]
            if "note" in e:
                record["note"] = e["note"]
            else:
                record["tags"][e["tag"]] = True
    write_seconds = time.perf_counter() - start

    # First sync: B sends its state vector, A answers the update B lacks, B applies it.
    b = Doc()
    start = time.perf_counter()
    state = b.get_state()
    update = a.get_update(state)
    b.apply_update(update)
    sync_seconds = time.perf_counter() - start
    sync_bytes = len(state) + len(update)
    assert b.get("annotations", type=Map).to_py().keys() == annotations.to_py().keys()

    def exchange():
        """Both ways: each side sends its state vector and gets back what it lacks."""
        moved = 0
        for sender, receiver in ((a, b), (b, a)):
            sv = receiver.get_state()
            upd = sender.get_update(sv)
            receiver.apply_update(upd)
            moved += len(sv) + len(upd)
        return moved

    times, noop_bytes = [], 0
    for _ in range(21):
        start = time.perf_counter()
        noop_bytes = exchange()
        times.append((time.perf_counter() - start) * 1000)
    noop_ms = statistics.median(times)

    times, one_bytes = [], 0
    target = workload["articles"][0]["id"] if workload["articles"] else ""
    for n in range(21):
        with a.transaction():
            annotations[f"one-more-{n}"] = Map({"article_id": target, "motivation": "commenting", "exact": "small",
                                                "start": 4, "end": 9, "note": f"n{n}", "author": "bench",
                                                "tags": Map({})})
        start = time.perf_counter()
        one_bytes = exchange()
        times.append((time.perf_counter() - start) * 1000)
    one_ms = statistics.median(times)

    print(json.dumps({
        "write_seconds": write_seconds, "sync_seconds": sync_seconds, "sync_bytes": sync_bytes,
        "noop_bytes": noop_bytes, "noop_ms": noop_ms, "one_bytes": one_bytes, "one_ms": one_ms,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pycrdt_version": getattr(pycrdt, "__version__", "?"),
    }))


if __name__ == "__main__":
    main()
