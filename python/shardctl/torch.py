"""PyTorch glue: a shard set as a ``torch.utils.data.IterableDataset``.

    from shardctl.torch import ShardDataset

    ds = ShardDataset("corpus.set", shuffle=True, seed=1, transform=json.loads)
    loader = DataLoader(ds, batch_size=None, num_workers=4)
    for epoch in range(10):
        ds.set_epoch(epoch)          # before iter(loader): see below
        for rec in loader:
            ...

Partitioning, in ``__iter__`` (so in each DataLoader worker process):

- rank/world: the ``rank``/``world`` given to the constructor; else
  ``torch.distributed.get_rank()/get_world_size()`` when torch.distributed
  is available and initialized; else 0 of 1.
- worker/workers: ``torch.utils.data.get_worker_info()`` (``id`` of
  ``num_workers``) inside a DataLoader worker; else 0 of 1.

Every (rank, worker) reads its own disjoint part; the workers of a rank
together yield exactly the rank's records, every rank the same count
(``remainder="drop"``: floor(N/world), some records left out;
``"pad"``: ceil(N/world), short ranks repeat one record). The order is a
pure function of (seed, epoch, rank, world, worker, workers, ...), so a
DataLoader (which takes from its workers round-robin) yields the same
sequence every time for the same seed and epoch.

``set_epoch(e)`` changes the order of the next ``iter()``. The DataLoader
copies the dataset into its workers when they start: call ``set_epoch``
before each ``iter(loader)`` (the default ``persistent_workers=False``
starts them there). With ``persistent_workers=True`` the workers keep the
epoch they started with: do not use it with ``set_epoch``.
"""

import torch
import torch.utils.data

import shardctl


def _dist_rank_world():
    d = getattr(torch, "distributed", None)
    if d is not None and d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


class ShardDataset(torch.utils.data.IterableDataset):
    """The records of a shard set, as ``bytes`` (or ``transform(bytes)``).

    ``path``: the set root. Order: ``shuffle``, ``seed``, ``epoch`` (the
    initial one; see :meth:`set_epoch`), ``window``, ``buffer``,
    ``remainder`` ("drop" or "pad"). ``rank``/``world``: override
    torch.distributed (give both or neither). ``transform``: applied to
    each record. Any other keyword (``threads``, ``prefetch_bytes``,
    ``queue_depth``, ``io``, ``direct``, ``register_buffers``) goes to
    :func:`shardctl.open_reader` for each worker's reader.
    """

    def __init__(self, path, shuffle=False, seed=0, epoch=0, remainder="drop", window=0,
                 buffer=0, transform=None, rank=None, world=None, **reader_opts):
        super().__init__()
        if (rank is None) != (world is None):
            raise ValueError("ShardDataset: give both rank and world, or neither")
        for k in ("rank", "world", "worker", "workers", "resume", "epoch"):
            if k in reader_opts:
                raise TypeError(f"ShardDataset: '{k}' is not a reader option here")
        if remainder not in ("drop", "pad"):
            raise ValueError(f"ShardDataset: remainder 'drop' or 'pad', not {remainder!r}")
        self.path = path
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.remainder = remainder
        self.window = window
        self.buffer = buffer
        self.transform = transform
        self.rank = rank
        self.world = world
        self.reader_opts = reader_opts
        self._len = {}  # (rank, world) -> records

    def set_epoch(self, epoch):
        """The epoch of the next iteration (it keys the shuffle)."""
        self.epoch = epoch

    def rank_world(self):
        """(rank, world) this process reads as."""
        if self.rank is not None:
            return self.rank, self.world
        return _dist_rank_world()

    def _order_opts(self):
        return dict(shuffle=self.shuffle, seed=self.seed, remainder=self.remainder,
                    window=self.window, buffer=self.buffer)

    def open_reader(self, **overrides):
        """The reader ``__iter__`` would use in this process (for this
        rank and DataLoader worker), e.g. to take a state() from."""
        rank, world = self.rank_world()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        kw = dict(self.reader_opts)
        kw.update(self._order_opts())
        kw.update(epoch=self.epoch, rank=rank, world=world, worker=worker, workers=workers)
        kw.update(overrides)
        return shardctl.open_reader(self.path, **kw)

    def __iter__(self):
        t = self.transform
        with self.open_reader() as r:
            if t is None:
                yield from r
            else:
                for rec in r:
                    yield t(rec)

    def __len__(self):
        """Records of this rank in an epoch: what all DataLoader workers
        of this rank yield together (the same for every epoch and seed).
        One worker yields about len/num_workers of them. Cached per
        (rank, world); computing it opens a reader (reads the indexes)."""
        rank, world = self.rank_world()
        n = self._len.get((rank, world))
        if n is None:
            kw = dict(self.reader_opts)
            kw.update(remainder=self.remainder, rank=rank, world=world, io="pread")
            # the count does not depend on shuffle, seed, epoch or window
            with shardctl.open_reader(self.path, **kw) as r:
                n = len(r)
            self._len[(rank, world)] = n
        return n
