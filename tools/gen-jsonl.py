#!/usr/bin/env python3
"""gen-jsonl.py - build shardctl's JSONL data sets (stdlib only).

Two jobs, both deterministic (same inputs give byte-identical output):

  sample KJV.txt OUT.jsonl
      The bundled sample: the King James Bible, as printed by the `bible`
      program of Debian's bible-kjv package (`bible -l100000 gen1:1-rev22:21`),
      cut into records of one chapter or a few verses, plus planted
      duplicates, normalization cases and invalid records at positions
      drawn from a fixed-seed PRNG (our own splitmix64, so the result does
      not depend on the Python version). Prints the planted counts and the
      outcome shardctl should report as JSON on stdout. tools/make-sample.sh
      drives it; data/README.md documents the counts.

  corpus OUT.jsonl [--min-mb N] [--extra DIR] [--estimate]
      A large corpus of real text from what Debian installed on this machine:
      licence texts, /usr/share/doc (gzip opened, HTML turned into text),
      info pages, man pages (troff lightly stripped), /usr/include, Python
      and Perl library sources, and linux-source-*.tar.xz under /usr/src;
      then the same trees of each package unpacked under DIR/<package>/.
      Files are visited in sorted path order (tarball members in archive
      order); text over 16 KiB is cut at paragraph boundaries. Duplicates
      (licence copies, boilerplate) are kept as they occur. When the text
      available is over 1.5 x N MB, a fixed subset of files (by CRC-32 of
      the path) is taken for about 1.25 x N MB. With --estimate it only
      prints the estimated MB of text available. tools/make-corpus.sh
      drives it.

Every record is one line {"id", "source", "text"} written with
json.dumps(ensure_ascii=False).
"""
import argparse
import gzip
import html
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import unicodedata
import zlib

# --------------------------------------------------------------------------
# sample
# --------------------------------------------------------------------------

SAMPLE_SEED = 0x5C5A3D1E2024
SAMPLE_SOURCE = "bible-kjv-text"
MIRROR_SOURCE = "bible-kjv-text/mirror"
CHUNK_TARGET = 3000  # bytes of verses per record, at most about this

# French names with accents for the NFC/NFD cases.
FRENCH = {
    "Genesis": "Genèse", "Leviticus": "Lévitique",
    "Deuteronomy": "Deutéronome", "Joshua": "Josué",
    "Nehemiah": "Néhémie", "Ecclesiastes": "Ecclésiaste",
    "Isaiah": "Ésaïe", "Jeremiah": "Jérémie", "Ezekiel": "Ézéchiel",
    "Micah": "Michée", "Haggai": "Aggée", "Ephesians": "Éphésiens",
    "Hebrews": "Hébreux", "Philemon": "Philémon",
}

M64 = (1 << 64) - 1


class SplitMix64:
    """splitmix64: tiny, fixed, identical on every Python version."""

    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform-enough integer in [0, n) (bias < n / 2^64)."""
        return self.next() % n

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.below(i + 1)
            a[i], a[j] = a[j], a[i]


def parse_kjv(path):
    """[(book, chapter, [(verse, text)])] from `bible -l100000` output."""
    chapters = []
    head = re.compile(r"^(.+) (\d+)$")
    verse = re.compile(r"^ +(\d+) (.*)$")
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            m = verse.match(line)
            if m:
                if not chapters:
                    sys.exit("sample: verse before any chapter heading")
                chapters[-1][2].append((int(m.group(1)), m.group(2)))
                continue
            m = head.match(line)
            if not m:
                sys.exit("sample: unexpected line %r" % line[:80])
            chapters.append((m.group(1), int(m.group(2)), []))
    return chapters


def chunk_chapter(book, chap, verses):
    """Cut a chapter into ceil(bytes / CHUNK_TARGET) runs of verses of
    similar size; return [(first, last, [lines])]."""
    lines = ["%d %s" % v for v in verses]
    total = sum(len(s) + 1 for s in lines)
    n = max(1, -(-total // CHUNK_TARGET))
    out, cur, acc, k = [], [], 0, 1
    for (num, _), s in zip(verses, lines):
        cur.append((num, s))
        acc += len(s) + 1
        if k < n and acc >= total * k / n:
            out.append(cur)
            cur, k = [], k + 1
    if cur:
        out.append(cur)
    return [(c[0][0], c[-1][0], [s for _, s in c]) for c in out]


def ref_normalize(t):
    """Reference of shardctl's default normalization (docs/NORMALIZATION)."""
    t = t.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    t = "".join(c for c in t if not (
        (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F))
    t = unicodedata.normalize("NFC", t)
    return "\n".join(s.rstrip(" \t") for s in t.split("\n")).rstrip(" \t")


def ref_key(t, normalize=True):
    """Reference of the exact-dedup key: case fold, collapse white space."""
    if normalize:
        t = ref_normalize(t)
    return " ".join(t.casefold().split())


def jline(rec):
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


NEAR_VARIANTS = ("upper", "lower", "double-spaces", "one-paragraph",
                 "tabs-and-blank-lines", "swapcase-indented")


def near_variant(text, k):
    v = NEAR_VARIANTS[k % len(NEAR_VARIANTS)]
    if v == "upper":
        return v, text.upper()
    if v == "lower":
        return v, text.lower()
    if v == "double-spaces":
        return v, text.replace(" ", "  ")
    if v == "one-paragraph":
        return v, text.replace("\n\n", "\n").replace("\n", " ")
    if v == "tabs-and-blank-lines":
        return v, text.replace(" ", "\t").replace("\n", "\n\n") + "\n\n"
    return v, "\n".join("  " + s for s in text.swapcase().split("\n"))


def invalid_records(base):
    """The planted invalid lines: [(reason, bytes)]. base is a valid record
    used as the raw material so the lines look like the rest."""
    rid = base["id"]
    t = base["text"][:200].replace("\n", " ")
    good = jline({"id": rid + "#bad", "source": MIRROR_SOURCE, "text": t})
    esc = json.dumps(t)[1:-1]  # ASCII text, escaped for a JSON string
    pre = ('{"id": "%s#bad", "source": "%s", ' % (rid, MIRROR_SOURCE))
    return [
        ("malformed_json", good[: len(good) // 2]),  # truncated line
        ("malformed_json", (pre + '"text": "%s",}' % esc).encode()),
        ("malformed_json", ("{'id': '%s#bad', 'text': 'In the beginning'}"
                            % rid).encode()),
        ("malformed_json", good + good),  # two objects on one line
        ("missing_text", (pre + '"body": "%s"}' % esc).encode()),
        ("missing_text", (pre + '"meta": {"text": "%s"}}' % esc).encode()),
        ("text_not_string", (pre + '"text": 1611}').encode()),
        ("text_not_string", (pre + '"text": ["%s", "%s"]}'
                             % (esc[:40], esc[40:80])).encode()),
        # Latin-1 "Genèse" inside the string: byte E8 is not UTF-8.
        ("invalid_utf8", (pre + '"text": "Gen').encode() + b"\xe8"
         + ('se: %s"}' % esc).encode()),
        ("invalid_utf8", (pre + '"text": "%s \\ud83d"}' % esc).encode()),
        ("nul_byte", (pre + '"text": "%s\\u0000%s"}'
                      % (esc[:60], esc[60:])).encode()),
        ("duplicate_text", (pre + '"text": "%s", "text": "again"}'
                            % esc).encode()),
        ("empty_text", (pre + '"text": ""}').encode()),
        ("empty_text", (pre + '"text": "   \\t  "}').encode()),
    ]


def cmd_sample(a):
    chapters = parse_kjv(a.kjv)
    base = []
    for book, chap, verses in chapters:
        for first, last, lines in chunk_chapter(book, chap, verses):
            title = "%s %d:%d-%d" % (book, chap, first, last)
            base.append({
                "id": "kjv/%s/%d/%d-%d" % (book.replace(" ", "_"), chap,
                                           first, last),
                "source": SAMPLE_SOURCE,
                "text": title + "\n\n" + "\n".join(lines),
                "_book": book,
            })
    nb = len(base)
    keys = {ref_key(r["text"]) for r in base}
    if len(keys) != nb:
        sys.exit("sample: base records are not unique")

    rng = SplitMix64(SAMPLE_SEED)
    order = list(range(nb))
    rng.shuffle(order)
    pos = 0

    def take(n, pred=lambda i: True):
        """The next n unused base records (in shuffled order) that satisfy
        pred; one that does not goes to the back for a later pick."""
        nonlocal pos
        got, misses = [], 0
        while len(got) < n:
            if pos >= len(order) or misses > nb:
                sys.exit("sample: cannot pick %d base records" % n)
            i = order[pos]
            pos += 1
            if pred(i):
                got.append(i)
            else:
                order.append(i)
                misses += 1
        return sorted(got)

    n_exact = round(nb * 0.08)
    n_near = round(nb * 0.04)
    # The French pick comes first so the restricted choice is easy.
    nfc_pair = take(2, lambda i: base[i]["_book"] in FRENCH)
    nfd_alone = take(1, lambda i: base[i]["_book"] in FRENCH)
    exact_src = take(n_exact)
    near_src = take(n_near)
    crlf_text = take(5)
    trailing = take(5)
    bom = take(3)
    control = take(2)
    crlf_line = take(5)

    orig = [r["text"] for r in base]

    def french(i, form):
        """Record i's original text with its book named in French."""
        fr = unicodedata.normalize(form, FRENCH[base[i]["_book"]])
        return orig[i].replace(base[i]["_book"], fr, 1)

    # In-place changes: these records stay unique.
    for i in nfc_pair:
        base[i]["text"] = french(i, "NFC")
    for i in nfd_alone:
        base[i]["text"] = french(i, "NFD")
    for i in crlf_text:
        base[i]["text"] = base[i]["text"].replace("\n", "\r\n")
    for k, i in enumerate(trailing):
        pad = ("  ", " \t", "\t")[k % 3]
        base[i]["text"] = "\n".join(
            s + pad for s in base[i]["text"].split("\n")) + "   "
    for k, i in enumerate(bom):
        base[i]["text"] = "\ufeff" + base[i]["text"]
    for k, i in enumerate(control):
        cc = ("\f", "\x07")[k % 2]  # a page break; a stray BEL
        t = base[i]["text"].split("\n")
        mid = len(t) // 2
        base[i]["text"] = "\n".join(t[:mid] + [cc + t[mid]] + t[mid + 1:])

    def out_line(r):
        return jline({"id": r["id"], "source": r["source"], "text": r["text"]})

    lines = [out_line(r) for r in base]
    bom_escaped = bom[-1]  # this one spells the BOM as \ufeff
    lines[bom_escaped] = lines[bom_escaped].replace(
        "\ufeff".encode(), b"\\ufeff", 1)
    ends = [b"\n"] * nb
    for i in crlf_line:
        ends[i] = b"\r\n"

    inserts = {}  # base index j -> lines to put after base line j (-1: top)

    def put_after(j, line):
        inserts.setdefault(j, []).append(line)

    dropped = 0
    for k, i in enumerate(exact_src):
        r = base[i]
        if k % 2 == 0:
            line = lines[i]  # the identical line
        else:
            line = jline({"id": r["id"] + "#copy", "source": MIRROR_SOURCE,
                          "text": r["text"]})
        put_after(i + rng.below(nb - i), line)
        dropped += 1
    for k, i in enumerate(near_src):
        r = base[i]
        name, t = near_variant(r["text"], k)
        if t == r["text"] or ref_key(t) != ref_key(r["text"]):
            sys.exit("sample: near-duplicate %s of %s is wrong" % (name, r["id"]))
        put_after(i + rng.below(nb - i),
                  jline({"id": r["id"] + "#" + name, "source": MIRROR_SOURCE,
                         "text": t}))
        dropped += 1
    for i in nfc_pair:
        r = base[i]
        t = french(i, "NFD")
        if ref_key(t) != ref_key(r["text"]) or \
                ref_key(t, False) == ref_key(r["text"], False):
            sys.exit("sample: NFD copy of %s is wrong" % r["id"])
        put_after(i + rng.below(nb - i),
                  jline({"id": r["id"] + "#nfd", "source": MIRROR_SOURCE,
                         "text": t}))
        dropped += 1
    bad = invalid_records(base[order[0]])
    for reason, line in bad:
        put_after(rng.below(nb + 1) - 1, line)

    # Whatever was planted, the base records must still be distinct keys.
    if len({ref_key(r["text"]) for r in base}) != nb:
        sys.exit("sample: planted changes made base records collide")

    bad_reason = {id(line): reason for reason, line in bad}
    body = bytearray()
    bad_at = []  # [line number, reason] of the invalid lines
    lineno = 0

    def emit(line, end):
        nonlocal lineno
        lineno += 1
        if id(line) in bad_reason:
            bad_at.append([lineno, bad_reason[id(line)]])
        body.extend(line + end)

    for line in inserts.get(-1, []):
        emit(line, b"\n")
    for j in range(nb):
        emit(lines[j], ends[j])
        for line in inserts.get(j, []):
            emit(line, b"\n")
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, a.out)

    reasons = {}
    for reason, _ in bad:
        reasons[reason] = reasons.get(reason, 0) + 1
    total = nb + dropped + len(bad)
    summary = {
        "lines": total,
        "bytes": len(body),
        "base_records": nb,
        "exact_duplicates": n_exact,
        "exact_duplicates_identical_line": (n_exact + 1) // 2,
        "near_duplicates_case_whitespace": n_near,
        "nfd_copies_of_nfc_records": len(nfc_pair),
        "nfd_record_alone": len(nfd_alone),
        "crlf_in_text": len(crlf_text),
        "trailing_whitespace": len(trailing),
        "leading_bom": len(bom),
        "control_chars": len(control),
        "crlf_line_endings": len(crlf_line),
        "invalid": len(bad),
        "invalid_by_reason": reasons,
        "invalid_lines": bad_at,
        "expected_default": {
            "accepted": nb + dropped, "rejected": len(bad),
            "duplicates": dropped, "kept": nb},
        # Without normalization the NFD copies no longer match their NFC
        # originals and the white-space-only text is not empty.
        "expected_normalize_none": {
            "accepted": nb + dropped + 1, "rejected": len(bad) - 1,
            "duplicates": dropped - len(nfc_pair),
            "kept": nb + len(nfc_pair) + 1},
    }
    json.dump(summary, sys.stdout, indent=1)
    print()


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------

CHUNK_MAX = 16384  # bytes of UTF-8 text per record, at most

SKIP_EXT = {
    "png", "gif", "jpg", "jpeg", "ico", "bmp", "svg", "svgz", "xpm", "tif",
    "woff", "woff2", "ttf", "otf", "eot", "pdf", "ps", "eps", "dvi", "pyc",
    "pyo", "mo", "gmo", "so", "a", "o", "tar", "tgz", "zip", "bz2", "xz",
    "lz", "lzma", "zst", "jar", "class", "js", "css", "map", "db", "bin",
    "wav", "ogg", "mp3", "sqlite", "pickle", "whl", "egg", "icns", "inv",
    "doctree", "pack", "idx", "deb",
}


def pkg_map():
    """Path -> Debian package, from dpkg's file lists."""
    m = {}
    d = "/var/lib/dpkg/info"
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return m
    for n in names:
        if not n.endswith(".list"):
            continue
        pkg = n[:-5].split(":")[0]
        try:
            with open(os.path.join(d, n), encoding="utf-8",
                      errors="replace") as f:
                for line in f:
                    m.setdefault(line.rstrip("\n"), pkg)
        except OSError:
            pass
    return m


def ext_of(name):
    n = name[:-3] if name.endswith(".gz") else name
    base = os.path.basename(n)
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def _py(n):
    return n.endswith(".py")


def _perl(n):
    return n.endswith((".pm", ".pod", ".pl"))


def _info(n):
    return ".info" in n


def _pgman(n):
    return "/man/" in n


# What is read under a root: (kind, subdirectory, file name filter or None).
TREES = [
    ("license", "usr/share/common-licenses", None),
    ("doc", "usr/share/doc", None),
    ("info", "usr/share/info", _info),
    ("man", "usr/share/man", None),
    ("man", "usr/share/postgresql", _pgman),
    ("include", "usr/include", None),
    ("python", "usr/lib/python3.11", _py),
    ("python", "usr/lib/python3/dist-packages", _py),
    ("perl", "usr/share/perl", _perl),
    ("perl", "usr/share/perl5", _perl),
]


def corpus_sources(extra):
    """[(kind, root dir, filter, prefix, package)]: the system's trees, then
    those of each package unpacked under extra/<package>/ (prefix is what
    to strip from a path to get the path it has when installed)."""
    srcs = [(k, "/" + d, f, "", None) for k, d, f in TREES]
    for pkg in sorted(os.listdir(extra)) if extra else []:
        top = os.path.join(extra, pkg)
        if os.path.isdir(top):
            srcs += [(k, os.path.join(top, d), f, top, pkg)
                     for k, d, f in TREES]
    return srcs


def source_tarballs(extra):
    """[(path, prefix, package)] of linux-source-*.tar.xz, system first."""
    out = []
    for top, pkg in [("", None)] + [
            (os.path.join(extra, p), p)
            for p in (sorted(os.listdir(extra)) if extra else [])]:
        d = os.path.join(top, "usr/src") if top else "/usr/src"
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            if n.startswith("linux-source-") and n.endswith(".tar.xz"):
                out.append((os.path.join(d, n), top, pkg))
    return out


def walk_files(root, filt):
    """Regular files under root (symlinks skipped), sorted by path."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for n in sorted(files):
            p = os.path.join(dirpath, n)
            if os.path.islink(p) or (filt and not filt(p)):
                continue
            if ext_of(n) in SKIP_EXT:
                continue
            out.append(p)
    return out


def gz_isize(p):
    try:
        with open(p, "rb") as f:
            f.seek(-4, 2)
            return int.from_bytes(f.read(4), "little")
    except OSError:
        return 0


def est_size(kind, p):
    n = gz_isize(p) if p.endswith(".gz") else os.path.getsize(p)
    if ext_of(p) in ("html", "htm", "xhtml"):
        n = int(n * 0.4)
    return n


def xz_usize(p):
    """Uncompressed size of an .xz file, from `xz --robot --list`."""
    try:
        out = subprocess.run(["xz", "--robot", "--list", p],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return os.path.getsize(p) * 8
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "totals":
            return int(f[4])
    return os.path.getsize(p) * 8


RE_SCRIPT = re.compile(r"(?is)<(script|style)\b.*?</\1\s*>")
RE_COMMENT = re.compile(r"(?s)<!--.*?-->")
RE_BLOCK = re.compile(r"(?i)</?(?:p|div|br|h[1-6]|li|tr|pre|table|section|"
                      r"dt|dd|blockquote|ul|ol|title|hr)\b[^>]*>")
RE_TAG = re.compile(r"<[^>]*>")
RE_BLANKS = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
RE_INLINE_WS = re.compile(r"[ \t]+")


def html_to_text(s):
    s = RE_SCRIPT.sub("", s)
    s = RE_COMMENT.sub("", s)
    s = RE_BLOCK.sub("\n", s)
    s = RE_TAG.sub("", s)
    s = html.unescape(s)
    s = "\n".join(RE_INLINE_WS.sub(" ", ln).strip() for ln in s.split("\n"))
    return RE_BLANKS.sub("\n\n", s).strip() + "\n"


TROFF_CHARS = {
    "aq": "'", "dq": '"', "em": "\u2014", "en": "\u2013", "bu": "\u2022",
    "co": "\u00a9", "lq": "\u201c", "rq": "\u201d", "oq": "\u2018",
    "cq": "\u2019", "mu": "\u00d7", ">=": "\u2265", "<=": "\u2264",
    "rs": "\\", "ti": "~", "ha": "^", "hy": "-", "ga": "`", "aa": "\u00b4",
}
RE_TROFF_ESC = re.compile(
    r"\\(?:f(?:\[[^\]]*\]|\(..|.)|\((..)|\[([^\]]*)\]|\*(?:\(..|\[[^\]]*\]|.)"
    r"|s[+-]?\d|([-e&|^c0 ~%,/:)]))")
FONT_ALT = {"BR", "RB", "BI", "IB", "IR", "RI"}
PARA = {"PP", "P", "LP", "TP", "IP", "HP", "sp", "br", "RS", "RE", "SH",
        "SS", "TQ", "nf", "fi", "EX", "EE", "Sh", "Ss", "Pp", "Bl", "El"}


def troff_esc(m):
    if m.group(1) is not None:
        return TROFF_CHARS.get(m.group(1), "")
    if m.group(2) is not None:
        return TROFF_CHARS.get(m.group(2), "")
    c = m.group(3)
    if c is None:
        return ""
    return {"-": "-", "e": "\\", " ": " ", "0": " ", "~": " "}.get(c, "")


def troff_to_text(s):
    """Very light troff to text: comments and requests dropped, macro
    arguments kept, font and character escapes resolved."""
    out = []
    for ln in s.split("\n"):
        if ln.startswith((".\\\"", "'\\\"", "\\\"", ".\\#")):
            continue
        if ln.startswith((".", "'")):
            parts = ln[1:].strip().split(None, 1)
            if not parts:
                continue
            mac, arg = parts[0], parts[1] if len(parts) > 1 else ""
            args = re.findall(r'"[^"]*"|\S+', arg)
            args = [x.strip('"') for x in args]
            if mac in PARA:
                out.append("")
                if mac in ("SH", "SS", "IP", "Sh", "Ss") and args:
                    out.append(" ".join(args) if mac != "IP" else args[0])
                continue
            if mac in FONT_ALT:
                out.append("".join(args))
            elif mac in ("B", "I", "SM", "SB", "Nm", "Ar", "Fl", "Nd", "Xr",
                         "Dq", "Ql", "Pa", "Em", "Li", "Cm", "Op", "It"):
                out.append(" ".join(args))
            elif mac == "TH" and args:
                out.append(" ".join(args[:2]))
            continue
        out.append(ln)
    s = RE_TROFF_ESC.sub(troff_esc, "\n".join(out))
    return RE_BLANKS.sub("\n\n", s).strip() + "\n"


def decode(data):
    """Text from file bytes, or None when the bytes look binary."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    high = sum(1 for b in data[:65536] if b >= 0x80)
    if high > len(data[:65536]) * 0.3:
        return None
    return data.decode("utf-8", errors="replace")


def split_chunks(text):
    """Cut text into pieces of at most CHUNK_MAX bytes of UTF-8, at
    paragraph boundaries when possible, then lines, then anywhere."""
    if text.isascii():
        size = len
    else:
        def size(x):
            return len(x.encode("utf-8"))
    if size(text) <= CHUNK_MAX:
        return [text]
    pieces = []
    for para in text.split("\n\n"):
        if size(para) + 2 <= CHUNK_MAX:
            pieces.append(para + "\n\n")
            continue
        for ln in para.split("\n"):
            while size(ln) + 1 > CHUNK_MAX:
                cut = CHUNK_MAX // 4  # characters: at most CHUNK_MAX bytes
                pieces.append(ln[:cut])
                ln = ln[cut:]
            pieces.append(ln + "\n")
        pieces.append("\n")
    out, cur, n = [], [], 0
    for p in pieces:
        k = size(p)
        if n + k > CHUNK_MAX and cur:
            out.append("".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur:
        out.append("".join(cur))
    return [c for c in out if c.strip()]


def keep_fraction(path, frac):
    return frac >= 1.0 or zlib.crc32(path.encode()) / 2**32 < frac


class Writer:
    def __init__(self, f):
        self.f = f
        self.records = 0
        self.bytes = 0
        self.by_kind = {}

    def file(self, kind, source, path, text):
        chunks = split_chunks(text)
        st = self.by_kind.setdefault(kind, [0, 0, 0])
        st[0] += 1
        for k, c in enumerate(chunks):
            rid = path if len(chunks) == 1 else "%s#%d" % (path, k)
            line = (json.dumps({"id": rid, "source": source, "text": c},
                               ensure_ascii=False) + "\n").encode("utf-8")
            self.f.write(line)
            self.records += 1
            self.bytes += len(line)
            st[1] += 1
            st[2] += len(line)


def read_text(kind, p):
    """The text of file p as a record body, or None to skip it."""
    try:
        with open(p, "rb") as g:
            data = g.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile):
        return None
    if kind == "info":
        data = data.replace(b"\x00\x08[index\x00\x08]", b"")
    text = decode(data)
    if text is None or not text.strip():
        return None
    if ext_of(p) in ("html", "htm", "xhtml"):
        text = html_to_text(text)
    elif kind == "man":
        text = troff_to_text(text)
    return text if text.strip() else None


def cmd_corpus(a):
    t0 = time.monotonic()
    min_bytes = int(a.min_mb * 1e6)
    extra = a.extra if a.extra and os.path.isdir(a.extra) else None
    plan = []  # (kind, path, installed path, package or None)
    seen_roots = set()
    for kind, root, filt, prefix, pkg in corpus_sources(extra):
        real = os.path.realpath(root)
        if not os.path.isdir(real) or real in seen_roots:
            continue
        seen_roots.add(real)
        for p in walk_files(root, filt):
            plan.append((kind, p, p[len(prefix):], pkg))
    tars = source_tarballs(extra)
    est = sum(est_size(k, p) for k, p, _, _ in plan) + \
        sum(int(xz_usize(t) * 0.9) for t, _, _ in tars)
    if a.estimate:
        print("%d" % (est // 1000000))
        return 0
    # Far more than asked for: keep a deterministic subset of the files.
    frac = 1.0
    if est > 1.5 * min_bytes:
        frac = 1.25 * min_bytes / est
    pkgs = pkg_map()
    tmp = a.out + ".tmp"
    skipped = 0
    with open(tmp, "wb", buffering=1 << 20) as f:
        w = Writer(f)
        for kind, p, rid, pkg in plan:
            if not keep_fraction(rid, frac):
                continue
            text = read_text(kind, p)
            if text is None:
                skipped += 1
                continue
            w.file(kind, "%s:%s" % (kind, pkg or pkgs.get(p, "unpackaged")),
                   rid, text)
        for t, prefix, pkg in tars:
            tid = t[len(prefix):]
            pkg = pkg or pkgs.get(t) or \
                os.path.basename(t).split(".tar")[0]
            with tarfile.open(t, "r|*") as tf:
                for m in tf:
                    name = "%s:%s" % (tid, m.name)
                    if not m.isfile() or ext_of(m.name) in SKIP_EXT or \
                            m.size == 0 or not keep_fraction(name, frac):
                        continue
                    g = tf.extractfile(m)
                    text = decode(g.read()) if g else None
                    if text is None or not text.strip():
                        skipped += 1
                        continue
                    w.file("src", "src:%s" % pkg, name, text)
    os.replace(tmp, a.out)
    dt = time.monotonic() - t0
    rep = {
        "out": a.out, "bytes": w.bytes, "mb": round(w.bytes / 1e6, 1),
        "records": w.records, "seconds": round(dt, 1),
        "estimated_mb": round(est / 1e6), "file_fraction": round(frac, 3),
        "skipped_files": skipped,
        "by_kind": {k: {"files": v[0], "records": v[1],
                        "mb": round(v[2] / 1e6, 1)}
                    for k, v in w.by_kind.items()},
    }
    json.dump(rep, sys.stdout, indent=1)
    print()
    if w.bytes < min_bytes:
        print("corpus: only %.1f MB of text, %d MB asked for"
              % (w.bytes / 1e6, a.min_mb), file=sys.stderr)
        return 2
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("kjv")
    s.add_argument("out")
    c = sub.add_parser("corpus")
    c.add_argument("out")
    c.add_argument("--min-mb", type=float, default=400)
    c.add_argument("--estimate", action="store_true")
    c.add_argument("--extra", default=None,
                   help="directory of packages unpacked as DIR/<package>/")
    a = ap.parse_args()
    if a.cmd == "sample":
        cmd_sample(a)
        return 0
    return cmd_corpus(a)


if __name__ == "__main__":
    sys.exit(main())
