#!/usr/bin/env python3
"""sweep.py - fail every file system call of an ingest in turn.

Run by tests/cli/t_faults.sh in a fresh temporary directory:

    python3 sweep.py SHARDCTL INJECT_SO fast|full

For two scenarios, a new set and a re-ingest over a committed one, it runs
the ingest once under tests/fault/inject.so with SC_FAULT_TRACE to list
every write, fsync, rename, create (open with O_CREAT) and close it makes,
then runs it again once per chosen call with that call failing
(SC_FAULT_NTH, errno ENOSPC, EIO or EDQUOT in turn) and, in the full tier,
also with that call and every later one failing (SC_FAULT_FROM: a disk that
stays full). After each run it checks:

  - the exit status is 1 (0 only when the failed call is one shardctl may
    ignore: closing a descriptor it only read or the lock file, or a call
    after the commit point, the manifest's rename; the new set must then
    be complete), never a crash;
  - standard error is one line naming the failing file (its path, quoted)
    and the failing operation (write, fsync, rename, create, close) and
    the errno's text;
  - the set is exactly what it was: absent for a new set (no manifest, no
    shard or temporary file left), or the previous version for a re-ingest
    (manifest byte-identical, the same files on every node, `shardctl cat`
    byte-identical). The one exception is a failed fsync of the set root
    after the manifest's rename: the new version is visible then (with the
    previous generation's files kept, in case a crash loses the rename),
    and the message must say "committed, but";
  - a later clean ingest into the same root succeeds and gives the new
    records (every run in the full tier, every fourth in the fast one).

The fast tier fails the first call of each kind (class, function and path
with digits and the set id masked) and the last call of each class; the
full tier fails every call. Prints one summary line per scenario; exits 1
with the reasons on the first scenario that has failures.
"""
import os
import re
import shutil
import subprocess
import sys

SC, SO, TIER = sys.argv[1], sys.argv[2], sys.argv[3]
FULL = TIER == "full"
TOP = os.getcwd()
OPWORD = {"write": ("write",), "fsync": ("fsync", "fdatasync"), "rename": ("rename",),
          "open": ("create",), "close": ("close",)}
ERRNOS = ["ENOSPC", "EIO", "EDQUOT"]
STRERR = {"ENOSPC": "No space left on device", "EIO": "Input/output error",
          "EDQUOT": "Disk quota exceeded"}
# three shards on two nodes, two replicas, several frames each
INGEST = ["ingest", "--quiet", "--out", "set", "--node", "set/n0", "--node",
          "set/n1", "--replicas", "2", "--frame-size", "4K", "--shard-size",
          "12K", "--threads", "2"]


def base_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("SC_FAULT_"):
            del env[k]
    env.pop("LD_PRELOAD", None)
    # a sanitizer runtime must otherwise come first in the library list
    env["ASAN_OPTIONS"] = ":".join(
        x for x in [env.get("ASAN_OPTIONS", ""), "verify_asan_link_order=0"] if x)
    return env


def run(cwd, args, faults=None):
    env = base_env()
    if faults is not None:
        env["LD_PRELOAD"] = SO
        env.update(faults)
    p = subprocess.run([SC] + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def make_input(path, seed, n):
    with open(path, "w") as f:
        for i in range(n):
            x = (i * 2654435761 + seed) % 1000003
            f.write('{"text":"record %d of input %d: %d %d %d"}\n'
                    % (i, seed, x, x * 7 % 1009, x * 13 % 10007))


def tree(root):
    """Every file under root (relative path -> bytes), except the writer's
    own hidden files in the root (.lock, .set_id, a resume journal), which
    are not part of a version; temporaries (".tmp") are always listed."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)
            if rel.startswith(".") and "/" not in rel and ".tmp" not in rel:
                continue
            with open(p, "rb") as fh:
                out[rel] = fh.read()
    return out


def cat(cwd):
    rc, out, err = run(cwd, ["cat", "set"])
    return rc, out, err


def mask(path):
    path = re.sub(r"[0-9a-f]{32}", "ID", path)
    path = re.sub(r"tmp\.[0-9]+", "tmp.PID", path)
    return re.sub(r"[0-9]+", "N", path)


def read_calls(path):
    calls = []
    with open(path) as f:
        for line in f:
            k, op, fn, what, rest = line.rstrip("\n").split(" ", 4)
            src, _, dst = rest.partition(" -> ")
            calls.append({"k": int(k), "op": op, "fn": fn, "what": what,
                          "path": src, "to": dst})
    return calls


class Scenario:
    def __init__(self, name, inp, expected_new, base):
        self.name = name
        self.inp = inp                  # absolute input path
        self.expected_new = expected_new  # cat output after a good ingest
        self.base = base                # committed set root to start from, or None
        self.base_tree = tree(base) if base else None
        self.base_cat = None
        if base:
            self.base_cat = open(os.path.join(os.path.dirname(base), "cat.out"), "rb").read()
        self.errors = []
        self.runs = 0
        self.commit_k = 0               # the manifest's rename in the trace

    def fresh(self):
        work = os.path.join(TOP, "run-" + self.name)
        shutil.rmtree(work, ignore_errors=True)
        os.mkdir(work)
        if self.base:
            shutil.copytree(self.base, os.path.join(work, "set"), symlinks=True)
        return work

    def err(self, what):
        self.errors.append(what)

    def check_new_complete(self, work, label, gens_max=1):
        rc, out, err = cat(work)
        if rc != 0 or out != self.expected_new:
            self.err("%s: the set is not the new version (cat exit %d: %s)"
                     % (label, rc, err.strip()))
            return
        for d in ("n0", "n1"):
            node = os.path.join(work, "set", d)
            gens = [g for s in os.listdir(node)
                    for g in os.listdir(os.path.join(node, s))]
            if not 1 <= len(gens) <= gens_max:
                self.err("%s: node %s holds generations %s after a commit"
                         % (label, d, sorted(gens)))
        left = [p for p in tree(os.path.join(work, "set")) if ".tmp" in p]
        if left:
            self.err("%s: temporaries left: %s" % (label, left))

    def check_unchanged(self, work, label):
        root = os.path.join(work, "set")
        if not self.base:
            if os.path.exists(os.path.join(root, "manifest.json")):
                self.err("%s: a failed first ingest committed a manifest" % label)
            left = [p for p in tree(root) if p.endswith(".zst") or ".tmp" in p]
            if left:
                self.err("%s: files left behind: %s" % (label, left))
            rc, out, err = cat(work)
            if rc != 1 or out:
                self.err("%s: cat of the absent set: exit %d, %d bytes" % (label, rc, len(out)))
            return
        now = tree(root)
        if now != self.base_tree:
            added = sorted(set(now) - set(self.base_tree))
            gone = sorted(set(self.base_tree) - set(now))
            changed = sorted(p for p in now if p in self.base_tree and now[p] != self.base_tree[p])
            self.err("%s: the previous version changed: added %s, removed %s, changed %s"
                     % (label, added, gone, changed))
        rc, out, err = cat(work)
        if rc != 0 or out != self.base_cat:
            self.err("%s: cat of the previous version: exit %d, %s" % (label, rc,
                     "same bytes" if out == self.base_cat else "different bytes"))

    def trace(self):
        work = self.fresh()
        tf = os.path.join(TOP, "trace-" + self.name)
        if os.path.exists(tf):
            os.remove(tf)
        rc, _, err = run(work, INGEST + [self.inp], {"SC_FAULT_TRACE": tf})
        if rc != 0:
            sys.exit("%s: clean ingest under the shim failed (exit %d): %s" % (self.name, rc, err))
        self.check_new_complete(work, "%s clean" % self.name)
        calls = read_calls(tf)
        commits = [c["k"] for c in calls if c["op"] == "rename" and
                   c["to"] == os.path.join(work, "set", "manifest.json")]
        if len(commits) != 1:
            sys.exit("%s: want one rename onto the manifest in the trace, got %d"
                     % (self.name, len(commits)))
        self.commit_k = commits[0]
        return calls

    def one(self, call, mode, e, clean_after):
        """Fail call (mode NTH) or it and all after it (mode FROM)."""
        k = call["k"]
        label = "%s %s=%d (%s %s %s)" % (self.name, mode, k, call["fn"], e,
                                         os.path.relpath(call["path"], TOP))
        work = self.fresh()
        log = os.path.join(TOP, "log-" + self.name)
        if os.path.exists(log):
            os.remove(log)
        rc, _, err = run(work, INGEST + [self.inp],
                         {"SC_FAULT_" + mode: str(k), "SC_FAULT_ERRNO": e,
                          "SC_FAULT_LOG": log})
        self.runs += 1
        injected = read_calls(log) if os.path.exists(log) else []
        if not injected or injected[0]["k"] != k or mask(injected[0]["path"]) != mask(call["path"]):
            self.err("%s: call %d was not the traced one (run order not deterministic?): %s"
                     % (label, k, injected[:1]))
            return
        lines = [l for l in err.split("\n") if l]
        if rc == 0:
            # what a finished ingest may shrug off: closing what it only
            # read or its lock, and anything after the commit point (the
            # manifest's rename), which cannot take the commit back
            def shrug(c):
                return (c["fn"] == "close:r" or c["path"].endswith("/.lock") or
                        c["k"] > self.commit_k)
            ignorable = shrug(call)
            if mode == "FROM":
                ignorable = all(shrug(c) for c in injected)
            if not ignorable:
                self.err("%s: exit 0 although the failure cannot be ignored" % label)
            if lines:
                self.err("%s: exit 0 with messages: %s" % (label, lines))
            self.check_new_complete(work, label)
        elif rc != 1:
            self.err("%s: exit %d (want 1): %s" % (label, rc, err.strip()[-300:]))
            return
        else:
            if len(lines) != 1 or not lines[0].startswith("shardctl: ingest failed: "):
                self.err("%s: want one line 'shardctl: ingest failed: ...', got %s" % (label, lines))
            msg = lines[-1] if lines else ""
            named = False
            for c in injected:
                if c["fn"] == "close:r":
                    continue  # ignored, then a later failure reported
                rel = os.path.relpath(c["path"], work)
                quoted = ("'%s'" % rel in msg or "/%s'" % rel in msg or
                          "'%s'" % c["path"] in msg)
                if quoted and any(w in msg for w in OPWORD[c["op"]]) and STRERR[e] in msg:
                    named = True
                    break
            if not named:
                self.err("%s: message does not name the file, '%s' and '%s': %s"
                         % (label, OPWORD[call["op"]][0], STRERR[e], msg))
            if "committed, but" in msg:
                # only a failed fsync of the root after the rename may leave
                # the new manifest in place
                if call["op"] != "fsync" or os.path.relpath(call["path"], work) != "set":
                    self.err("%s: 'committed' after a failure that is not the "
                             "root's final fsync: %s" % (label, msg))
                # the previous generation stays: should the rename be lost
                # in a crash, the old manifest still finds its shards
                self.check_new_complete(work, label, 2)
            else:
                self.check_unchanged(work, label)
        if clean_after:
            rc, _, err = run(work, INGEST + [self.inp])
            if rc != 0:
                self.err("%s: the clean ingest after it failed (exit %d): %s"
                         % (label, rc, err.strip()))
            else:
                self.check_new_complete(work, label + " then clean")


def choose(calls):
    if FULL:
        return calls
    seen, pick = set(), []
    for c in calls:
        key = (c["op"], c["fn"], mask(c["path"]))
        if key not in seen:
            seen.add(key)
            pick.append(c)
    last = {}
    for c in calls:
        last[c["op"]] = c
    for c in last.values():
        if c not in pick:
            pick.append(c)
    return sorted(pick, key=lambda c: c["k"])


def main():
    make_input(os.path.join(TOP, "a.jsonl"), 1, 600)
    make_input(os.path.join(TOP, "b.jsonl"), 2, 700)
    expected = {}
    for n in ("a", "b"):
        d = os.path.join(TOP, "good-" + n)
        os.mkdir(d)
        rc, _, err = run(d, INGEST + [os.path.join(TOP, n + ".jsonl")])
        if rc:
            sys.exit("clean ingest of %s failed: %s" % (n, err))
        rc, out, err = cat(d)
        if rc:
            sys.exit("cat of %s failed: %s" % (n, err))
        expected[n] = out
        with open(os.path.join(d, "cat.out"), "wb") as f:
            f.write(out)
    scenarios = [
        Scenario("new", os.path.join(TOP, "a.jsonl"), expected["a"], None),
        Scenario("reingest", os.path.join(TOP, "b.jsonl"), expected["b"],
                 os.path.join(TOP, "good-a", "set")),
    ]
    failed = False
    for sc in scenarios:
        calls = sc.trace()
        pick = choose(calls)
        by_op = {}
        for c in calls:
            by_op[c["op"]] = by_op.get(c["op"], 0) + 1
        for i, c in enumerate(pick):
            e = ERRNOS[i % len(ERRNOS)]
            sc.one(c, "NTH", e, FULL or i % 4 == 0)
            if FULL:
                sc.one(c, "FROM", ERRNOS[(i + 1) % len(ERRNOS)], True)
        print("faults %s: %d calls (%s), %d failed one at a time%s, %d runs, %d problems"
              % (sc.name, len(calls), ", ".join("%s %d" % kv for kv in sorted(by_op.items())),
                 len(pick), " and from there on" if FULL else "", sc.runs, len(sc.errors)))
        for e in sc.errors[:30]:
            print("  " + e)
        failed = failed or bool(sc.errors)
    sys.exit(1 if failed else 0)


main()
