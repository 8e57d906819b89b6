#!/usr/bin/env python3
"""fake_s3.py - a tiny S3 look-alike for the unit tests of io/s3.c.

It serves one in-memory bucket store over HTTP/1.1 with keep-alive on
127.0.0.1 (an ephemeral port, written to the file named by --port-file),
checks the AWS Signature V4 of every request itself (independently of
io/s3_wire.c: the canonical request is rebuilt from what arrived on the
wire), and misbehaves on purpose for keys under some prefixes:

  err503x2/...   503 SlowDown twice per key, then normal
  err500/...     always 500 InternalError
  reset1/...     the first request per key: connection closed, no answer
  stall/...      headers sent, then the body stalls (low-speed timeout)
  hang/...       no answer at all for 30 s (total timeout)
  noetag/...     PUT/part answers without an ETag
  ignorerange/.. GET answers 200 with the whole object
  partfail/...   every UploadPart with partNumber 2 fails with 500
  slowparts/...  every UploadPart answers only after 30 s
  completeerr/.. CompleteMultipartUpload answers 200 with an <Error> body
  copyerr/...    CopyObject to such a key answers 200 with an <Error> body
  copydeep/...   CopyObject to such a key answers 200 with an <Error> nested
                 in the result document
  slow/...       every request answers only after 50 ms (to see how many
                 requests a client keeps in flight)
  /_stats        (unsigned) JSON counters: connections, requests, aborts,
                 gets (GETs of objects, ranged or not, whatever the answer),
                 max_active (most requests being answered at once),
                 slow_max_active (the same for requests for slow/ keys)

Only what io/s3.c uses is implemented: GET (Range, If-Match), HEAD, PUT,
DELETE, CopyObject (PUT with x-amz-copy-source, which must be signed),
ListObjectsV2 (pages of --page keys), and multipart uploads.
It exits when its parent's stdin closes or after --lifetime seconds.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS = "AKIDFAKE"
SECRET = "fake/secret+key"
REGION = "us-east-1"

objects = {}      # (bucket, key) -> bytes
mp_etags = {}     # (bucket, key) -> ETag of a completed multipart upload
uploads = {}      # upload id -> {"bucket","key","parts": {n: bytes}}
counts = {}       # (prefix-kind, key) -> requests seen
stats = {"connections": 0, "requests": 0, "aborts": 0, "bad_signatures": 0,
         "completes": 0, "parts": 0, "copies": 0, "gets": 0, "active": 0,
         "max_active": 0, "slow_active": 0, "slow_max_active": 0}
lock = threading.Lock()
PAGE = 2


def s3_quote(s, safe):
    return urllib.parse.quote(s, safe=safe)


def canonical_query(raw):
    if not raw:
        return ""
    pairs = []
    for item in raw.split("&"):
        if "=" in item:
            k, v = item.split("=", 1)
        else:
            k, v = item, ""
        k = urllib.parse.unquote(k)
        v = urllib.parse.unquote(v)
        pairs.append((s3_quote(k, "-_.~"), s3_quote(v, "-_.~")))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def check_signature(h, path, query, payload_hash):
    auth = h.headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,"
                 r"SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$", auth)
    if not m:
        return "missing or malformed Authorization"
    ak, date8, region, signed, sig = m.groups()
    if ak != ACCESS:
        return "InvalidAccessKeyId"
    names = signed.split(";")
    needed = ["host", "x-amz-date", "x-amz-content-sha256"]
    if h.headers.get("x-amz-copy-source") is not None:
        needed.append("x-amz-copy-source")
    for need in needed:
        if need not in names:
            return "header %s not signed" % need
    lines = []
    for n in names:
        v = h.headers.get(n)
        if v is None:
            return "signed header %s missing" % n
        lines.append("%s:%s" % (n, " ".join(v.strip().split())))
    # the path as S3 would canonicalise it from the decoded key: a client
    # that encodes differently signs a different string
    canon_path = s3_quote(urllib.parse.unquote(path), "/-_.~")
    creq = "\n".join([h.command, canon_path, canonical_query(query)] + lines +
                     ["", signed, payload_hash])
    amz_date = h.headers.get("x-amz-date")
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/s3/aws4_request" % (date8, region),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for part in (date8, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if want != sig:
        return "SignatureDoesNotMatch"
    return None


def err_xml(code, msg, key=""):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
            "<Message>%s</Message><Key>%s</Key><RequestId>req-%s</RequestId></Error>"
            % (code, msg, key, code)).encode()


def etag_of(b):
    return '"%s"' % hashlib.md5(b).hexdigest()


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1

    def send(self, code, body=b"", headers=None, head_only=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head_only:
            self.wfile.write(body)

    def fail(self, code, s3code, msg, key=""):
        self.send(code, err_xml(s3code, msg, key), {"Content-Type": "application/xml",
                                                     "x-amz-request-id": "req-" + s3code},
                  head_only=self.command == "HEAD")

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def nth(self, kind, key):
        with lock:
            counts[(kind, key)] = counts.get((kind, key), 0) + 1
            return counts[(kind, key)]

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_stats":
            self.send(200, json.dumps(stats).encode())
            return
        with lock:
            stats["requests"] += 1
        data = self.body() if self.command in ("PUT", "POST") else b""
        phash = self.headers.get("x-amz-content-sha256", "")
        problem = check_signature(self, url.path, url.query, phash)
        if problem:
            with lock:
                stats["bad_signatures"] += 1
            code = "InvalidAccessKeyId" if problem == "InvalidAccessKeyId" else "SignatureDoesNotMatch"
            self.fail(403, code, problem)
            return
        if phash != "UNSIGNED-PAYLOAD" and hashlib.sha256(data).hexdigest() != phash:
            self.fail(400, "XAmzContentSHA256Mismatch", "payload hash mismatch")
            return
        parts = url.path.split("/", 2)
        bucket = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if self.command == "GET" and key:
            with lock:
                stats["gets"] += 1
        if bucket != "bkt":
            self.fail(404, "NoSuchBucket", "The specified bucket does not exist", key)
            return

        if key.startswith("err503x2/") and self.nth("503", key) <= 2:
            self.fail(503, "SlowDown", "Please reduce your request rate.", key)
            return
        if key.startswith("err500/"):
            self.fail(500, "InternalError", "We encountered an internal error.", key)
            return
        if key.startswith("reset1/") and self.nth("reset", key) == 1:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if key.startswith("hang/"):
            time.sleep(30)
            return
        if key.startswith("stall/") and self.command == "GET":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            time.sleep(30)
            return

        if self.command == "GET" and not key:
            return self.list_v2(bucket, q)
        if self.command == "POST" and "uploads" in q:
            uid = "up%d-%s" % (len(uploads) + 1, hashlib.md5(key.encode()).hexdigest()[:8])
            with lock:
                uploads[uid] = {"bucket": bucket, "key": key, "parts": {}}
            self.send(200, ("<?xml version=\"1.0\"?><InitiateMultipartUploadResult>"
                            "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                            "</InitiateMultipartUploadResult>" % (bucket, xml_escape(key), uid)).encode())
            return
        if self.command == "PUT" and "uploadId" in q:
            up = uploads.get(q["uploadId"])
            if not up:
                self.fail(404, "NoSuchUpload", "no such upload", key)
                return
            n = int(q["partNumber"])
            if key.startswith("slowparts/"):
                time.sleep(30)
                return
            if key.startswith("partfail/") and n == 2:
                self.fail(500, "InternalError", "part failed", key)
                return
            with lock:
                up["parts"][n] = data
                stats["parts"] += 1
            self.send(200, b"", {} if key.startswith("noetag/") else {"ETag": etag_of(data)})
            return
        if self.command == "POST" and "uploadId" in q:
            up = uploads.get(q["uploadId"])
            if not up:
                self.fail(404, "NoSuchUpload", "no such upload", key)
                return
            if key.startswith("completeerr/"):
                self.send(200, err_xml("InvalidPart", "One or more of the specified parts could not be found", key))
                return
            listed = re.findall(r"<PartNumber>(\d+)</PartNumber><ETag>([^<]*)</ETag>", data.decode())
            nums = [int(n) for n, _ in listed]
            if nums != list(range(1, len(nums) + 1)) or set(nums) != set(up["parts"]):
                self.fail(400, "InvalidPartOrder", "parts %s vs %s" % (nums, sorted(up["parts"])), key)
                return
            for n, tag in listed:
                if tag.replace("&quot;", '"') != etag_of(up["parts"][int(n)]):
                    self.fail(400, "InvalidPart", "etag of part %s" % n, key)
                    return
            whole = b"".join(up["parts"][n] for n in nums)
            tag = '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(up["parts"][n]).digest() for n in nums)).hexdigest(), len(nums))
            with lock:
                objects[(bucket, key)] = whole
                mp_etags[(bucket, key)] = tag
                del uploads[q["uploadId"]]
                stats["completes"] += 1
            self.send(200, ("<CompleteMultipartUploadResult><Key>%s</Key><ETag>%s</ETag>"
                            "</CompleteMultipartUploadResult>" % (xml_escape(key), tag.replace('"', "&quot;"))).encode())
            return
        if self.command == "DELETE" and "uploadId" in q:
            with lock:
                stats["aborts"] += 1
                found = uploads.pop(q["uploadId"], None)
            if not found:
                self.fail(404, "NoSuchUpload", "no such upload", key)
                return
            self.send(204)
            return
        if self.command == "PUT" and self.headers.get("x-amz-copy-source") is not None:
            return self.copy_object(bucket, key, data)
        if self.command == "PUT":
            with lock:
                objects[(bucket, key)] = data
                mp_etags.pop((bucket, key), None)
            self.send(200, b"", {} if key.startswith("noetag/") else {"ETag": etag_of(data)})
            return
        obj = objects.get((bucket, key))
        if self.command == "DELETE":
            with lock:
                objects.pop((bucket, key), None)
            self.send(204)
            return
        if obj is None:
            self.fail(404, "NoSuchKey", "The specified key does not exist.", key)
            return
        tag = mp_etags.get((bucket, key), etag_of(obj))
        im = self.headers.get("If-Match")
        if im is not None and im != tag:
            self.fail(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", key)
            return
        if self.command == "HEAD":
            self.send(200, obj, {"ETag": tag}, head_only=True)
            return
        rng = self.headers.get("Range")
        if rng and not key.startswith("ignorerange/"):
            m = re.match(r"bytes=(\d+)-(\d+)$", rng)
            a, b = int(m.group(1)), int(m.group(2))
            if a >= len(obj):
                self.send(416, err_xml("InvalidRange", "The requested range is not satisfiable", key),
                          {"Content-Range": "bytes */%d" % len(obj)})
                return
            b = min(b, len(obj) - 1)
            self.send(206, obj[a:b + 1], {"ETag": tag, "Content-Range": "bytes %d-%d/%d" % (a, b, len(obj))})
            return
        self.send(200, obj, {"ETag": tag})

    def copy_object(self, bucket, key, data):
        if data:
            self.fail(400, "InvalidRequest", "CopyObject with a body", key)
            return
        src = urllib.parse.unquote(self.headers.get("x-amz-copy-source"))
        sb, _, sk = src.lstrip("/").partition("/")
        obj = objects.get((sb, sk))
        if obj is None:
            self.fail(404, "NoSuchKey", "The specified key does not exist.", sk)
            return
        if key.startswith("copyerr/"):
            self.send(200, err_xml("InternalError", "We encountered an internal error. Please try again.", key))
            return
        if key.startswith("copydeep/"):
            self.send(200, b"<?xml version=\"1.0\"?><CopyObjectResult><Error><Code>SlowDownCopy</Code>"
                      b"<Message>copy failed late</Message></Error></CopyObjectResult>")
            return
        tag = mp_etags.get((sb, sk), etag_of(obj))
        with lock:
            objects[(bucket, key)] = obj
            if (sb, sk) in mp_etags:
                mp_etags[(bucket, key)] = tag
            else:
                mp_etags.pop((bucket, key), None)
            stats["copies"] += 1
        self.send(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyObjectResult>"
                        "<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>%s</ETag>"
                        "</CopyObjectResult>" % tag.replace('"', "&quot;")).encode(),
                  {"Content-Type": "application/xml"})

    def list_v2(self, bucket, q):
        if q.get("list-type") != "2":
            self.fail(400, "InvalidArgument", "list-type", "")
            return
        prefix = q.get("prefix", "")
        keys = sorted(k for (b, k) in objects if b == bucket and k.startswith(prefix))
        start = q.get("continuation-token", "")
        if start:
            keys = [k for k in keys if k > start]
        page, rest = keys[:PAGE], keys[PAGE:]
        out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
               "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
               "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>" % (bucket, xml_escape(prefix), len(page))]
        for k in page:
            o = objects[(bucket, k)]
            out.append("<Contents><Key>%s</Key><Size>%d</Size><ETag>%s</ETag></Contents>"
                       % (xml_escape(k), len(o), etag_of(o).replace('"', "&quot;")))
        out.append("<IsTruncated>%s</IsTruncated>" % ("true" if rest else "false"))
        if rest:
            out.append("<NextContinuationToken>%s</NextContinuationToken>" % xml_escape(page[-1]))
        out.append("</ListBucketResult>")
        self.send(200, "".join(out).encode(), {"Content-Type": "application/xml"})

    def handle_counted(self):
        if urllib.parse.urlsplit(self.path).path == "/_stats":
            self.handle_any()
            return
        with lock:
            stats["active"] += 1
            stats["max_active"] = max(stats["max_active"], stats["active"])
        slow = urllib.parse.urlsplit(self.path).path.split("/", 2)[-1].startswith("slow/")
        if slow:
            with lock:
                stats["slow_active"] += 1
                stats["slow_max_active"] = max(stats["slow_max_active"], stats["slow_active"])
        try:
            if slow:
                time.sleep(0.05)
            self.handle_any()
        finally:
            with lock:
                stats["active"] -= 1
                if slow:
                    stats["slow_active"] -= 1

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_counted


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # resets and stalls are on purpose


def main():
    global PAGE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--page", type=int, default=2)
    a = ap.parse_args()
    PAGE = a.page
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    def watch_stdin():
        try:
            sys.stdin.read()
        except Exception:
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    time.sleep(a.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
