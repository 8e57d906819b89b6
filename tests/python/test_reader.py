"""Tests of the ctypes binding (python/shardctl) against `shardctl cat`.

Run through tests/python/run.sh (it builds the sets); plain unittest:
    SHARDCTL=... SHARDCTL_LIB=... SHARDCTL_TEST_DIR=... python3 -m unittest test_reader
"""

import collections
import ctypes
import os
import shutil
import subprocess
import threading
import unittest
import warnings

import common
from common import cat, set_path, shardctl

WORLDS = (2, 3, 4, 7)


def setUpModule():
    common.setup_module()


def read_all(path, **kw):
    with shardctl.open_reader(path, **kw) as r:
        return list(r)


class Layout(unittest.TestCase):
    """The ctypes mirror of struct sc_reader_opts against the C header."""

    def test_opts_init_agrees(self):
        lib = shardctl._load()
        o = shardctl.ReaderOpts()
        lib.sc_reader_opts_init(ctypes.byref(o))
        self.assertEqual(o.struct_size, ctypes.sizeof(shardctl.ReaderOpts))
        self.assertEqual((o.world, o.workers, o.register_buffers), (1, 1, 1))
        self.assertEqual((o.shuffle, o.seed, o.epoch, o.rank, o.worker, o.threads), (0,) * 6)

    def test_offsets_match_header(self):
        cc = shutil.which(os.environ.get("CC", "cc"))
        if not cc:
            self.skipTest("no C compiler to check offsetof() against the header")
        d = common.tempdir(self)
        structs = {"sc_reader_opts": shardctl.ReaderOpts, "sc_records": shardctl.Records,
                   "sc_reader_stats": shardctl.ReaderStats}
        lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "shardctl.h"',
                 "int main(void) {"]
        for cname, py in structs.items():
            lines.append(f'printf("{cname} size %zu\\n", sizeof(struct {cname}));')
            for f, _ in py._fields_:
                lines.append(f'printf("{cname} {f} %zu %zu\\n", offsetof(struct {cname}, {f}), '
                             f"sizeof(((struct {cname} *)0)->{f}));")
        lines.append("return 0; }")
        src = os.path.join(d, "layout.c")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        exe = os.path.join(d, "layout")
        subprocess.run([cc, "-std=gnu11", "-I", os.path.join(common.REPO, "include"), "-o", exe,
                        src], check=True)
        out = subprocess.run([exe], stdout=subprocess.PIPE, check=True).stdout.decode()
        want = {}
        for cname, py in structs.items():
            want[(cname, "size")] = str(ctypes.sizeof(py))
            for f, t in py._fields_:
                want[(cname, f)] = f"{getattr(py, f).offset} {ctypes.sizeof(t)}"
        got = {}
        for line in out.splitlines():
            parts = line.split(" ", 2)
            got[(parts[0], parts[1])] = parts[2]
        self.assertEqual(got, want)


class Sequential(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")
        cls.ref = cat(cls.path)

    def test_set_shape(self):
        # many frames and shards, and an N no world size divides
        self.assertEqual(len(self.ref), 3001)
        self.assertGreater(len(common.shard_files(self.path)), 20)

    def test_equals_cat(self):
        with shardctl.open_reader(self.path) as r:
            self.assertEqual(len(r), len(self.ref))
            self.assertEqual(r.position, 0)
            got = list(r)
            self.assertEqual(r.position, len(self.ref))
            self.assertIn(r.backend, ("io_uring", "pread"))
            st = r.stats()
        self.assertEqual(got, self.ref)
        self.assertTrue(all(type(x) is bytes for x in got))
        self.assertEqual(set(st), {"frames_read", "bytes_stored", "bytes_raw", "uring_reads",
                                   "fixed_reads", "failovers", "peak_buffered"})
        self.assertGreater(st["frames_read"], 50)
        self.assertEqual(st["bytes_raw"], sum(len(x) + 1 for x in self.ref))
        self.assertEqual(st["failovers"], 0)

    def test_pathlike_and_bytes_path(self):
        import pathlib

        self.assertEqual(read_all(pathlib.Path(self.path)), self.ref)
        self.assertEqual(read_all(os.fsencode(self.path)), self.ref)

    def test_resources_do_not_change_output(self):
        for kw in ({"threads": 4}, {"io": "pread"}, {"prefetch_bytes": 1 << 20, "queue_depth": 1},
                   {"threads": 3, "queue_depth": 2, "register_buffers": False}):
            with self.subTest(**kw):
                self.assertEqual(read_all(self.path, **kw), self.ref)

    def test_direct_io(self):
        try:
            got = read_all(self.path, direct=True, io="pread")
        except shardctl.Error as e:  # a file system without O_DIRECT (tmpfs)
            self.assertIn("shard", str(e))
            self.skipTest(f"O_DIRECT not supported here: {e}")
        self.assertEqual(got, self.ref)

    def test_batches(self):
        for max_records, max_bytes in ((1, 1 << 20), (7, 1 << 20), (4096, 8 << 20),
                                       (1000, 3000), (100000, 1)):
            with self.subTest(max_records=max_records, max_bytes=max_bytes):
                with shardctl.open_reader(self.path) as r:
                    bs = list(r.batches(max_records=max_records, max_bytes=max_bytes))
                    self.assertEqual(r.position, len(self.ref))
                self.assertEqual([x for b in bs for x in b], self.ref)
                for b in bs:
                    self.assertGreaterEqual(len(b), 1)
                    self.assertLessEqual(len(b), max_records)
                    # it stops once max_bytes is reached: all but the last
                    # record fit below it
                    self.assertLess(sum(map(len, b[:-1])), max_bytes)
                for b in bs[:-1]:
                    self.assertTrue(len(b) == max_records or sum(map(len, b)) >= max_bytes)

    def test_iterator_then_batches(self):
        with shardctl.open_reader(self.path) as r:
            head = [next(r) for _ in range(10)]
            self.assertEqual(r.position, 10)
            rest = [x for b in r.batches(max_records=500) for x in b]
            self.assertEqual(list(r), [])
        self.assertEqual(head + rest, self.ref)

    def test_exhausted_stays_exhausted(self):
        with shardctl.open_reader(self.path) as r:
            self.assertEqual(len(list(r)), len(self.ref))
            self.assertEqual(list(r), [])
            self.assertRaises(StopIteration, next, r)
            self.assertEqual(list(r.batches()), [])

    def test_parallel_readers_in_threads(self):
        results = [None] * 4

        def run(i):
            results[i] = read_all(self.path, shuffle=bool(i % 2), seed=5)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results[0], self.ref)
        self.assertEqual(results[2], self.ref)
        self.assertEqual(results[1], results[3])
        self.assertEqual(sorted(results[1]), sorted(self.ref))

    def test_empty_and_tiny_sets(self):
        self.assertEqual(read_all(set_path("empty")), [])
        with shardctl.open_reader(set_path("empty"), shuffle=True) as r:
            self.assertEqual(len(r), 0)
            self.assertEqual(list(r), [])
            st = r.state()
        self.assertEqual(read_all(set_path("empty"), shuffle=True, resume=st), [])
        tiny = cat(set_path("tiny"))
        self.assertEqual(len(tiny), 3)
        self.assertEqual(read_all(set_path("tiny")), tiny)
        # N < world: drop gives every rank nothing, pad one record each
        for rank in range(5):
            self.assertEqual(read_all(set_path("tiny"), rank=rank, world=5), [])
            got = read_all(set_path("tiny"), rank=rank, world=5, remainder="pad")
            self.assertEqual(len(got), 1)
            self.assertIn(got[0], tiny)

    def test_context_manager_and_close(self):
        r = shardctl.open_reader(self.path)
        with r:
            next(r)
        self.assertTrue(r.closed)
        r.close()  # idempotent
        for f in (lambda: next(r), lambda: len(r), r.state, r.stats, lambda: r.position,
                  lambda: r.backend, lambda: list(r.batches())):
            with self.assertRaisesRegex(shardctl.Error, "closed"):
                f()


class Shuffled(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")
        cls.ref = cat(cls.path)

    def test_permutation_deterministic(self):
        a = read_all(self.path, shuffle=True, seed=11, epoch=0)
        self.assertEqual(collections.Counter(a), collections.Counter(self.ref))
        self.assertNotEqual(a, self.ref)
        self.assertEqual(read_all(self.path, shuffle=True, seed=11, epoch=0), a)
        b = read_all(self.path, shuffle=True, seed=11, epoch=1)
        c = read_all(self.path, shuffle=True, seed=12, epoch=0)
        self.assertEqual(sorted(b), sorted(self.ref))
        self.assertNotEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertNotEqual(b, c)

    def test_same_as_cat(self):
        for seed, epoch in ((0, 0), (7, 3)):
            with self.subTest(seed=seed, epoch=epoch):
                self.assertEqual(read_all(self.path, shuffle=True, seed=seed, epoch=epoch),
                                 cat(self.path, "--shuffle", "--seed", seed, "--epoch", epoch))
        self.assertEqual(read_all(self.path, shuffle=True, seed=3, window=2, buffer=50),
                         cat(self.path, "--shuffle", "--seed", 3, "--window", 2, "--buffer", 50))

    def test_independent_of_resources_and_batches(self):
        want = read_all(self.path, shuffle=True, seed=99, epoch=2)
        for kw in ({"threads": 4}, {"io": "pread"}, {"prefetch_bytes": 1 << 20, "queue_depth": 1}):
            with self.subTest(**kw):
                self.assertEqual(read_all(self.path, shuffle=True, seed=99, epoch=2, **kw), want)
        with shardctl.open_reader(self.path, shuffle=True, seed=99, epoch=2) as r:
            got = [x for b in r.batches(max_records=13, max_bytes=5000) for x in b]
        self.assertEqual(got, want)

    def test_window_buffer_shape_order(self):
        a = read_all(self.path, shuffle=True, seed=1, window=1, buffer=1)
        b = read_all(self.path, shuffle=True, seed=1, window=64, buffer=16384)
        self.assertEqual(sorted(a), sorted(self.ref))
        self.assertEqual(sorted(b), sorted(self.ref))
        self.assertNotEqual(a, b)


class Partition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")
        cls.ref = cat(cls.path)
        cls.n = len(cls.ref)

    def ranks(self, world, **kw):
        out = []
        for rank in range(world):
            with shardctl.open_reader(self.path, rank=rank, world=world, **kw) as r:
                recs = list(r)
                self.assertEqual(len(r), len(recs))
            out.append(recs)
        return out

    def test_drop(self):
        all_ = collections.Counter(self.ref)
        for shuffle in (False, True):
            for world in WORLDS:
                with self.subTest(shuffle=shuffle, world=world):
                    parts = self.ranks(world, shuffle=shuffle, seed=4, epoch=1)
                    self.assertEqual({len(p) for p in parts}, {self.n // world})
                    union = collections.Counter()
                    for p in parts:
                        union.update(p)
                    self.assertEqual(max(union.values()), 1, "ranks overlap")
                    self.assertFalse(union - all_, "records not in the set")
                    self.assertLessEqual(self.n - sum(union.values()), world - 1)
                    self.assertEqual(self.n - sum(union.values()), self.n % world)

    def test_pad(self):
        all_ = set(self.ref)
        for shuffle in (False, True):
            for world in WORLDS:
                with self.subTest(shuffle=shuffle, world=world):
                    parts = self.ranks(world, shuffle=shuffle, seed=4, remainder="pad")
                    m = -(-self.n // world)
                    self.assertEqual({len(p) for p in parts}, {m})
                    union = collections.Counter()
                    for p in parts:
                        union.update(p)
                    self.assertEqual(set(union), all_)
                    self.assertEqual(sum(union.values()) - self.n, m * world - self.n)

    def test_same_as_cat(self):
        for rank in range(3):
            self.assertEqual(read_all(self.path, rank=rank, world=3, shuffle=True, seed=8),
                             cat(self.path, "--rank", rank, "--world", 3, "--shuffle", "--seed", 8))
        self.assertEqual(read_all(self.path, rank=1, world=4, worker=2, workers=3, remainder="pad"),
                         cat(self.path, "--rank", 1, "--world", 4, "--worker", 2, "--workers", 3,
                             "--remainder", "pad"))

    def test_workers_split_a_rank(self):
        for shuffle in (False, True):
            for remainder in ("drop", "pad"):
                with self.subTest(shuffle=shuffle, remainder=remainder):
                    kw = dict(shuffle=shuffle, seed=2, rank=1, world=3, remainder=remainder)
                    rank_recs = read_all(self.path, **kw)
                    parts = [read_all(self.path, worker=w, workers=4, **kw) for w in range(4)]
                    lens = [len(p) for p in parts]
                    self.assertLessEqual(max(lens) - min(lens), 1)
                    self.assertEqual(sum(lens), len(rank_recs))
                    self.assertEqual(collections.Counter(x for p in parts for x in p),
                                     collections.Counter(rank_recs))


class Resume(unittest.TestCase):
    KS = (0, 1, 7, 99, 1000, 2047, 2999, 3000)

    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")

    def check(self, ks, **kw):
        ref = read_all(self.path, **kw)
        for k in ks:
            if k > len(ref):
                continue
            with self.subTest(k=k, **kw):
                with shardctl.open_reader(self.path, **kw) as r:
                    head = [next(r) for _ in range(k)]
                    self.assertEqual(r.position, k)
                    st = r.state()
                    self.assertIsInstance(st, bytes)
                    # the state does not move the reader
                    tail_here = list(r)
                self.assertEqual(head + tail_here, ref)
                with shardctl.open_reader(self.path, resume=st, **kw) as r2:
                    self.assertEqual(r2.position, k)
                    self.assertEqual(len(r2), len(ref))
                    rest = list(r2)
                self.assertEqual(rest, ref[k:])

    def test_sequential(self):
        self.check(self.KS)

    def test_shuffled(self):
        self.check(self.KS, shuffle=True, seed=5, epoch=3)
        self.check((0, 13, 500), shuffle=True, seed=5, window=2, buffer=64)

    def test_partitioned(self):
        self.check((0, 1, 333, 999), shuffle=True, seed=1, rank=2, world=3, remainder="pad")
        self.check((0, 250, 374), rank=1, world=4, worker=1, workers=2)
        self.check((0, 100), shuffle=True, rank=1, world=4, worker=1, workers=2, remainder="pad")

    def test_iterator_batches_are_small(self):
        # iterate in small batches: states taken on and off batch boundaries
        ref = read_all(self.path, shuffle=True, seed=9)

        class Small(shardctl.Reader):
            ITER_MAX_RECORDS = 10

        for k in (9, 10, 11, 25):
            with Small(self.path, shuffle=True, seed=9) as r:
                for _ in range(k):
                    next(r)
                st = r.state()
            self.assertEqual(read_all(self.path, shuffle=True, seed=9, resume=st), ref[k:])

    def test_after_batches(self):
        ref = read_all(self.path, shuffle=True, seed=3)
        with shardctl.open_reader(self.path, shuffle=True, seed=3) as r:
            it = r.batches(max_records=100)
            got = next(it) + next(it)
            st = r.state()
        self.assertEqual(got, ref[:200])
        self.assertEqual(read_all(self.path, shuffle=True, seed=3, resume=st), ref[200:])
        # then via the iterator, mid batch
        with shardctl.open_reader(self.path, shuffle=True, seed=3, resume=st) as r:
            for _ in range(50):
                next(r)
            st2 = r.state()
        self.assertEqual(read_all(self.path, shuffle=True, seed=3, resume=st2), ref[250:])

    def test_chain_of_resumes(self):
        ref = read_all(self.path, shuffle=True, seed=21, epoch=4)
        got, st = [], None
        for step in (1, 5, 400, 3, 1000, 10000):
            with shardctl.open_reader(self.path, shuffle=True, seed=21, epoch=4, resume=st) as r:
                for _ in range(step):
                    try:
                        got.append(next(r))
                    except StopIteration:
                        break
                st = r.state()
        self.assertEqual(got, ref)

    def test_resources_may_change(self):
        ref = read_all(self.path, shuffle=True, seed=6)
        with shardctl.open_reader(self.path, shuffle=True, seed=6, threads=4) as r:
            for _ in range(777):
                next(r)
            st = r.state()
        self.assertEqual(read_all(self.path, shuffle=True, seed=6, io="pread", threads=1,
                                  resume=st), ref[777:])


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")

    def test_missing_set(self):
        missing = os.path.join(common.TEST_DIR, "no-such.set")
        with self.assertRaises(shardctl.Error) as cm:
            shardctl.open_reader(missing)
        self.assertIn("no-such.set", str(cm.exception))
        self.assertIsInstance(cm.exception.code, int)
        self.assertLess(cm.exception.code, 0)

    def test_bad_options(self):
        cases = [
            (dict(world=0), "world"),
            (dict(rank=2, world=2), "rank"),
            (dict(worker=3, workers=3), "worker"),
            (dict(workers=0), "worker"),
            (dict(remainder="most"), "remainder"),
            (dict(io="aio"), "io"),
            (dict(threads=-1), "threads"),
            (dict(threads=100000), "threads"),
            (dict(queue_depth=5000), "queue depth"),
            (dict(seed=-1), "seed"),
            (dict(seed=1 << 64), "seed"),
            (dict(rank="0"), "rank"),
            (dict(epoch=1.5), "epoch"),
            (dict(resume="state"), "resume"),
        ]
        for kw, word in cases:
            with self.subTest(**{k: repr(v) for k, v in kw.items()}):
                with self.assertRaises(shardctl.Error) as cm:
                    shardctl.open_reader(self.path, **kw)
                self.assertIn(word, str(cm.exception))

    def test_bad_batch_arguments(self):
        with shardctl.open_reader(self.path) as r:
            with self.assertRaisesRegex(shardctl.Error, "max_records"):
                next(r.batches(max_records=-1))
            with self.assertRaisesRegex(shardctl.Error, "max_bytes"):
                next(r.batches(max_bytes=-5))

    def state(self, k=10, **kw):
        with shardctl.open_reader(self.path, **kw) as r:
            for _ in range(k):
                next(r)
            return r.state()

    def test_corrupt_resume_state(self):
        st = self.state(shuffle=True, seed=1)
        bad = bytearray(st)
        bad[60] ^= 1
        with self.assertRaisesRegex(shardctl.Error, "resume state: checksum"):
            shardctl.open_reader(self.path, shuffle=True, seed=1, resume=bytes(bad))
        with self.assertRaisesRegex(shardctl.Error, "resume state: .*bytes"):
            shardctl.open_reader(self.path, shuffle=True, seed=1, resume=st[:-1])
        with self.assertRaisesRegex(shardctl.Error, "resume state"):
            shardctl.open_reader(self.path, shuffle=True, seed=1, resume=b"")
        with self.assertRaisesRegex(shardctl.Error, "resume state"):
            shardctl.open_reader(self.path, shuffle=True, seed=1, resume=b"\0" * len(st))

    def test_resume_with_other_options(self):
        st = self.state(shuffle=True, seed=1)
        for kw in (dict(shuffle=True, seed=2), dict(shuffle=True, seed=1, epoch=1),
                   dict(shuffle=False, seed=1), dict(shuffle=True, seed=1, rank=0, world=2),
                   dict(shuffle=True, seed=1, buffer=10)):
            with self.subTest(**kw):
                with self.assertRaisesRegex(shardctl.Error, "other options"):
                    shardctl.open_reader(self.path, resume=st, **kw)
        with self.assertRaisesRegex(shardctl.Error, "another set"):
            shardctl.open_reader(set_path("tiny"), shuffle=True, seed=1, resume=st)

    def test_bad_library_path(self):
        code = ("import sys; sys.path.insert(0, %r)\n"
                "import shardctl\n"
                "try:\n"
                "    shardctl.open_reader('x')\n"
                "except shardctl.Error as e:\n"
                "    print('ERR', e)\n") % os.path.join(common.REPO, "python")
        env = dict(os.environ, SHARDCTL_LIB="/nonexistent/libshardctl.so")
        p = subprocess.run([os.sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, check=False)
        out = p.stdout.decode()
        self.assertIn("ERR libshardctl not found", out)
        self.assertIn("/nonexistent/libshardctl.so", out)


class Damage(unittest.TestCase):
    """Bad replicas: failover with a warning; none good: an error."""

    def make(self, replicas):
        d = common.tempdir(self)
        root = os.path.join(d, "s.set")
        nodes = []
        for i in range(max(replicas, 1)):
            nodes += ["--node", os.path.join(d, f"node{i}")]
        common.ingest(root, [common.jsonl_path("main")], "--frame-size", "4K",
                      "--shard-size", "16K", "--replicas", str(replicas), *nodes)
        return root

    @staticmethod
    def flip(path, at=200):
        with open(path, "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x55]))

    def test_failover_warns(self):
        root = self.make(2)
        ref = cat(set_path("main"))
        shard = common.shard_files(root)[3]
        self.flip(shard[0])  # inside the shard's first frame
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with shardctl.open_reader(root) as r:
                got = list(r)
                st = r.stats()
        self.assertEqual(got, ref)
        self.assertGreaterEqual(st["failovers"], 1)
        msgs = [str(x.message) for x in w if issubclass(x.category, shardctl.ShardctlWarning)]
        self.assertTrue(msgs, "no ShardctlWarning for the bad replica")
        self.assertTrue(any(os.path.basename(shard[0]) in m or "frame" in m for m in msgs), msgs)

    def test_failover_warning_as_error(self):
        root = self.make(2)
        self.flip(common.shard_files(root)[0][0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", shardctl.ShardctlWarning)
            with shardctl.open_reader(root, io="pread") as r:
                with self.assertRaises(shardctl.ShardctlWarning):
                    list(r)

    def test_no_good_replica(self):
        root = self.make(1)
        shard = common.shard_files(root)[5]
        self.flip(shard[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", shardctl.ShardctlWarning)
            with shardctl.open_reader(root) as r:
                with self.assertRaises(shardctl.Error) as cm:
                    for _ in r:
                        pass
        msg = str(cm.exception)
        self.assertIn("shard", msg)
        self.assertIn("frame", msg)
        self.assertIn(os.path.basename(shard[0]), msg)

    def test_missing_shard_file(self):
        root = self.make(1)
        shard = common.shard_files(root)[2][0]
        os.unlink(shard)
        with self.assertRaises(shardctl.Error) as cm:
            shardctl.open_reader(root)
        self.assertIn(os.path.basename(shard), str(cm.exception))


class Backend(unittest.TestCase):
    def test_pread(self):
        with shardctl.open_reader(set_path("main"), io="pread") as r:
            self.assertEqual(r.backend, "pread")
            list(r)
            self.assertEqual(r.stats()["uring_reads"], 0)

    def test_uring_or_error(self):
        try:
            r = shardctl.open_reader(set_path("main"), io="uring")
        except shardctl.Error as e:
            self.assertIn("io_uring", str(e))
            return
        with r:
            self.assertEqual(r.backend, "io_uring")
            self.assertEqual(list(r), cat(set_path("main")))
            self.assertGreater(r.stats()["uring_reads"], 0)

    def test_fallback_warns(self):
        old = os.environ.get("SHARDCTL_NO_URING")
        os.environ["SHARDCTL_NO_URING"] = "1"
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                with shardctl.open_reader(set_path("main"), io="auto") as r:
                    self.assertEqual(r.backend, "pread")
        finally:
            if old is None:
                del os.environ["SHARDCTL_NO_URING"]
            else:
                os.environ["SHARDCTL_NO_URING"] = old
        msgs = [str(x.message) for x in w if issubclass(x.category, shardctl.ShardctlWarning)]
        self.assertEqual(len(msgs), 1, msgs)
        self.assertIn("io_uring", msgs[0])


if __name__ == "__main__":
    unittest.main()
