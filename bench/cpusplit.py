#!/usr/bin/env python3
"""How the CPU was split during one wrk run, for script/bench.

    cpusplit.py snap FILE                 # before and after the run
    cpusplit.py diff BEFORE AFTER WRK_CPU_SECONDS ORCHIDD_PID HELLO_PID NGINX_PID [PEER_PID]

Prints one line "wrk W nginx N orchidd O hello H peer P kthreads K irq Q
other X idle I iowait D steal S", each the percentage of all CPUs over the
window between the two snapshots (the sum is 100), then "sys: nginx N
orchidd O hello H peer P", the part of each group's share spent in the
kernel on its behalf (system calls, page faults):
- wrk: CPU seconds measured by the caller (bash's "time" around wrk; wrk is
  gone by the second snapshot);
- nginx, orchidd, hello, peer: the process trees under the given pids
  (master and workers; peer is the other database script/bench compares
  with, e.g. etcd, 0 when none);
- kthreads: kernel threads (children of kthreadd: block I/O, ext4 journal,
  ksoftirqd);
- irq: interrupt and softirq time that the kernel accounts apart from any
  process (much of the loopback network stack);
- other: the rest of the busy time, i.e. processes not started by
  script/bench, including any that started and ended within the window. When
  it is large the machine was shared and the run is not a clean figure;
  "others NAME:P;..." then names the biggest of them still alive at the end.
Python 3 standard library only.
"""

import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def read_procs():
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1:data.rindex(")")]
        fields = data[data.rindex(")") + 2:].split()
        # fields[0] is state (field 3); ppid is field 4, utime 14, stime 15,
        # starttime 22 (with the pid, the identity of a process: kernel
        # threads change their comm as they switch work queues).
        procs[int(name)] = (int(fields[19]), int(fields[1]),
                            int(fields[11]) + int(fields[12]), comm,
                            int(fields[12]))
    return procs


def snap(path):
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    with open(path, "w") as f:
        json.dump({"cpu": cpu, "procs": read_procs()}, f)


def tree(procs, root):
    """pids of root and all its descendants (by ppid)."""
    kids = {}
    for pid, v in procs.items():
        ppid = v[1]
        kids.setdefault(ppid, []).append(pid)
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p in out or p not in procs:
            continue
        out.add(p)
        todo.extend(kids.get(p, []))
    return out


def diff(a_path, b_path, wrk_secs, orchidd, hello, nginx, peer=0):
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    pa = {int(k): v for k, v in a["procs"].items()}
    pb = {int(k): v for k, v in b["procs"].items()}
    # user nice system idle iowait irq softirq steal guest guest_nice
    d = [y - x for x, y in zip(a["cpu"], b["cpu"])]
    total = sum(d[:8]) or 1
    idle, iowait, steal = d[3], d[4], d[7]
    # Interrupt and softirq time (the loopback network stack runs mostly in
    # softirq) that the kernel accounts apart from any process.
    irq = d[5] + d[6]
    busy = total - idle - iowait - steal - irq

    def ticks(pids, field=2):
        t = 0
        for pid in pids:
            after = pb[pid][field]
            before = pa[pid][field] if pid in pa and pa[pid][0] == pb[pid][0] else 0
            t += max(0, after - before)
        return t

    groups, sys_ticks, mine = {}, {}, set()
    for name, root in (("nginx", nginx), ("orchidd", orchidd), ("hello", hello),
                       ("peer", peer)):
        pids = tree(pb, root) if root > 0 else set()
        mine |= pids
        groups[name] = ticks(pids)
        sys_ticks[name] = ticks(pids, 4)
    kthreads = set(p for p, v in pb.items() if v[1] == 2 or p == 2)
    groups["kthreads"] = ticks(kthreads)
    groups["wrk"] = wrk_secs * TICK
    other = max(0, busy - sum(groups.values()))
    pct = lambda t: 100.0 * t / total
    # The biggest other processes still alive at the end, by name, so a
    # shared machine shows who shared it.
    by_comm = {}
    for pid in set(pb) - mine - kthreads:
        t = ticks([pid])
        if t:
            by_comm[pb[pid][3]] = by_comm.get(pb[pid][3], 0) + t
    top = sorted(by_comm.items(), key=lambda kv: -kv[1])[:3]
    top_s = ";".join("%s:%.0f" % (c.replace(" ", "_"), pct(t)) for c, t in top if pct(t) >= 1)
    print("wrk %.0f nginx %.1f orchidd %.1f hello %.1f peer %.1f kthreads %.1f irq %.1f "
          "other %.0f idle %.0f iowait %.0f steal %.0f sys: nginx %.1f orchidd %.1f "
          "hello %.1f peer %.1f"
          % (pct(groups["wrk"]), pct(groups["nginx"]), pct(groups["orchidd"]),
             pct(groups["hello"]), pct(groups["peer"]), pct(groups["kthreads"]),
             pct(irq), pct(other), pct(idle), pct(iowait), pct(steal),
             pct(sys_ticks["nginx"]), pct(sys_ticks["orchidd"]),
             pct(sys_ticks["hello"]), pct(sys_ticks["peer"]))
          + (" others %s" % top_s if top_s else ""))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        snap(sys.argv[2])
    elif len(sys.argv) in (8, 9) and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3], float(sys.argv[4]),
             int(sys.argv[5] or 0), int(sys.argv[6] or 0), int(sys.argv[7] or 0),
             int(sys.argv[8] or 0) if len(sys.argv) == 9 else 0)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
