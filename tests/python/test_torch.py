"""Tests of shardctl.torch.ShardDataset with a real DataLoader.

Needs PyTorch (Debian: python3-torch, seen by /usr/bin/python3). Run as a
script it exits 77 when torch cannot be imported; under unittest the
module is skipped.
"""

import collections
import json
import sys
import unittest

try:
    import torch
    import torch.utils.data
    from torch.utils.data import DataLoader
except ImportError as e:  # depends on the machine
    torch = None
    TORCH_ERROR = f"cannot import torch with {sys.executable}: {e}"
    if __name__ == "__main__":
        print(f"SKIP torch: {TORCH_ERROR}")
        sys.exit(77)

import common
from common import cat, set_path, shardctl

if torch is not None:
    from shardctl.torch import ShardDataset


def setUpModule():
    if torch is None:
        raise unittest.SkipTest(TORCH_ERROR)
    common.setup_module()


def load(ds, workers=2, batch_size=None):
    if batch_size is None:
        dl = DataLoader(ds, batch_size=None, num_workers=workers)
        return list(dl)
    # a collate that keeps the bytes as a list
    dl = DataLoader(ds, batch_size=batch_size, num_workers=workers, collate_fn=list)
    out = []
    for b in dl:
        assert isinstance(b, list) and 1 <= len(b) <= batch_size
        out.extend(b)
    return out


class Loader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = set_path("main")
        cls.ref = cat(cls.path)
        cls.all = collections.Counter(cls.ref)

    def test_every_record_once_per_epoch(self):
        ds = ShardDataset(self.path, shuffle=True, seed=3)
        self.assertEqual(len(ds), len(self.ref))
        orders = []
        for epoch in range(3):
            ds.set_epoch(epoch)
            got = load(ds)
            self.assertEqual(len(got), len(self.ref))
            self.assertEqual(collections.Counter(got), self.all)
            self.assertTrue(all(type(x) is bytes for x in got))
            orders.append(got)
        self.assertNotEqual(orders[0], orders[1])
        self.assertNotEqual(orders[1], orders[2])
        # the same seed and epoch: the same sequence, in a new dataset too
        ds2 = ShardDataset(self.path, shuffle=True, seed=3)
        ds2.set_epoch(1)
        self.assertEqual(load(ds2), orders[1])
        # another seed: another order
        ds3 = ShardDataset(self.path, shuffle=True, seed=4)
        ds3.set_epoch(1)
        self.assertNotEqual(load(ds3), orders[1])

    def test_workers_interleave_reader_parts(self):
        # the DataLoader takes from its workers round-robin: worker k's
        # records are its reader's part, in order
        ds = ShardDataset(self.path, shuffle=True, seed=8, epoch=2)
        got = load(ds, workers=2)
        parts = [list(shardctl.open_reader(self.path, shuffle=True, seed=8, epoch=2,
                                           worker=w, workers=2)) for w in range(2)]
        want = []
        for i in range(max(map(len, parts))):
            want.extend(p[i] for p in parts if i < len(p))
        self.assertEqual(got, want)

    def test_batched_with_collate(self):
        ds = ShardDataset(self.path, shuffle=True, seed=5)
        got = load(ds, workers=2, batch_size=16)
        self.assertEqual(collections.Counter(got), self.all)
        self.assertEqual(sorted(got), sorted(load(ds, workers=3, batch_size=7)))

    def test_sequential_no_workers(self):
        ds = ShardDataset(self.path)
        self.assertEqual(load(ds, workers=0), self.ref)
        self.assertEqual(list(ds), self.ref)

    def test_transform(self):
        ds = ShardDataset(self.path, transform=json.loads)
        got = load(ds, workers=2)
        self.assertEqual(sorted(d["id"] for d in got), sorted(json.loads(x)["id"] for x in self.ref))

    def test_world_two(self):
        for remainder in ("drop", "pad"):
            with self.subTest(remainder=remainder):
                seen, lens = [], []
                for rank in range(2):
                    ds = ShardDataset(self.path, shuffle=True, seed=1, epoch=7,
                                      remainder=remainder, rank=rank, world=2)
                    got = load(ds, workers=2)
                    self.assertEqual(len(got), len(ds))
                    seen.append(got)
                    lens.append(len(got))
                self.assertEqual(lens[0], lens[1])
                n = len(self.ref)
                union = collections.Counter(seen[0]) + collections.Counter(seen[1])
                if remainder == "drop":
                    self.assertEqual(lens[0], n // 2)
                    self.assertEqual(max(union.values()), 1)
                    self.assertFalse(union - self.all)
                    self.assertEqual(n - sum(union.values()), n % 2)
                else:
                    self.assertEqual(lens[0], -(-n // 2))
                    self.assertEqual(set(union), set(self.all))

    def test_torch_distributed_detected(self):
        import torch.distributed as dist

        if not dist.is_available():
            self.skipTest("torch.distributed is not available in this build")
        d = common.tempdir(self)
        ds = ShardDataset(self.path, shuffle=True, seed=2)
        self.assertEqual(ds.rank_world(), (0, 1))
        # a one-process gloo group (file rendezvous: no network)
        dist.init_process_group("gloo", init_method="file://" + d + "/rendezvous",
                                rank=0, world_size=1)
        try:
            self.assertEqual(ds.rank_world(), (dist.get_rank(), dist.get_world_size()))
            self.assertEqual(len(ds), len(self.ref))
            self.assertEqual(sorted(load(ds, workers=2)), sorted(self.ref))
            # explicit rank/world win over torch.distributed
            ds2 = ShardDataset(self.path, rank=1, world=3)
            self.assertEqual(ds2.rank_world(), (1, 3))
            self.assertEqual(len(ds2), len(self.ref) // 3)
        finally:
            dist.destroy_process_group()

    def test_rank_world_both_or_neither(self):
        with self.assertRaises(ValueError):
            ShardDataset(self.path, rank=0)
        with self.assertRaises(ValueError):
            ShardDataset(self.path, world=2)

    def test_errors_reach_the_loader(self):
        ds = ShardDataset(set_path("no-such"))
        with self.assertRaises(Exception) as cm:
            load(ds, workers=0)
        self.assertIsInstance(cm.exception, shardctl.Error)
        with self.assertRaises(Exception) as cm:
            load(ds, workers=2)  # re-raised by the DataLoader from the worker
        self.assertIn("no-such", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
