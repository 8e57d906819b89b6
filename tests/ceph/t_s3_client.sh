# The S3 client (io/s3.h) against radosgw: PUT/GET ranges/multipart/HEAD/
# LIST/DELETE with contents checked, many requests in flight over kept-alive
# connections, and clear errors for a missing object (404), a missing bucket
# and wrong credentials (403). See tests/ceph/s3_smoke.c.
. "$TESTS_DIR/lib.sh"
"$CEPH_BIN_DIR/s3_smoke" basic
