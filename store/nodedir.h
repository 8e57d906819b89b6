/*
 * nodedir.h - reaching files under a storage node without following
 * symbolic links, for the commands that check and rewrite a set's shard
 * files (verify, repair, rebalance).
 *
 * Paths derived from a manifest are untrusted (docs/MANIFEST.md section 8):
 * shard names and relative node paths pass sc_manifest_name_ok(), so they
 * cannot climb out with "..", but a symbolic link planted under a node
 * could still send a reader, or worse a writer, elsewhere. These helpers
 * walk one component at a time with O_NOFOLLOW, so everything below the
 * node root (and, for a node stored relative to the set root, below the
 * set root) is reached only through real directories. An absolute node
 * path is followed as given: that is where the user put the data.
 */
#ifndef SC_NODEDIR_H
#define SC_NODEDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "manifest.h"

/*
 * Open the directory of node `node` of m for a set at `root`: an absolute
 * node path with open(2), a relative one from root component by
 * component without following links. Returns a directory fd (O_CLOEXEC)
 * or -errno (-ENOENT: missing, -ENOTDIR: not a directory, -ELOOP: a
 * symbolic link inside the set root); SC_ELIMIT when node is not a node
 * of m or the path is too long.
 */
int sc_nodedir_open(const struct sc_manifest *m, const char *root, uint32_t node);

/*
 * Open `rel` below the directory dirfd: every '/'-separated component but
 * the last as a real directory (O_NOFOLLOW; with `mkdirs`, missing ones
 * are created with mode 0755), the last with flags | O_NOFOLLOW |
 * O_CLOEXEC and `mode`. rel must pass sc_manifest_name_ok() (SC_EUSAGE
 * otherwise). Returns the fd or -errno (-ELOOP for a symbolic link).
 */
int sc_nodedir_openat(int dirfd, const char *rel, int flags, mode_t mode, int mkdirs);

/*
 * Open the regular file `rel` below dirfd for reading (no link followed,
 * O_NONBLOCK so a FIFO planted there cannot hang the caller) and fstat it
 * into *st. Returns the fd, -errno, or SC_EFORMAT when it is not a
 * regular file (st then says what it is).
 */
int sc_nodedir_open_file(int dirfd, const char *rel, struct stat *st);

/* "a directory", "a symbolic link", ... for messages about st_mode. */
const char *sc_nodedir_kind(mode_t mode);

#endif
