/*
 * umount.c - `shardctl umount MOUNTPOINT`: unmount a set mounted with
 * `shardctl mount` (docs/MOUNT.md). Only a mount of type fuse.shardctl is
 * touched. Root unmounts with umount2(2); other users through
 * fusermount3 -u, the setuid helper that mounted it. The serving process
 * sees its connection close, frees everything and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "mountfs.h"

static const char umount_usage[] =
"usage: shardctl umount MOUNTPOINT [-z|--lazy]\n"
"\n"
"Unmount a set mounted with `shardctl mount`; its process then exits.\n"
"Anything that is not a shardctl mount is refused.\n"
"  -z, --lazy    detach it now even if files on it are open; it goes away\n"
"                when they are closed\n"
"Exit status: 0 unmounted; 1 not a shardctl mount, busy, or not permitted\n"
"(the message says why); 2 usage error.\n";

/*
 * The absolute path of the mount point. realpath() fails on a mount whose
 * process has died (ENOTCONN), so then resolve the parent and append the
 * last component. 0 or -1 (said).
 */
static int resolve(const char *given, char *out)
{
	char copy[PATH_MAX], base[PATH_MAX], parent[PATH_MAX];
	size_t n = strlen(given);

	if (realpath(given, out))
		return 0;
	if (errno != ENOTCONN && errno != EIO) {
		cmd_error("mountpoint '%s': %s", given, strerror(errno));
		return -1;
	}
	if (n == 0 || n >= sizeof(copy)) {
		cmd_error("mountpoint '%s': path too long", given);
		return -1;
	}
	memcpy(copy, given, n + 1);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	snprintf(base, sizeof(base), "%s", basename(copy));
	if (!realpath(dirname(copy), parent)) {
		cmd_error("mountpoint '%s': %s", given, strerror(errno));
		return -1;
	}
	if (snprintf(out, PATH_MAX, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base) >=
	    PATH_MAX) {
		cmd_error("mountpoint '%s': path too long", given);
		return -1;
	}
	return 0;
}

/* fusermount3 -u [-z] -- path; its exit status, or -1. */
static int fusermount(const char *path, int lazy)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", "--", path, (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "--", path, (char *)NULL);
		cmd_error("cannot run fusermount3: %s", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "lazy", no_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	char path[PATH_MAX], type[256];
	int c, lazy = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hz", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(umount_usage, stdout);
			return EXIT_OK;
		case 'z':
			lazy = 1;
			break;
		default:
			fputs(umount_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(umount_usage, stderr);
		return EXIT_USAGE;
	}
	if (resolve(argv[optind], path))
		return EXIT_FAIL;
	rc = cmd_mount_find(path, type, sizeof(type));
	if (rc < 0) {
		cmd_error("cannot read the mount table: %s", strerror(-rc));
		return EXIT_FAIL;
	}
	if (rc == 0) {
		cmd_error("'%s' is not mounted", argv[optind]);
		return EXIT_FAIL;
	}
	if (strcmp(type, CMD_MOUNT_FSTYPE)) {
		cmd_error("'%s' is not a shardctl mount (it is %s); use umount(8)", argv[optind],
			  type);
		return EXIT_FAIL;
	}
	if (geteuid() == 0) {
		if (umount2(path, lazy ? MNT_DETACH : 0) == 0)
			return EXIT_OK;
		if (errno == EBUSY)
			cmd_error("'%s' is busy: files or directories on it are in use "
				  "(close them, or use --lazy)", argv[optind]);
		else
			cmd_error("cannot unmount '%s': %s", argv[optind], strerror(errno));
		return EXIT_FAIL;
	}
	rc = fusermount(path, lazy);
	if (rc == 0)
		return EXIT_OK;
	if (rc < 0)
		cmd_error("cannot unmount '%s': fusermount3 did not run", argv[optind]);
	else
		cmd_error("cannot unmount '%s': fusermount3 -u failed (exit %d)", argv[optind], rc);
	return EXIT_FAIL;
}
