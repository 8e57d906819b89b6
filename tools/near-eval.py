#!/usr/bin/env python3
"""near-eval.py - quality of `shardctl ingest --dedup near` on real text.

Builds an evaluation set from a JSONL corpus of real text (by default the
one tools/make-corpus.sh writes; nothing is shipped): originals that are
not near each other, each followed by one variant made with controlled
word-level edits (substitutions, insertions, deletions, swaps of adjacent
words) at a graded strength. Computes the true word 5-gram Jaccard
similarity of every (original, variant) pair by brute force, over the SAME
near-dup normalization as codec/near.c (docs/NORMALIZATION.md, "Near-dup
normalization": NFKD, case fold, marks stripped, digits to 0, everything
but letters and numbers a separator; Python's unicodedata may carry a
different Unicode version than utf8proc, which only matters for characters
assigned in between). Then ingests the set with --dedup near and reads
--near-report and the kept records to score every decision:

  - per band of true similarity: pairs, variants removed, removal rate;
  - recall at true J >= 0.9 (target >= 0.95), the removal rate at
    J < 0.6 (target <= 0.001) and overall precision (removals whose true
    similarity to the record they were removed for is >= the threshold;
    target >= 0.98), also with a 0.05 margin.

A variant removed because of another record than its original is scored
with its true similarity to that record (reported separately). Pairs whose
original was itself removed are left out (counted).

usage: tools/near-eval.py [--corpus FILE] [--shardctl BIN] [--pairs N]
                          [--seed S] [--threshold X] [--margin Z[,Z...]]
                          [--bands N] [--rows N] [--workdir DIR]

--margin is passed to --near-margin; a list scores the same evaluation set
at each value in turn.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

BANDS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.85), (0.85, 0.9),
         (0.9, 0.95), (0.95, 1.0001)]
STRENGTHS = [0.0, 0.003, 0.006, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.25]


def near_form(text):
    """The near-dup normalization of docs/NORMALIZATION.md, as a word list."""
    words, cur = [], []
    for ch in text:
        o = ord(ch)
        if o < 0x80:
            if "a" <= ch <= "z" or "0" <= ch <= "9" or "A" <= ch <= "Z":
                cur.append("0" if ch.isdigit() else ch.lower())
            elif cur:
                words.append("".join(cur))
                cur = []
            continue
        # case fold and NFKD to a fixed point (utf8proc folds recursively)
        s = ch
        for _ in range(4):
            t = unicodedata.normalize("NFKD", s.casefold())
            if t == s:
                break
            s = t
        for c in s:
            cat = unicodedata.category(c)
            if cat in ("Mn", "Mc", "Me"):
                continue
            if cat == "Nd":
                cur.append("0")
            elif cat[0] == "L" or cat in ("Nl", "No"):
                cur.append(c)
            elif cur:
                words.append("".join(cur))
                cur = []
    if cur:
        words.append("".join(cur))
    return words


def shingles(words, n=5):
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a, b):
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def variant(rnd, words, strength, vocab):
    """Edit about strength * len(words) positions of the raw word list."""
    w = list(words)
    edits = max(0, round(strength * len(w) + rnd.random() - 0.5)) if strength else 0
    for _ in range(edits):
        k = rnd.randrange(4)
        i = rnd.randrange(len(w))
        if k == 0:
            w[i] = rnd.choice(vocab)
        elif k == 1:
            w.insert(i, rnd.choice(vocab))
        elif k == 2 and len(w) > 10:
            del w[i]
        elif i + 1 < len(w):
            w[i], w[i + 1] = w[i + 1], w[i]
    return w


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("near-eval: %s failed (%d): %s" % (cmd[0:3], r.returncode, r.stderr.strip()))
    return r.stdout


def kept_ids(sc, setdir):
    return {json.loads(l)["id"] for l in run([sc, "cat", setdir]).splitlines()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="/tmp/corpus/corpus.jsonl")
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--min-words", type=int, default=60)
    ap.add_argument("--max-words", type=int, default=3000)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--margin", default="1")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    wd = a.workdir or tempfile.mkdtemp(prefix="near-eval.")
    os.makedirs(wd, exist_ok=True)

    # 1. candidate originals: every k-th corpus record of a usable length
    cands, vocab = [], []
    with open(a.corpus, encoding="utf-8") as f:
        for ln, line in enumerate(f):
            if ln % 3:
                continue
            t = json.loads(line).get("text")
            if not isinstance(t, str):
                continue
            raw = t.split()
            if not (a.min_words <= len(raw) <= a.max_words):
                continue
            cands.append(raw)
            if len(vocab) < 200000:
                vocab.extend(rnd.sample(raw, min(5, len(raw))))
            if len(cands) >= 2 * a.pairs:
                break
    # 2. keep originals that are not near each other (exact + near at 0.5)
    p = os.path.join(wd, "orig.jsonl")
    with open(p, "w") as f:
        for i, raw in enumerate(cands):
            f.write(json.dumps({"id": i, "text": " ".join(raw)}) + "\n")
    run([a.shardctl, "ingest", "--quiet", "--dedup", "near", "--near-threshold", "0.5",
         "--out", os.path.join(wd, "orig.set"), p])
    keep = sorted(kept_ids(a.shardctl, os.path.join(wd, "orig.set")))
    origs = [cands[i] for i in keep][:a.pairs]
    # 3. the evaluation set: original, then its variant
    pairs, lines = [], []
    for i, raw in enumerate(origs):
        s = rnd.choice(STRENGTHS)
        v = variant(rnd, raw, s, vocab)
        pairs.append((raw, v, s))
        lines.append(json.dumps({"id": "o%d" % i, "text": " ".join(raw)}))
        lines.append(json.dumps({"id": "v%d" % i, "text": " ".join(v)}))
    p = os.path.join(wd, "eval.jsonl")
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    # true similarity of every pair, once
    truth = [jaccard(shingles(near_form(" ".join(o))), shingles(near_form(" ".join(v))))
             for o, v, _ in pairs]
    for margin in a.margin.split(","):
        score(a, wd, p, pairs, truth, float(margin))


def score(a, wd, p, pairs, truth, margin):
    """Ingest the evaluation set at one margin and print the scores."""
    rep = os.path.join(wd, "report.jsonl")
    setdir = os.path.join(wd, "eval.set")
    run([a.shardctl, "ingest", "--quiet", "--dedup", "near", "--near-threshold",
         str(a.threshold), "--near-margin", str(margin), "--bands", str(a.bands),
         "--rows", str(a.rows), "--near-report", rep, "--out", setdir, p])
    kept = kept_ids(a.shardctl, setdir)
    removed_by = {}  # removed line (1-based) -> kept line
    for l in open(rep):
        r = json.loads(l)
        removed_by[r["removed"]["line"]] = r["kept"]["line"]

    def words_of_line(line):
        i = (line - 1) // 2
        return pairs[i][0] if line % 2 else pairs[i][1]

    counts = {b: [0, 0] for b in BANDS}
    removals = []       # true J of each near removal to its reference
    other_ref = 0
    orig_gone = 0
    exact = 0
    for i, (o, v, s) in enumerate(pairs):
        if "o%d" % i not in kept:
            orig_gone += 1
            continue
        j = truth[i]
        vline = 2 * i + 2
        gone = "v%d" % i not in kept
        if gone and vline not in removed_by:
            exact += 1
        elif gone:
            ref = removed_by[vline]
            if ref != vline - 1:
                other_ref += 1
                sv = shingles(near_form(" ".join(v)))
                removals.append(jaccard(shingles(near_form(" ".join(words_of_line(ref)))), sv))
            else:
                removals.append(j)
        for b in BANDS:
            if b[0] <= j < b[1]:
                counts[b][0] += 1
                counts[b][1] += gone
                break
    print()
    print("near-eval: %d pairs from %s (seed %d), threshold %.2f, margin %.2f sd, "
          "%d bands x %d rows, workdir %s" % (len(pairs), a.corpus, a.seed, a.threshold,
                                              margin, a.bands, a.rows, wd))
    print("left out: %d pairs whose original was removed; %d variants were exact "
          "duplicates (removed by exact dedup, counted as removed); %d removed for "
          "another record" % (orig_gone, exact, other_ref))
    print()
    print("| true 5-gram Jaccard | pairs | variants removed | removal rate |")
    print("|---|---|---|---|")
    for b in BANDS:
        n, r = counts[b]
        print("| %.2f - %.2f | %d | %d | %s |" % (b[0], min(b[1], 1.0), n, r,
                                                  "%.4f" % (r / n) if n else "-"))
    hi = [counts[b] for b in BANDS if b[0] >= 0.9]
    lo = [counts[b] for b in BANDS if b[1] <= 0.6]
    rec = sum(r for _, r in hi) / max(1, sum(n for n, _ in hi))
    fp = sum(r for _, r in lo) / max(1, sum(n for n, _ in lo))
    prec = sum(1 for j in removals if j >= a.threshold) / max(1, len(removals))
    prec_m = sum(1 for j in removals if j >= a.threshold - 0.05) / max(1, len(removals))
    print()
    print("recall (J >= 0.9): %.4f   (target >= 0.95)" % rec)
    print("removal rate (J < 0.6): %.5f (%d of %d)   (target <= 0.001)" %
          (fp, sum(r for _, r in lo), sum(n for n, _ in lo)))
    print("precision (near removals with true J >= %.2f): %.4f of %d   (target >= 0.98)" %
          (a.threshold, prec, len(removals)))
    print("precision with a 0.05 margin (true J >= %.2f): %.4f" % (a.threshold - 0.05, prec_m))


if __name__ == "__main__":
    main()
