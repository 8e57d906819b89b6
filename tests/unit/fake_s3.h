/*
 * fake_s3.h - tests/unit/fake_s3.py, a small S3 look-alike on 127.0.0.1,
 * started and stopped for the unit tests that talk to S3 (test_s3.c,
 * test_s3node.c, test_s3root.c), and the AWS environment variables that
 * point the CLI's and the library's clients at it.
 *
 * Header-only (static functions): each test binary includes it once, as
 * the Makefile links one object per unit test. Where python3 cannot run
 * the server, fake_s3_start() leaves a reason in skip and FAKE_S3_NEED()
 * makes the tests against it skip loudly.
 */
#ifndef SC_TEST_FAKE_S3_H
#define SC_TEST_FAKE_S3_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FAKE_S3_AK "AKIDFAKE"
#define FAKE_S3_SK "fake/secret+key"

struct fake_s3 {
	pid_t pid;        /* the server, or -1 */
	int stdin_fd;     /* write end of its stdin: closing it stops it; -1 */
	int port;         /* its port on 127.0.0.1; 0 until it answered */
	char dir[256];    /* a temporary directory (port file), "" before start */
	const char *skip; /* why the tests against it skip, or NULL */
};

#define FAKE_S3_INIT { -1, -1, 0, "", NULL }

/*
 * Start the server (this file's directory holds fake_s3.py) with a
 * temporary directory named after `name`. 0 when it runs or when f->skip
 * says why it cannot; -1 where the test set-up itself fails.
 */
static inline int fake_s3_start(struct fake_s3 *f, const char *name)
{
	char script[1024], portfile[512];
	const char *here = __FILE__;
	const char *slash = strrchr(here, '/');
	int pfd[2];

	snprintf(script, sizeof(script), "%.*s/fake_s3.py", slash ? (int)(slash - here) : 1,
		 slash ? here : ".");
	if (access(script, R_OK) != 0) {
		f->skip = "tests/unit/fake_s3.py not found (run from the repository root)";
		return 0;
	}
	if (system("python3 -c 'import http.server' >/dev/null 2>&1") != 0) {
		f->skip = "python3 cannot be run";
		return 0;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/%s.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		return -1;
	}
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	if (pipe(pfd))
		return -1;
	f->pid = fork();
	if (f->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (f->pid == 0) {
		dup2(pfd[0], 0);
		close(pfd[0]);
		close(pfd[1]);
		execlp("python3", "python3", script, "--port-file", portfile, "--lifetime", "300",
		       (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	f->stdin_fd = pfd[1];
	for (int i = 0; i < 200; i++) { /* up to 20 s on a loaded machine */
		FILE *pf = fopen(portfile, "r");

		if (pf) {
			int ok = fscanf(pf, "%d", &f->port) == 1;

			fclose(pf);
			if (ok) {
				unlink(portfile);
				return 0;
			}
			f->port = 0;
		}
		usleep(100000);
	}
	unlink(portfile);
	f->skip = "fake_s3.py did not start";
	return 0;
}

/*
 * Point the AWS environment variables at the running server (bucket
 * names are the caller's), as the CLI and the library read them.
 */
static inline void fake_s3_env(const struct fake_s3 *f)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->port);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_CA_BUNDLE");
	setenv("AWS_ENDPOINT_URL_S3", url, 1);
	setenv("AWS_ACCESS_KEY_ID", FAKE_S3_AK, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FAKE_S3_SK, 1);
	setenv("AWS_REGION", "us-east-1", 1);
}

/* Stop the server (it exits when its stdin closes) and remove its directory. */
static inline void fake_s3_stop(struct fake_s3 *f)
{
	if (f->stdin_fd >= 0) {
		close(f->stdin_fd);
		f->stdin_fd = -1;
	}
	if (f->pid > 0) {
		int st;

		pid_t r = 0;

		for (int i = 0; i < 50 && (r = waitpid(f->pid, &st, WNOHANG)) == 0; i++)
			usleep(100000);
		if (r == 0) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, &st, 0);
		}
		f->pid = -1;
	}
	if (f->dir[0]) {
		rmdir(f->dir);
		f->dir[0] = '\0';
	}
}

/*
 * A counter of the server (GET /_stats, unsigned, not counted itself):
 * "requests", "gets" (GETs of objects), ... -1 when it cannot be read.
 */
static inline long fake_s3_stat(const struct fake_s3 *f, const char *name)
{
	char cmd[512], buf[64];
	long v = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,urllib.request;"
		 "print(json.load(urllib.request.urlopen(\"http://127.0.0.1:%d/_stats\"))[\"%s\"])'",
		 f->port, name);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(buf, sizeof(buf), p))
		v = strtol(buf, NULL, 10);
	pclose(p);
	return v;
}

/* In a test against the server: skip, saying why, where it is not running. */
#define FAKE_S3_NEED(f)                                                        \
	do {                                                                   \
		if ((f)->skip) {                                               \
			fprintf(stderr, "SKIP: %s\n", (f)->skip);              \
			skip();                                                \
		}                                                              \
	} while (0)

#endif
