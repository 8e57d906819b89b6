"""Shared helpers of the Python binding tests (tests/python/run.sh builds
the sets these use and says where in SHARDCTL_TEST_DIR)."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))

import shardctl  # noqa: E402,F401 (re-exported to the tests)


def need_env():
    """(shardctl binary, directory of prepared sets), or skip the test."""
    sc = os.environ.get("SHARDCTL")
    d = os.environ.get("SHARDCTL_TEST_DIR")
    if not sc or not d or not os.environ.get("SHARDCTL_LIB"):
        raise unittest.SkipTest("SHARDCTL, SHARDCTL_LIB and SHARDCTL_TEST_DIR must be set: "
                                "run tests/python/run.sh")
    return sc, d


SHARDCTL, TEST_DIR = None, None


def setup_module():
    global SHARDCTL, TEST_DIR
    SHARDCTL, TEST_DIR = need_env()


def set_path(name):
    """Path of a prepared set: main (3001 records, 4K frames, 16K shards,
    a few records larger than a frame), tiny (3 records), empty (0)."""
    return os.path.join(TEST_DIR, name + ".set")


def jsonl_path(name):
    return os.path.join(TEST_DIR, name + ".jsonl")


def cat(set_root, *args):
    """What `shardctl cat SET ARGS` prints, as a list of lines (bytes)."""
    p = subprocess.run([SHARDCTL, "cat", set_root] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise AssertionError(f"shardctl cat {set_root} {args}: exit {p.returncode}: "
                             f"{p.stderr.decode(errors='replace')}")
    out = p.stdout
    if not out:
        return []
    assert out.endswith(b"\n"), "cat output does not end with a newline"
    return out[:-1].split(b"\n")


def ingest(out, inputs, *args):
    """Run `shardctl ingest --quiet --out OUT ARGS INPUTS`."""
    p = subprocess.run([SHARDCTL, "ingest", "--quiet", "--out", out] + list(args) + list(inputs),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if p.returncode != 0:
        raise AssertionError(f"shardctl ingest {out}: exit {p.returncode}: "
                             f"{p.stdout.decode(errors='replace')}")


def shard_files(set_root):
    """Per shard, the paths of its replicas (from the manifest)."""
    import json

    with open(os.path.join(set_root, "manifest.json")) as f:
        m = json.load(f)
    out = []
    for s in m["shards"]:
        paths = []
        for k in s["replicas"]:
            node = m["nodes"][k]["path"]
            if not node.startswith("/"):
                node = os.path.join(set_root, node)
            paths.append(os.path.join(node, s["name"]))
        out.append(paths)
    return out


def tempdir(testcase):
    d = tempfile.TemporaryDirectory(prefix="shardctl-py-")
    testcase.addCleanup(d.cleanup)
    return d.name
