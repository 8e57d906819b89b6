"""shardctl - read shard sets written by ``shardctl ingest`` from Python.

A thin ctypes binding of libshardctl's reader (include/shardctl.h): no
compiled extension, nothing is downloaded or built at import or run time.

    import shardctl

    with shardctl.open_reader("corpus.set", shuffle=True, seed=1, epoch=3,
                              rank=0, world=8) as r:
        print(len(r))                # records this reader yields this epoch
        for rec in r:                # bytes: one JSON line, no newline
            ...
        state = r.state()            # opaque bytes: resume point

    r = shardctl.open_reader("corpus.set", shuffle=True, seed=1, epoch=3,
                             rank=0, world=8, resume=state)

The library is found, in this order: the path in the environment variable
SHARDCTL_LIB; ``build/libshardctl.so`` of the source tree this package
sits in (``python/shardctl/../../build/``); ``ctypes.util.find_library
("shardctl")`` (an installed libshardctl.so). It is loaded on first use,
so ``import shardctl`` always works.

Errors raise :class:`shardctl.Error` carrying the library's message (and
its negative error code in ``.code``).

Warnings (a bad replica skipped for another, io_uring unavailable so pread
is used) go to Python's :mod:`warnings` module as
:class:`shardctl.ShardctlWarning`. The library reports them from inside a
C call; the binding collects them there and issues them once the call has
returned, so warning filters (including ``"error"``, which then raises
from the ``open_reader``/iteration call that caused the warning) behave as
for any Python warning. Silence them with
``warnings.filterwarnings("ignore", category=shardctl.ShardctlWarning)``;
route them to :mod:`logging` with ``logging.captureWarnings(True)``.

The order of records is a pure function of the set and of (shuffle,
seed, epoch, rank, world, worker, workers, window, buffer, remainder):
never of threads, I/O backend or batch sizes. A reader is used by one
thread at a time (several readers may run in parallel threads: the C
calls release the GIL).
"""

import array
import ctypes
import ctypes.util
import operator
import os
import threading
import warnings

__all__ = ["open_reader", "Reader", "Error", "ShardctlWarning", "library_path"]

API_VERSION = 1  # SC_READER_API_VERSION this binding was written for


class Error(Exception):
    """An error from libshardctl (or a bad argument to this binding).

    ``str(e)`` is the message; ``e.code`` the library's negative error code
    (None for errors found by the binding itself).
    """

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class ShardctlWarning(RuntimeWarning):
    """A notice from the reader: replica failover, io_uring fallback."""


# ---- the C API ------------------------------------------------------------

SC_READER_IO_AUTO = 0
SC_READER_IO_URING = 1
SC_READER_IO_PREAD = 2

_IO = {
    "auto": SC_READER_IO_AUTO,
    "uring": SC_READER_IO_URING,
    "io_uring": SC_READER_IO_URING,
    "pread": SC_READER_IO_PREAD,
}
_REMAINDER = {"drop": 0, "pad": 1}

# void (*warn)(void *ctx, const char *msg)
WARN_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class ReaderOpts(ctypes.Structure):
    """struct sc_reader_opts, field for field (include/shardctl.h)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        # order
        ("shuffle", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("epoch", ctypes.c_uint64),
        ("rank", ctypes.c_uint32),
        ("world", ctypes.c_uint32),
        ("worker", ctypes.c_uint32),
        ("workers", ctypes.c_uint32),
        ("remainder", ctypes.c_uint32),
        ("window", ctypes.c_uint32),
        ("buffer", ctypes.c_uint32),
        # resources
        ("threads", ctypes.c_uint32),
        ("queue_depth", ctypes.c_uint32),
        ("prefetch_bytes", ctypes.c_uint64),
        ("io", ctypes.c_int),
        ("direct", ctypes.c_int),
        ("register_buffers", ctypes.c_int),
        # resume
        ("resume", ctypes.c_void_p),
        ("resume_len", ctypes.c_size_t),
        # notices
        ("warn", WARN_FN),
        ("warn_ctx", ctypes.c_void_p),
    ]


class Records(ctypes.Structure):
    """struct sc_records."""

    _fields_ = [
        ("base", ctypes.c_void_p),
        ("offsets", ctypes.POINTER(ctypes.c_uint64)),
        ("count", ctypes.c_uint32),
    ]


class ReaderStats(ctypes.Structure):
    """struct sc_reader_stats."""

    _fields_ = [
        ("frames_read", ctypes.c_uint64),
        ("bytes_stored", ctypes.c_uint64),
        ("bytes_raw", ctypes.c_uint64),
        ("uring_reads", ctypes.c_uint64),
        ("fixed_reads", ctypes.c_uint64),
        ("failovers", ctypes.c_uint64),
        ("peak_buffered", ctypes.c_uint64),
    ]


_lib = None
_lib_path = None
_lib_lock = threading.Lock()


def _candidates():
    env = os.environ.get("SHARDCTL_LIB")
    if env:
        # an explicit choice: no silent fallback to another library
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.normpath(os.path.join(here, "..", "..", "build", "libshardctl.so"))
    found = ctypes.util.find_library("shardctl")
    return [p for p in (tree, found) if p], False


def _bind(lib):
    P = ctypes.c_void_p
    sigs = {
        "sc_reader_opts_init": (None, [P]),
        "sc_reader_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ReaderOpts),
                                          ctypes.POINTER(P), ctypes.c_char_p, ctypes.c_size_t]),
        "sc_reader_close": (None, [P]),
        "sc_reader_next": (ctypes.c_int, [P, ctypes.c_uint32, ctypes.c_size_t,
                                          ctypes.POINTER(Records)]),
        "sc_reader_length": (ctypes.c_uint64, [P]),
        "sc_reader_position": (ctypes.c_uint64, [P]),
        "sc_reader_state": (ctypes.c_size_t, [P, ctypes.c_uint64, P, ctypes.c_size_t]),
        "sc_reader_error": (ctypes.c_char_p, [P]),
        "sc_reader_backend": (ctypes.c_char_p, [P]),
        "sc_reader_get_stats": (None, [P, ctypes.POINTER(ReaderStats)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)  # AttributeError: not a libshardctl with the reader
        fn.restype = res
        fn.argtypes = args


def _check_layout(lib, path):
    """Compare our struct with the library's: fail loudly on any mismatch."""
    size = ctypes.sizeof(ReaderOpts)
    # sc_reader_opts_init writes the library's sizeof: give it room to spare
    # so that a library with a larger struct cannot write past our buffer
    raw = (ctypes.c_char * (size + 4096))()
    lib.sc_reader_opts_init(ctypes.cast(raw, ctypes.c_void_p))
    theirs = ctypes.c_uint32.from_buffer(raw).value
    if theirs != size:
        raise Error(f"{path}: struct sc_reader_opts is {theirs} bytes in the library but "
                    f"{size} in this binding (python/shardctl/__init__.py): the header "
                    f"changed; update ReaderOpts to match include/shardctl.h")
    o = ReaderOpts.from_buffer_copy(raw, 0)
    if (o.world, o.workers, o.register_buffers, o.shuffle, o.resume) != (1, 1, 1, 0, None):
        raise Error(f"{path}: sc_reader_opts_init defaults are not where this binding "
                    f"expects them (world={o.world} workers={o.workers} "
                    f"register_buffers={o.register_buffers}): field order differs from "
                    f"include/shardctl.h?")


def _load():
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        cands, explicit = _candidates()
        tried = []
        for path in cands:
            if not explicit and os.sep in path and not os.path.exists(path):
                tried.append(f"{path} (not there)")
                continue
            try:
                lib = ctypes.CDLL(path)
                _bind(lib)
            except (OSError, AttributeError) as e:
                tried.append(f"{path} ({e})")
                if explicit:
                    break
                continue
            _check_layout(lib, path)
            _lib, _lib_path = lib, path
            return lib
        if not explicit and not ctypes.util.find_library("shardctl"):
            tried.append("ctypes.util.find_library('shardctl') found nothing")
        raise Error("libshardctl not found: set SHARDCTL_LIB to the path of libshardctl.so "
                    "(tried: " + "; ".join(tried) + ")")


def library_path():
    """The libshardctl loaded (loading it if need be)."""
    _load()
    return _lib_path


# ---- helpers ----------------------------------------------------------------

def _uint(name, v, bits):
    if isinstance(v, bool) or not isinstance(v, int):
        raise Error(f"{name}: an integer, not {v!r}")
    if v < 0 or v >= 1 << bits:
        raise Error(f"{name}: {v} is out of range 0..{(1 << bits) - 1}")
    return v


def _flush(pending):
    while pending:
        warnings.warn(pending.pop(0), ShardctlWarning, stacklevel=4)


_QWORD = "Q" if array.array("Q").itemsize == 8 else "L"


# ---- the reader ---------------------------------------------------------------

def open_reader(path, shuffle=False, seed=0, epoch=0, rank=0, world=1, worker=0,
                workers=1, remainder="drop", threads=1, prefetch_bytes=0,
                queue_depth=0, window=0, buffer=0, io="auto", direct=False,
                resume=None, register_buffers=True):
    """Open a reader on the shard set at ``path`` (the set root).

    Order: ``shuffle``, ``seed``, ``epoch``; this reader's part: ``rank``
    of ``world``, then ``worker`` of ``workers`` of the rank's part;
    ``remainder`` "drop" (every rank yields floor(N/world) records) or
    "pad" (every rank yields ceil(N/world), short ranks repeat a record);
    ``window`` and ``buffer`` shape the shuffle (0: library defaults).
    Resources: ``threads`` decode threads, ``prefetch_bytes`` read ahead,
    ``queue_depth`` reads in flight (0: library defaults), ``io`` "auto",
    "uring" or "pread", ``direct`` O_DIRECT reads, ``register_buffers``
    io_uring fixed buffers. ``resume``: bytes from :meth:`Reader.state`
    of a reader opened with the same order options.
    """
    return Reader(path, shuffle=shuffle, seed=seed, epoch=epoch, rank=rank, world=world,
                  worker=worker, workers=workers, remainder=remainder, threads=threads,
                  prefetch_bytes=prefetch_bytes, queue_depth=queue_depth, window=window,
                  buffer=buffer, io=io, direct=direct, resume=resume,
                  register_buffers=register_buffers)


class Reader:
    """One reader of a shard set for one epoch; see :func:`open_reader`.

    Iterating yields each record as ``bytes`` (a JSON line without its
    newline). :meth:`batches` yields lists of records, fetched a batch at a
    time. Both draw from the same stream: a record is yielded once, by
    whichever is used (``next(reader)`` and ``iter(reader)`` share the
    stream too). One pass: open a new reader for another epoch.
    """

    ITER_MAX_RECORDS = 4096
    ITER_MAX_BYTES = 8 << 20

    def __init__(self, path, shuffle=False, seed=0, epoch=0, rank=0, world=1, worker=0,
                 workers=1, remainder="drop", threads=1, prefetch_bytes=0, queue_depth=0,
                 window=0, buffer=0, io="auto", direct=False, resume=None,
                 register_buffers=True):
        self._r = None
        # the current batch fetched for iteration, as a list iterator: what
        # it has left (length_hint) is what state() must not count
        self._it = iter(())
        self._pending = []  # warnings reported during the current C call
        lib = _load()
        self._lib = lib

        if remainder not in _REMAINDER:
            raise Error(f"remainder: 'drop' or 'pad', not {remainder!r}")
        if io not in _IO:
            raise Error(f"io: 'auto', 'uring' or 'pread', not {io!r}")
        o = ReaderOpts()
        lib.sc_reader_opts_init(ctypes.byref(o))
        o.shuffle = 1 if shuffle else 0
        o.seed = _uint("seed", seed, 64)
        o.epoch = _uint("epoch", epoch, 64)
        o.rank = _uint("rank", rank, 32)
        o.world = _uint("world", world, 32)
        o.worker = _uint("worker", worker, 32)
        o.workers = _uint("workers", workers, 32)
        o.remainder = _REMAINDER[remainder]
        o.window = _uint("window", window, 32)
        o.buffer = _uint("buffer", buffer, 32)
        o.threads = _uint("threads", threads, 32)
        o.queue_depth = _uint("queue_depth", queue_depth, 32)
        o.prefetch_bytes = _uint("prefetch_bytes", prefetch_bytes, 64)
        o.io = _IO[io]
        o.direct = 1 if direct else 0
        o.register_buffers = 1 if register_buffers else 0
        if resume is not None:
            if not isinstance(resume, (bytes, bytearray, memoryview)):
                raise Error(f"resume: bytes from Reader.state(), not {type(resume).__name__}")
            blob = bytes(resume)
            # kept for the reader's life (the library copies the options)
            self._resume = ctypes.create_string_buffer(blob, len(blob) or 1)
            o.resume = ctypes.cast(self._resume, ctypes.c_void_p)
            o.resume_len = len(blob)

        pending = self._pending

        def on_warning(_ctx, msg):
            # runs inside a C call: only record it (see _flush)
            pending.append(msg.decode("utf-8", "replace") if msg else "")

        # the callback and the options holding its pointer live as long as
        # the reader: the library keeps and calls the pointer until close
        self._warn_cb = WARN_FN(on_warning)
        o.warn = self._warn_cb
        self._opts = o

        try:
            fspath = os.fsencode(path)
        except TypeError:
            raise Error(f"path: a str, bytes or os.PathLike, not {type(path).__name__}") from None
        if b"\0" in fspath:
            raise Error(f"path: {path!r} contains a NUL byte")
        handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(4096)
        rc = lib.sc_reader_open(fspath, ctypes.byref(o), ctypes.byref(handle), err,
                                ctypes.sizeof(err))
        _flush(pending)
        if rc != 0:
            raise Error(err.value.decode("utf-8", "replace") or f"sc_reader_open failed ({rc})",
                        rc)
        self._r = handle

    # -- life --

    def close(self):
        """Release the reader (idempotent)."""
        r, self._r = self._r, None
        self._it = iter(())
        if r is not None:
            self._lib.sc_reader_close(r)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self):
        return self._r is None

    def _handle(self):
        if self._r is None:
            raise Error("reader is closed")
        return self._r

    # -- reading --

    def _fetch(self, max_records, max_bytes):
        """The next batch as a list of bytes ([] at the end of the epoch)."""
        r = self._handle()
        max_records = _uint("max_records", max_records, 32)
        max_bytes = _uint("max_bytes", max_bytes, 63)
        out = Records()
        n = self._lib.sc_reader_next(r, max_records, max_bytes, ctypes.byref(out))
        _flush(self._pending)
        if n < 0:
            msg = self._lib.sc_reader_error(r)
            raise Error((msg or b"").decode("utf-8", "replace") or f"sc_reader_next failed ({n})",
                        n)
        if n == 0:
            return []
        offs = array.array(_QWORD)
        offs.frombytes(ctypes.string_at(out.offsets, 8 * (n + 1)))
        offs = offs.tolist()
        # one copy of the whole batch, then slices: no C call per record
        data = ctypes.string_at(out.base, offs[n])
        return [data[a:b] for a, b in zip(offs, offs[1:])]

    def _refill(self):
        """Fetch the next batch for iteration; False at the end."""
        self._it = iter(())
        batch = self._fetch(self.ITER_MAX_RECORDS, self.ITER_MAX_BYTES)
        self._it = iter(batch)
        return bool(batch)

    def __iter__(self):
        # a generator over the same stream as next(reader): both take from
        # self._it, so state() and position see every record handed out
        while True:
            yield from self._it
            if not self._refill():
                return

    def __next__(self):
        for rec in self._it:
            return rec
        if self._refill():
            return next(self._it)
        raise StopIteration

    def batches(self, max_records=4096, max_bytes=8 << 20):
        """Yield lists of records: up to ``max_records`` each, a batch
        stopping once ``max_bytes`` is reached (always at least one record).
        Records fetched by iteration but not yet yielded come first, as a
        batch of their own. A yielded batch counts as consumed for
        :meth:`state` and :attr:`position`."""
        rest = list(self._it)
        if rest:
            yield rest
        while True:
            batch = self._fetch(max_records, max_bytes)
            if not batch:
                return
            yield batch

    # -- where --

    def _unconsumed(self):
        return operator.length_hint(self._it)

    def state(self):
        """Opaque resume state (bytes) for the next record not yet yielded:
        pass it as ``resume=`` to a reader opened with the same order
        options (shuffle, seed, epoch, rank, world, worker, workers,
        remainder, window, buffer) to continue exactly from there."""
        r = self._handle()
        un = self._unconsumed()
        cap = 256
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = self._lib.sc_reader_state(r, un, buf, cap)
            if n <= cap:
                return buf.raw[:n]
            cap = n

    def __len__(self):
        """Records this reader yields in the epoch (all of them, including
        those already yielded)."""
        return int(self._lib.sc_reader_length(self._handle()))

    @property
    def position(self):
        """Records yielded so far to the caller (records fetched for the
        iterator but not yet yielded do not count)."""
        return int(self._lib.sc_reader_position(self._handle())) - self._unconsumed()

    @property
    def backend(self):
        """'io_uring' or 'pread'."""
        return self._lib.sc_reader_backend(self._handle()).decode()

    def stats(self):
        """Counters of struct sc_reader_stats, as a dict."""
        st = ReaderStats()
        self._lib.sc_reader_get_stats(self._handle(), ctypes.byref(st))
        return {name: int(getattr(st, name)) for name, _ in ReaderStats._fields_}

    def __repr__(self):
        if self._r is None:
            return "<shardctl.Reader closed>"
        return f"<shardctl.Reader {self.position}/{len(self)} records, {self.backend}>"
