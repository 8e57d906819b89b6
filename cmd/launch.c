/*
 * launch.c - the driver of `shardctl ingest --tasks N --launcher
 * local|slurm` (docs/TASKS.md section 5): make the plan (or take up the
 * interrupted one with --resume), run its task graph, wait until the set is
 * committed or a task failed, and report.
 *
 * Both launchers run the very same tasks: `shardctl ingest-task PLAN PHASE
 * INDEX`, this binary, with its output in PLAN/logs/PHASE-INDEX.log.
 *   local  a pool of up to N child processes, phase after phase, each
 *          task with its share of --threads;
 *   slurm  one job array per phase (sbatch --array), each depending on
 *          the one before (--dependency=afterok, --kill-on-invalid-dep=yes:
 *          a failed task cancels every later phase); progress and failures
 *          come from the done markers and from squeue, polled every 0.2 s.
 * On failure the driver waits for the other tasks of the failing phase
 * (their work is kept), names the failed tasks and their logs and exits
 * 1; the plan stays for --resume, which runs only unfinished tasks.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"
#include "ingest.h"
#include "plan.h"
#include "sc_base.h"
#include "tasks.h"

#define POLL_S 0.2                /* progress and squeue polling period */
#define SLURM_LOST_POLLS 25       /* a task missing from squeue this long is lost */
#define SLURM_SQUEUE_FAILS 50     /* squeue failing this many times in a row */
#define LOG_TAIL_LINES 12         /* lines of a failed task's log shown */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

struct run {
	const struct sc_plan *p;
	const struct cmd_tasks_opts *t;
	char self[PATH_MAX];                  /* this binary */
	unsigned char *done[SC_PHASE__COUNT]; /* tasks seen done */
	uint32_t ndone[SC_PHASE__COUNT];
	int phase_said[SC_PHASE__COUNT];      /* completion line printed */
	double t0;                            /* start of the run */
	double last_progress;
	int line_shown;                       /* a progress line needs erasing */
};

static void erase_line(struct run *r)
{
	if (r->line_shown) {
		fputs("\r\033[K", stderr);
		r->line_shown = 0;
	}
}

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct run *r, const char *fmt, ...)
{
	va_list ap;

	erase_line(r);
	va_start(ap, fmt);
	cmd_verror(fmt, ap);
	va_end(ap);
}

/* Count done markers (a task seen done is not looked at again). */
static void refresh_done(struct run *r)
{
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
		uint32_t n = sc_plan_phase_tasks(r->p, (enum sc_phase)ph);

		for (uint32_t i = 0; i < n; i++)
			if (!r->done[ph][i] && sc_plan_task_done(r->p, (enum sc_phase)ph, i)) {
				r->done[ph][i] = 1;
				r->ndone[ph]++;
			}
	}
}

static void progress(struct run *r, int force)
{
	double t = cmd_now_s();
	char line[512];
	size_t l = 0;

	if (!force && t - r->last_progress < POLL_S)
		return;
	r->last_progress = t;
	refresh_done(r);
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
		uint32_t n = sc_plan_phase_tasks(r->p, (enum sc_phase)ph);

		if (!n)
			continue;
		if (r->ndone[ph] == n && !r->phase_said[ph]) {
			r->phase_said[ph] = 1;
			if (!r->t->quiet && !r->t->tty)
				say(r, "%s: %" PRIu32 "/%" PRIu32 " tasks done (%.1f s)",
				    sc_phase_name((enum sc_phase)ph), n, n, t - r->t0);
		}
		l += (size_t)snprintf(line + l, sizeof(line) - l, "%s%s %" PRIu32 "/%" PRIu32,
				      l ? " | " : "", sc_phase_name((enum sc_phase)ph),
				      r->ndone[ph], n);
	}
	if (r->t->quiet || !r->t->tty)
		return;
	fprintf(stderr, "\r\033[K%s | %.1f s", line, t - r->t0);
	r->line_shown = 1;
}

/* Print the end of a task's log, indented. */
static void show_log_tail(struct run *r, const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), lines = 0;
	off_t size;
	char *p;

	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1 ?
		  size - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (p = buf + n; p > buf && lines < LOG_TAIL_LINES; p--)
		if (p[-1] == '\n' && ++lines == LOG_TAIL_LINES)
			break;
	erase_line(r);
	for (char *q = strtok(p, "\n"); q; q = strtok(NULL, "\n"))
		fprintf(stderr, "    | %s\n", q);
}

static void report_failed(struct run *r, enum sc_phase ph, uint32_t i, const char *how)
{
	char log[SC_PATH_MAX];

	sc_plan_log_path(r->p, ph, i, log, sizeof(log));
	say(r, "task %s %" PRIu32 " failed (%s); log: %s", sc_phase_name(ph), i, how, log);
	show_log_tail(r, log);
}

/* ---- local: a process pool ---- */

struct child {
	pid_t pid;      /* running child */
	uint32_t idx;   /* its task */
};

static pid_t spawn_task(struct run *r, enum sc_phase ph, uint32_t i, unsigned threads)
{
	char log[SC_PATH_MAX], idx[16], thr[16];
	char *argv[] = { "shardctl", "ingest-task", (char *)(uintptr_t)r->p->dir,
			 (char *)(uintptr_t)sc_phase_name(ph), idx, "--threads", thr, NULL };
	pid_t pid;

	snprintf(idx, sizeof(idx), "%" PRIu32, i);
	snprintf(thr, sizeof(thr), "%u", threads);
	if (sc_plan_log_path(r->p, ph, i, log, sizeof(log)))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(r->self, argv);
		dprintf(2, "shardctl: cannot run '%s': %s\n", r->self, strerror(errno));
		_exit(127);
	}
	return pid;
}

static void describe_status(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, n, "status %d", st);
}

static int run_local(struct run *r)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned total = r->t->threads ? r->t->threads : cores < 1 ? 1 : (unsigned)cores;
	struct child *kids = calloc(r->t->tasks, sizeof(*kids));
	uint32_t *pending = calloc(r->t->tasks, sizeof(*pending));
	int failed = 0;

	if (!kids || !pending) {
		free(kids);
		free(pending);
		say(r, "out of memory");
		return EXIT_FAIL;
	}
	for (int ph = 0; ph < SC_PHASE__COUNT && !failed && !stop_signal; ph++) {
		uint32_t n = sc_plan_phase_tasks(r->p, (enum sc_phase)ph), np = 0, next = 0;
		uint32_t running = 0, conc;
		unsigned threads;
		int killed = 0;

		for (uint32_t i = 0; i < n; i++)
			if (!sc_plan_task_done(r->p, (enum sc_phase)ph, i))
				pending[np++] = i;
		if (!np)
			continue;
		conc = np < r->t->tasks ? np : r->t->tasks;
		threads = total / conc ? total / conc : 1;
		while ((next < np && !failed && !stop_signal) || running) {
			int st;
			pid_t pid;

			while (running < conc && next < np && !failed && !stop_signal) {
				pid = spawn_task(r, (enum sc_phase)ph, pending[next], threads);
				if (pid < 0) {
					say(r, "cannot start task %s %" PRIu32 ": %s",
					    sc_phase_name((enum sc_phase)ph), pending[next],
					    strerror(errno));
					failed = 1;
					break;
				}
				kids[running].pid = pid;
				kids[running].idx = pending[next++];
				running++;
			}
			if (stop_signal && !killed) {
				for (uint32_t k = 0; k < running; k++)
					kill(kids[k].pid, SIGTERM);
				killed = 1;
			}
			pid = waitpid(-1, &st, WNOHANG);
			if (pid < 0 && errno == EINTR)
				continue;
			if (pid <= 0) {
				if (pid < 0)
					break;
				usleep(10000);
				progress(r, 0);
				continue;
			}
			for (uint32_t k = 0; k < running; k++) {
				char how[64];

				if (kids[k].pid != pid)
					continue;
				if (!WIFEXITED(st) || WEXITSTATUS(st) ||
				    !sc_plan_task_done(r->p, (enum sc_phase)ph, kids[k].idx)) {
					describe_status(st, how, sizeof(how));
					if (WIFEXITED(st) && !WEXITSTATUS(st))
						snprintf(how, sizeof(how), "exit 0 without its done marker");
					if (!stop_signal)
						report_failed(r, (enum sc_phase)ph, kids[k].idx, how);
					failed = 1;
				}
				kids[k] = kids[--running];
				break;
			}
			if (failed && running && !stop_signal && !killed)
				progress(r, 0);
		}
		progress(r, 1);
	}
	free(kids);
	free(pending);
	if (stop_signal)
		return -1;
	return failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- slurm: job arrays ---- */

/* The path of program name in $PATH, or NULL. */
static int in_path(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	while (path && *path) {
		size_t l = strcspn(path, ":");

		if (l && l < sizeof(dir)) {
			memcpy(dir, path, l);
			dir[l] = '\0';
			if ((size_t)snprintf(out, n, "%s/%s", dir, name) < n && !access(out, X_OK))
				return 0;
		}
		path += l + (path[l] == ':');
	}
	return -1;
}

#define CAPTURE_TOO_LONG (-2) /* run_capture: the output did not fit out */

/*
 * Run argv, its stdout and stderr into out, always NUL-terminated (out->len
 * excludes the NUL); the exit status, -1 when it could not be run or
 * waited for, or CAPTURE_TOO_LONG when its output did not fit out->max
 * (out then holds the beginning; the rest is read and dropped, so the
 * child never blocks on a full pipe).
 */
static int run_capture(char *const argv[], struct sc_buf *out)
{
	int pfd[2], st, too_long = 0;
	pid_t pid;
	char buf[4096];

	out->len = 0;
	if (out->max < 1 || sc_buf_reserve(out, 1))
		return -1;
	out->data[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t k = read(pfd[0], buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		/* room for the bytes and the NUL after them, or drop the rest */
		if (too_long || sc_buf_reserve(out, (size_t)k + 1)) {
			too_long = 1;
			continue;
		}
		memcpy(out->data + out->len, buf, (size_t)k);
		out->len += (size_t)k;
	}
	close(pfd[0]);
	out->data[out->len] = '\0';
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (too_long)
		return CAPTURE_TOO_LONG;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* What a run_capture status means, for messages. */
static void describe_capture(int st, char *buf, size_t n, size_t max)
{
	if (st == CAPTURE_TOO_LONG)
		snprintf(buf, n, "output longer than %zu bytes", max - 1);
	else if (st < 0)
		snprintf(buf, n, "could not run it");
	else
		snprintf(buf, n, "exit %d", st);
}

/* Split s at white space, with '...' and "..." quoting, into argv entries. */
static int split_args(const char *s, char ***argv, size_t *argc, char **store)
{
	char *d = malloc(strlen(s) + 1), **v = NULL;
	size_t n = 0, cap = 0;

	*store = d;
	if (!d)
		return -1;
	while (*s) {
		char q = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		if (n + 1 >= cap) {
			void *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));

			if (!nv) {
				free(v);
				return -1;
			}
			v = nv;
		}
		v[n++] = d;
		for (; *s && (q || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
			if (!q && (*s == '\'' || *s == '"'))
				q = *s;
			else if (q && *s == q)
				q = 0;
			else
				*d++ = *s;
		}
		if (q) {
			free(v);
			return -1;
		}
		*d++ = '\0';
	}
	*argv = v;
	*argc = n;
	return 0;
}

/* "0-3,5,7-9" for the pending tasks of a phase. */
static char *array_spec(const uint32_t *idx, uint32_t n)
{
	size_t cap = (size_t)n * 24 + 1, l = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = '\0';
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;

		while (j + 1 < n && idx[j + 1] == idx[j] + 1)
			j++;
		l += (size_t)snprintf(s + l, cap - l, "%s%" PRIu32, l ? "," : "", idx[i]);
		if (j > i)
			l += (size_t)snprintf(s + l, cap - l, "-%" PRIu32, idx[j]);
		i = j + 1;
	}
	return s;
}

/* shell single-quoting of s, appended to b; 0 or negative */
static int shell_quote(struct sc_buf *b, const char *s)
{
	int rc = sc_buf_putc(b, '\'');

	for (; *s && !rc; s++)
		rc = *s == '\'' ? sc_buf_append(b, "'\\''", 4) : sc_buf_putc(b, *s);
	return rc ? rc : sc_buf_putc(b, '\'');
}

/*
 * sbatch's --wrap=... argument (NUL-terminated) for the tasks of phase ph:
 * this binary run as ingest-task. SHARDCTL_PLAN_DRIVER is set by the
 * script rather than inherited, so that it reaches the task whatever
 * environment Slurm passes on (--export=NONE, SBATCH_EXPORT=NONE, where
 * not even PATH may be set): without it, the commit task would remove the
 * plan, done markers included, that this command is waiting on.
 */
static int wrap_command(const struct run *r, enum sc_phase ph, struct sc_buf *wrap)
{
	const char *name = sc_phase_name(ph);
	char thr[32] = "";
	int rc;

	if (r->t->threads)
		snprintf(thr, sizeof(thr), " --threads %u", r->t->threads);
	rc = sc_buf_append(wrap, "--wrap=export SHARDCTL_PLAN_DRIVER=1; exec ", 43);
	if (!rc)
		rc = shell_quote(wrap, r->self);
	if (!rc)
		rc = sc_buf_append(wrap, " ingest-task ", 13);
	if (!rc)
		rc = shell_quote(wrap, r->p->dir);
	if (!rc)
		rc = sc_buf_putc(wrap, ' ');
	if (!rc)
		rc = sc_buf_append(wrap, name, strlen(name));
	if (!rc)
		rc = sc_buf_append(wrap, thr, strlen(thr) + 1); /* with the NUL */
	return rc;
}

static int is_live(const char *st)
{
	static const char *const live[] = {
		"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
		"REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
		"SPECIAL_EXIT",
	};

	for (size_t i = 0; i < SC_ARRAY_LEN(live); i++)
		if (!strcmp(st, live[i]))
			return 1;
	return 0;
}

static int submit(struct run *r, enum sc_phase ph, const uint32_t *idx, uint32_t n,
		  uint64_t after, char *const *user, size_t nuser, uint64_t *job)
{
	char jobname[64], output[SC_PATH_MAX + 64], dep[64], how[64];
	char *spec = array_spec(idx, n), **argv;
	struct sc_buf wrap, out;
	size_t k = 0;
	int st, rc = -1;

	sc_buf_init(&wrap, 1 << 20);
	sc_buf_init(&out, 1 << 20);
	argv = calloc(nuser + 16, sizeof(*argv));
	if (!spec || !argv)
		goto out;
	snprintf(jobname, sizeof(jobname), "--job-name=shardctl-%s", sc_phase_name(ph));
	snprintf(output, sizeof(output), "--output=%s/logs/%s-%%06a.log", r->p->dir,
		 sc_phase_name(ph));
	snprintf(dep, sizeof(dep), "--dependency=afterok:%" PRIu64, after);
	if (wrap_command(r, ph, &wrap)) {
		say(r, "sbatch for phase %s: command line too long", sc_phase_name(ph));
		goto out;
	}
	argv[k++] = "sbatch";
	argv[k++] = "--parsable";
	argv[k++] = jobname;
	argv[k++] = "--array";
	argv[k++] = spec;
	argv[k++] = output;
	argv[k++] = "--kill-on-invalid-dep=yes";
	if (after)
		argv[k++] = dep;
	for (size_t i = 0; i < nuser; i++)
		argv[k++] = user[i];
	argv[k++] = wrap.data;
	argv[k] = NULL;
	st = run_capture(argv, &out);
	if (st != 0) {
		describe_capture(st, how, sizeof(how), out.max);
		say(r, "sbatch failed for phase %s (%s): %s", sc_phase_name(ph), how,
		    out.len ? out.data : "(no output)");
		goto out;
	}
	/* --parsable: "JOBID" or "JOBID;CLUSTER" on the last line */
	{
		char *line, *end = out.data + out.len;
		uint64_t id = 0;

		while (end > out.data && end[-1] == '\n')
			*--end = '\0';
		line = memrchr(out.data, '\n', (size_t)(end - out.data));
		line = line ? line + 1 : out.data;
		line[strcspn(line, ";")] = '\0';
		if (cmd_parse_uint(line, 1, UINT64_MAX, &id) == 0) {
			*job = id;
			rc = 0;
		} else {
			say(r, "sbatch for phase %s printed no job id: %s", sc_phase_name(ph),
			    out.len ? out.data : "(no output)");
		}
	}
out:
	free(spec);
	free(argv);
	sc_buf_release(&wrap);
	sc_buf_release(&out);
	return rc;
}

static void scancel_jobs(const uint64_t *jobs, int from)
{
	char *argv[SC_PHASE__COUNT + 3];
	char ids[SC_PHASE__COUNT][24];
	struct sc_buf out;
	size_t k = 0;

	argv[k++] = "scancel";
	for (int ph = from; ph < SC_PHASE__COUNT; ph++)
		if (jobs[ph]) {
			snprintf(ids[ph], sizeof(ids[ph]), "%" PRIu64, jobs[ph]);
			argv[k++] = ids[ph];
		}
	argv[k] = NULL;
	if (k == 1)
		return;
	sc_buf_init(&out, 1 << 16);
	run_capture(argv, &out);
	sc_buf_release(&out);
}

static int run_slurm(struct run *r)
{
	static const char *const tools[] = { "sbatch", "squeue", "scancel" };
	uint64_t jobs[SC_PHASE__COUNT] = { 0 }, prev = 0;
	unsigned char *want[SC_PHASE__COUNT] = { 0 }, *state[SC_PHASE__COUNT] = { 0 };
	char **fstate[SC_PHASE__COUNT] = { 0 };
	unsigned *missing[SC_PHASE__COUNT] = { 0 };
	char tool[PATH_MAX], *store = NULL, **user = NULL;
	uint32_t *idx = calloc(r->p->tasks, sizeof(*idx));
	struct sc_buf out;
	size_t nuser = 0;
	int fail_phase = -1, squeue_fails = 0, rc = EXIT_FAIL, cancelled_later = 0;

	sc_buf_init(&out, 64u << 20);
	for (size_t i = 0; i < SC_ARRAY_LEN(tools); i++)
		if (in_path(tools[i], tool, sizeof(tool))) {
			say(r, "--launcher slurm: '%s' not found in PATH (run on a Slurm submit "
			    "host, or use --launcher local)", tools[i]);
			goto out;
		}
	if (!idx || split_args(r->t->sbatch_args ? r->t->sbatch_args : "", &user, &nuser,
			       &store)) {
		say(r, "--sbatch-args: %s", idx ? "unbalanced quotes" : "out of memory");
		rc = idx ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
		uint32_t n = sc_plan_phase_tasks(r->p, (enum sc_phase)ph), np = 0;

		want[ph] = calloc(n + 1, 1);
		state[ph] = calloc(n + 1, 1);
		fstate[ph] = calloc(n + 1, sizeof(char *));
		missing[ph] = calloc(n + 1, sizeof(unsigned));
		if (!want[ph] || !state[ph] || !fstate[ph] || !missing[ph]) {
			say(r, "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < n; i++)
			if (!sc_plan_task_done(r->p, (enum sc_phase)ph, i)) {
				idx[np++] = i;
				want[ph][i] = 1;
			}
		if (!np)
			continue;
		if (submit(r, (enum sc_phase)ph, idx, np, prev, user, nuser, &jobs[ph])) {
			scancel_jobs(jobs, 0);
			goto out;
		}
		prev = jobs[ph];
		if (!r->t->quiet && !r->t->tty)
			say(r, "%s: submitted %" PRIu32 " task%s as Slurm job array %" PRIu64,
			    sc_phase_name((enum sc_phase)ph), np, np == 1 ? "" : "s", jobs[ph]);
	}
	for (;;) {
		char *argv[] = { "squeue", "-h", "-r", "--states=all", "--me", "-o", "%F %K %T",
				 NULL };
		int st, any_live_fail_phase = 0;

		usleep((useconds_t)(POLL_S * 1e6));
		progress(r, 1);
		if (stop_signal) {
			scancel_jobs(jobs, 0);
			rc = -1;
			goto out;
		}
		if (fail_phase < 0 && sc_plan_task_done(r->p, SC_PHASE_COMMIT, 0)) {
			rc = EXIT_OK;
			goto out;
		}
		st = run_capture(argv, &out);
		if (st != 0) {
			if (++squeue_fails >= SLURM_SQUEUE_FAILS) {
				char how[64];

				describe_capture(st, how, sizeof(how), out.max);
				say(r, "squeue keeps failing (%s): %s; the jobs may still run: "
				    "--resume later takes up what they finish", how,
				    out.len ? out.data : "(no output)");
				goto out;
			}
			continue;
		}
		squeue_fails = 0;
		for (int ph = 0; ph < SC_PHASE__COUNT; ph++)
			for (uint32_t i = 0; i < sc_plan_phase_tasks(r->p, (enum sc_phase)ph); i++)
				if (state[ph][i] == 1)
					state[ph][i] = 0; /* live again only if listed */
		for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
			uint64_t job, task;
			char jb[32], tk[32], ss[48];
			int ph;

			if (sscanf(line, "%31s %31s %47s", jb, tk, ss) != 3 ||
			    cmd_parse_uint(jb, 1, UINT64_MAX, &job) ||
			    cmd_parse_uint(tk, 0, UINT32_MAX, &task))
				continue;
			for (ph = 0; ph < SC_PHASE__COUNT && jobs[ph] != job; ph++)
				;
			if (ph == SC_PHASE__COUNT || task >= sc_plan_phase_tasks(r->p, (enum sc_phase)ph) ||
			    !want[ph][task])
				continue;
			if (is_live(ss)) {
				/* the clock of a lost task starts when it stops being
				 * live: a COMPLETED one stays listed (MinJobAge), and
				 * must not reset it */
				state[ph][task] = 1;
				missing[ph][task] = 0;
			} else if (!strcmp(ss, "COMPLETED")) {
				state[ph][task] = 2;
			} else if (state[ph][task] != 3) {
				state[ph][task] = 3;
				fstate[ph][task] = strdup(ss);
			}
		}
		/* tasks gone from the queue, or completed, without a done marker
		 * for a while (a shared file system may show it late) are lost */
		for (int ph = 0; ph < SC_PHASE__COUNT; ph++)
			for (uint32_t i = 0; i < sc_plan_phase_tasks(r->p, (enum sc_phase)ph); i++) {
				if (!want[ph][i] || state[ph][i] == 3 || state[ph][i] == 1 ||
				    sc_plan_task_done(r->p, (enum sc_phase)ph, i))
					continue;
				if (++missing[ph][i] >= SLURM_LOST_POLLS) {
					fstate[ph][i] = strdup(state[ph][i] == 2 ? "completed without "
							       "its done marker" : "left the queue");
					state[ph][i] = 3;
				}
			}
		/* the first phase with a failure: its own cancellations count, later
		 * phases' are the consequence */
		if (fail_phase < 0)
			for (int ph = 0; ph < SC_PHASE__COUNT && fail_phase < 0; ph++)
				for (uint32_t i = 0; i < sc_plan_phase_tasks(r->p, (enum sc_phase)ph); i++)
					if (want[ph][i] && state[ph][i] == 3) {
						fail_phase = ph;
						break;
					}
		if (fail_phase < 0)
			continue;
		if (!cancelled_later) {
			scancel_jobs(jobs, fail_phase + 1);
			cancelled_later = 1;
		}
		for (uint32_t i = 0; i < sc_plan_phase_tasks(r->p, (enum sc_phase)fail_phase); i++)
			any_live_fail_phase |= want[fail_phase][i] && state[fail_phase][i] == 1;
		if (any_live_fail_phase)
			continue; /* the other tasks of the phase finish their work */
		progress(r, 1);
		for (uint32_t i = 0; i < sc_plan_phase_tasks(r->p, (enum sc_phase)fail_phase); i++) {
			char how[128];

			if (!want[fail_phase][i] || sc_plan_task_done(r->p, (enum sc_phase)fail_phase, i))
				continue;
			if (state[fail_phase][i] == 3)
				snprintf(how, sizeof(how), "slurm job %" PRIu64 "_%" PRIu32 ": %s",
					 jobs[fail_phase], i, fstate[fail_phase][i] ?
					 fstate[fail_phase][i] : "failed");
			else
				snprintf(how, sizeof(how), "slurm job %" PRIu64 "_%" PRIu32 ": ended "
					 "without its done marker", jobs[fail_phase], i);
			report_failed(r, (enum sc_phase)fail_phase, i, how);
		}
		rc = EXIT_FAIL;
		goto out;
	}
out:
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
		uint32_t n = sc_plan_phase_tasks(r->p, (enum sc_phase)ph);

		for (uint32_t i = 0; fstate[ph] && i < n; i++)
			free(fstate[ph][i]);
		free(fstate[ph]);
		free(want[ph]);
		free(state[ph]);
		free(missing[ph]);
	}
	free(idx);
	free(user);
	free(store);
	sc_buf_release(&out);
	return rc;
}

/* ---- the driver ---- */

static void result_message(void *ctx, const char *msg)
{
	say(ctx, "%s", msg);
}

/* Remove the plan directory after success, its lock file included. */
static void plan_done(const struct sc_plan *p)
{
	sc_plan_clean(p, 0);
}

int cmd_ingest_tasks(const struct sc_ingest_opts *o, const struct cmd_tasks_opts *t,
		     struct sc_stats *st)
{
	struct sc_ingest_opts oo = *o;
	struct sc_plan *fresh = NULL, *old = NULL;
	const struct sc_plan *p;
	struct run r = { .t = t };
	struct sigaction sa, old_int, old_term;
	char dir[SC_PATH_MAX], lock[SC_PATH_MAX + 8], err[4096], what[1024];
	int rc, status = EXIT_FAIL, lock_fd = -1;
	ssize_t k;

	memset(st, 0, sizeof(*st));
	/* a path cut short would be another directory: refuse it */
	if ((t->plan_dir ? snprintf(dir, sizeof(dir), "%s", t->plan_dir) :
			   snprintf(dir, sizeof(dir), "%s/%s", o->out, SC_PLAN_DIR_DEFAULT)) >=
	    (int)sizeof(dir)) {
		cmd_error("%s: path too long", t->plan_dir ? "--plan-dir" : "--out");
		return EXIT_USAGE;
	}
	oo.threads = t->threads;
	oo.resume = 0;
	rc = sc_plan_build(&oo, dir, t->tasks, &fresh, err, sizeof(err));
	if (rc) {
		cmd_error("ingest failed: %s", err);
		return rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
	}
	r.t0 = cmd_now_s();
	k = readlink("/proc/self/exe", r.self, sizeof(r.self) - 1);
	if (k <= 0) {
		cmd_error("ingest failed: cannot find this program (/proc/self/exe): %s",
			  strerror(errno));
		goto out;
	}
	r.self[k] = '\0';
	/* one driver per plan directory */
	rc = sc_mkdir_p(fresh->dir, 0755);
	snprintf(lock, sizeof(lock), "%s/.lock", fresh->dir);
	if (!rc) {
		lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		rc = lock_fd < 0 ? -errno : 0;
	}
	if (rc) {
		cmd_error("ingest failed: plan directory '%s': %s", fresh->dir, sc_strerror(rc));
		goto out;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		cmd_error("ingest failed: plan directory '%s': another 'shardctl ingest --tasks' "
			  "is running it", fresh->dir);
		goto out;
	}
	rc = sc_plan_load(fresh->dir, &old, err, sizeof(err));
	if (rc == 0 && sc_plan_task_done(old, SC_PHASE_COMMIT, 0) &&
	    sc_plan_same(old, fresh, what, sizeof(what))) {
		/* committed before; its launcher did not get to clean up */
		p = old;
		goto finished;
	}
	if (rc == 0 && t->resume && !sc_plan_task_done(old, SC_PHASE_COMMIT, 0)) {
		if (!sc_plan_same(old, fresh, what, sizeof(what))) {
			cmd_error("ingest failed: resume: the interrupted partitioned ingest in '%s' "
				  "had other %s; give the same options, inputs, nodes and --tasks, "
				  "or run without --resume to start over (nothing touched)",
				  fresh->dir, what);
			status = EXIT_USAGE;
			goto out;
		}
		p = old;
		{
			uint32_t done = 0, all = 0;

			for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
				done += sc_plan_phase_done(p, (enum sc_phase)ph);
				all += sc_plan_phase_tasks(p, (enum sc_phase)ph);
			}
			fprintf(stderr, "shardctl: resume: continuing the partitioned ingest in '%s': "
				"%" PRIu32 " of %" PRIu32 " tasks done\n", p->dir, done, all);
		}
	} else if (rc && rc != -ENOENT && t->resume) {
		cmd_error("ingest failed: resume: %s; nothing touched (run without --resume to "
			  "start over)", err);
		goto out;
	} else {
		if (rc == 0) {
			fprintf(stderr, "shardctl: discarding the interrupted partitioned ingest "
				"in '%s'%s\n", old->dir, t->resume ? "" :
				" (--resume would continue it)");
			sc_plan_clean(old, SC_PLAN_KEEP_LOCK);
		} else if (rc != -ENOENT) {
			fprintf(stderr, "shardctl: discarding an unreadable plan: %s\n", err);
			sc_plan_remove_dir(fresh->dir);
		} else if (t->resume) {
			if (sc_task_committed(fresh, st, err, sizeof(err)) == 1) {
				fprintf(stderr, "shardctl: resume: '%s' already holds the "
					"result of this ingest: nothing to do\n", o->out);
				plan_done(fresh);
				status = st->input_errors ? EXIT_PARTIAL : EXIT_OK;
				goto out;
			}
			fprintf(stderr, "shardctl: resume: no interrupted partitioned ingest in "
				"'%s': ingesting from the beginning\n", fresh->dir);
		}
		rc = sc_plan_save(fresh, err, sizeof(err));
		if (rc) {
			cmd_error("ingest failed: %s", err);
			goto out;
		}
		p = fresh;
	}
	r.p = p;
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
		r.done[ph] = calloc(sc_plan_phase_tasks(p, (enum sc_phase)ph) + 1, 1);
		if (!r.done[ph]) {
			cmd_error("ingest failed: out of memory");
			goto out;
		}
	}
	if (t->none) {
		/* another launcher runs the tasks */
		printf("plan: %s\n", p->dir);
		for (int ph = 0; ph < SC_PHASE__COUNT; ph++) {
			uint32_t n = sc_plan_phase_tasks(p, (enum sc_phase)ph);

			if (n)
				printf("%s: %" PRIu32 " task%s (%" PRIu32 " done): shardctl ingest-task %s %s "
				       "0..%" PRIu32 "\n", sc_phase_name((enum sc_phase)ph), n,
				       n == 1 ? "" : "s", sc_plan_phase_done(p, (enum sc_phase)ph),
				       p->dir, sc_phase_name((enum sc_phase)ph), n - 1);
		}
		status = EXIT_OK;
		goto out;
	}
	/* phases complete before this run are not announced again */
	refresh_done(&r);
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++)
		r.phase_said[ph] = r.ndone[ph] == sc_plan_phase_tasks(p, (enum sc_phase)ph);
	/* tasks see this and leave the result to us */
	setenv("SHARDCTL_PLAN_DRIVER", "1", 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	stop_signal = 0;
	rc = t->slurm ? run_slurm(&r) : run_local(&r);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	unsetenv("SHARDCTL_PLAN_DRIVER");
	erase_line(&r);
	if (rc) {
		if (rc < 0)
			cmd_error("ingest interrupted (signal %d)%s; the plan is kept in '%s': run "
				  "the same command with --resume to continue", (int)stop_signal,
				  t->slurm ? ", its Slurm jobs cancelled" : "", p->dir);
		else
			cmd_error("ingest failed: a task failed (above); the plan is kept in '%s': "
				  "run the same command with --resume to run the unfinished tasks",
				  p->dir);
		status = rc == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
finished:
	rc = sc_task_result(p, st, result_message, &r, err, sizeof(err));
	if (rc) {
		cmd_error("ingest failed: %s", rc == -ENOENT ? "the commit task left no result" : err);
		goto out;
	}
	plan_done(p);
	status = st->input_errors ? EXIT_PARTIAL : EXIT_OK;
out:
	for (int ph = 0; ph < SC_PHASE__COUNT; ph++)
		free(r.done[ph]);
	if (lock_fd >= 0)
		close(lock_fd);
	sc_plan_free(fresh);
	sc_plan_free(old);
	return status;
}
