/* SPDX-License-Identifier: MIT */
/*
 * uprr: the command line. The only place that decides what the user sees and
 * how the program ends: uprr's own failures exit 125 (as git bisect run and
 * rr do), a program that cannot be started exits 127 or 126 (as a shell).
 */
#define LOG_PREFIX ""
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "replay/replay.h"
#include "tp/epoch.h"
#include "tp/tp.h"
#include "trace/trace.h"

#define EXIT_UPRR 125
/* `uprr record --syscalls-from`: the run diverged from its log */
#define EXIT_DIVERGED 124
/* `uprr replay`: the recorder did not finish the trace (killed, disk full);
 * it replayed to where the trace is good (doc/trace-format.md) */
#define EXIT_CUT_SHORT 123

/* How long the program has to end after SIGTERM before uprr kills it: after
 * the first one (forwarded to it), and after a second one. */
#define TERM_GRACE_S 5
#define TERM_SECOND_GRACE_S 1
/* The signal of the timer that ends uprr: unused by uprr otherwise. */
#define TERM_TIMER_SIGNAL SIGXCPU

static timer_t term_timer;
static volatile sig_atomic_t nterms;
static bool term_forward; /* record: SIGTERM is meant for the program */

static volatile sig_atomic_t term_expired;

/*
 * The program did not end after SIGTERM: the first time, ask the loop to
 * kill it and close the trace (or replay to stop); a second later, if uprr
 * is still there (stuck in a wait), it ends at once, its tracees dying with
 * it (PTRACE_O_EXITKILL) and the trace keeping its whole frames.
 */
static void
on_term_timeout(int sig)
{
	static const char record_msg[] =
		"uprr: the program did not end after SIGTERM; uprr killed it (the trace keeps "
		"what was written)\n";
	static const char replay_msg[] = "uprr: replay did not stop after SIGTERM; uprr killed it\n";
	struct itimerspec it = { .it_value = { TERM_SECOND_GRACE_S, 0 } };
	int saved = errno;

	(void)sig;
	if (!term_expired) {
		term_expired = 1;
		if (term_forward)
			rec_request_stop();
		else
			replay_request_stop();
		timer_settime(term_timer, 0, &it, NULL);
		errno = saved;
		return;
	}
	if (term_forward)
		(void)!write(STDERR_FILENO, record_msg, sizeof(record_msg) - 1);
	else
		(void)!write(STDERR_FILENO, replay_msg, sizeof(replay_msg) - 1);
	_exit(EXIT_UPRR);
}

/* A re-run's program was given the SIGTERM again (rec_forward_on_resent()):
 * its TERM_GRACE_S count from now, the re-run having had to record the
 * program to there first (memcached's, from its start along the log to a
 * late checkpoint, overran the 5 s under load: 1 in ~20). */
static void
term_restart(void)
{
	struct itimerspec it = { .it_value = { TERM_GRACE_S, 0 } };

	if (nterms == 1 && !term_expired)
		timer_settime(term_timer, 0, &it, NULL);
}

/* SIGTERM: record forwards it to the program, replay stops between events;
 * either way uprr ends a bounded time later, sooner after a second one. */
static void
on_term(int sig)
{
	struct itimerspec left, it = { 0 };
	int saved = errno;

	if (term_forward)
		rec_forward_signal(sig);
	else
		replay_request_stop();
	if (!term_expired) { /* else ending already */
		it.it_value.tv_sec = nterms++ ? TERM_SECOND_GRACE_S : TERM_GRACE_S;
		if (timer_gettime(term_timer, &left) == 0 &&
		    (left.it_value.tv_sec || left.it_value.tv_nsec) &&
		    left.it_value.tv_sec < it.it_value.tv_sec)
			it = left; /* never later than already due */
		timer_settime(term_timer, 0, &it, NULL);
	}
	errno = saved;
}

/* The signal mask and the ignored signals uprr was started with (bit N-1 for
 * signal N), which a program it starts would have natively: execve(2) keeps
 * them. Raw rt_sigaction(2): glibc refuses its own signals 32 and 33. */
static void
start_signals(uint64_t *ret_mask, uint64_t *ret_ign)
{
	sigset_t set;

	*ret_ign = 0;
	for (int sig = 1; sig <= 64; sig++) {
		/* struct k_sigaction of the kernel: handler, flags, restorer, mask */
		uint64_t act[4] = { 0 };

		if (syscall(SYS_rt_sigaction, sig, NULL, act, 8) == 0 &&
		    act[0] == (uint64_t)(uintptr_t)SIG_IGN)
			*ret_ign |= 1ull << (sig - 1);
	}
	sigprocmask(SIG_BLOCK, NULL, &set);
	memcpy(ret_mask, &set, sizeof(*ret_mask));
}

/* "uprr never hangs, and a SIGTERM always ends it", unless uprr was started
 * with SIGTERM ignored (it then stays ignored). Returns 0 or -errno. */
static int
setup_term(bool forward)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = TERM_TIMER_SIGNAL };
	struct sigaction sa = { .sa_handler = on_term_timeout }, old;

	if (sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		return 0;
	term_forward = forward;
	sigemptyset(&sa.sa_mask);
	if (sigaction(TERM_TIMER_SIGNAL, &sa, NULL) < 0 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &term_timer) < 0)
		return -errno;
	/* no SA_RESTART: the waits of the loops see EINTR and look again */
	sa.sa_handler = on_term;
	sigaddset(&sa.sa_mask, TERM_TIMER_SIGNAL);
	return sigaction(SIGTERM, &sa, NULL) < 0 ? -errno : 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: uprr record [-o DIR] [-v] [--ticks=auto|soft|pmu] [--chaos[=SEED]]\n"
		   "                   [--on-trace-error=continue|kill] [--[no-]syscall-buffer]\n"
		   "                   [--mode=up|tp|tp-log [--epoch=MS|auto] [--epoch-check] [--epoch-anywhere]]\n"
		   "                   [--ep-cpus=LIST] [--ep-overlap] [--] PROG [ARGS...]\n"
		   "       uprr replay [-q] [-p PID] [--dump-sent FILE] [DIR]\n"
		   "       uprr info [DIR]\n"
		   "       uprr ps [DIR]\n"
		   "       uprr dump [DIR]\n"
		   "Traces go to $UPRR_TRACE_DIR (default ~/.local/share/uprr); DIR defaults\n"
		   "to the latest trace there.\n"
		   "record runs common syscalls through an in-process buffer (on by default;\n"
		   "--no-syscall-buffer or UPRR_SYSCALL_BUFFER=0: every syscall through ptrace).\n"
		   "--mode=tp runs every thread at once (with the syscall buffer), then records\n"
		   "the trace one thread at a time from that run's syscalls, pthread and malloc\n"
		   "order; exit 124 if the two runs diverge at a syscall (unless nothing was\n"
		   "shown yet and the first run changed nothing outside: then the program is\n"
		   "recorded again from its start one thread at a time). The first run may take\n"
		   "checkpoints (epochs), and the second checks its memory and registers\n"
		   "against each (uprr info counts them), going along with the first epoch by\n"
		   "epoch (lock-step): output held for an epoch goes out once it is checked.\n"
		   "By default (--epoch=auto) an epoch ends about 5 ms after output is held,\n"
		   "and epochs with none grow, twice as long each time, up to 1 s; --epoch=MS\n"
		   "fixes the length, and --epoch=0 makes the whole program one epoch\n"
		   "(output held until it ends). --ep-cpus=LIST (e.g. 1 or 0-1,3)\n"
		   "pins the second run to those CPUs (default: the one the first used least).\n"
		   "--ep-overlap: the first run goes on while the second checks its epochs\n"
		   "(instead of waiting at each epoch's end); a divergence is then re-run from\n"
		   "its checkpoint, one thread at a time, to the program's end.\n"
		   "--mode=tp-log runs every thread at once and writes a log of their\n"
		   "syscalls, which does not replay (uprr dump shows it); every MS ms (default\n"
		   "100, 0: never, auto: as above) it stops every thread at a syscall and\n"
		   "copies each process (a checkpoint); a thread in user code goes on to its\n"
		   "next syscall, and if one does not get there soon, the checkpoint waits for\n"
		   "the next MS, or with --epoch-anywhere it is taken where that thread stands.\n"
		   "--epoch-check, a testing aid, compares each copy with its process.\n"
		   "A testing aid of epoch-parallel recording: record --syscalls-from=TRACE answers\n"
		   "every syscall of each thread from that thread's in TRACE (its traced calls\n"
		   "and its syscall buffer's records), in its program order; exit 124 at a\n"
		   "divergence.\n");
}

/* The exit code of a shell whose child ended with @status. */
static int
status_to_exit(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* A process id in @text (decimal, > 0) into *ret_pid; 0 or -EINVAL. */
static int
parse_pid(const char *text, pid_t *ret_pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*ret_pid = (pid_t)v;
	return 0;
}

static void
verbosity(int v)
{
	const char *env = getenv("UPRR_LOG");

	if (env && strcmp(env, "debug") == 0)
		v = 2;
	if (v >= 2)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (v == 1)
		log_set_level(LOG_LEVEL_INFO);
}

static int
cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "ticks", required_argument, NULL, 't' },
		{ "chaos", optional_argument, NULL, 'c' },
		{ "on-trace-error", required_argument, NULL, 'e' },
		{ "syscall-buffer", no_argument, NULL, 'b' },
		{ "no-syscall-buffer", no_argument, NULL, 'B' },
		{ "mode", required_argument, NULL, 'm' },
		{ "syscalls-from", required_argument, NULL, 'L' },
		{ "epoch", required_argument, NULL, 'E' },
		{ "epoch-check", no_argument, NULL, 'K' },
		{ "epoch-anywhere", no_argument, NULL, 'A' },
		{ "ep-cpus", required_argument, NULL, 'C' },
		{ "ep-overlap", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct rec_options opts = { .epoch_ms = TP_EPOCH_DEFAULT_MS };
	bool epoch_given = false, epoch_ms_given = false;
	cpu_set_t ep_cpus;
	char *end;
	const char *sb_env = getenv("UPRR_SYSCALL_BUFFER");
	char dir[PATH_MAX];
	bool tp = false;
	int c, status = 0, r, v = 0;

	/* on by default (doc/syscall-buffer.md); --no-syscall-buffer or
	 * UPRR_SYSCALL_BUFFER=0 keep every syscall on the ptrace path (the
	 * environment chooses for a whole test suite) */
	opts.syscallbuf = !(sb_env && strcmp(sb_env, "0") == 0);

	while ((c = getopt_long(argc, argv, "+o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opts.trace_dir = optarg;
			break;
		case 'v':
			v++;
			break;
		case 't':
			opts.ticks = optarg;
			break;
		case 'c':
			opts.chaos = true;
			opts.chaos_seed = optarg ? strtoull(optarg, NULL, 0) : util_now_ns();
			break;
		case 'e':
			/* the trace cannot be written (disk full): by default the
			 * program goes on unrecorded; kill: it dies, uprr fails */
			if (strcmp(optarg, "continue") != 0 && strcmp(optarg, "kill") != 0) {
				fprintf(stderr, "uprr: --on-trace-error=%s: use continue or kill\n", optarg);
				return EXIT_UPRR;
			}
			opts.kill_on_trace_error = strcmp(optarg, "kill") == 0;
			break;
		case 'b':
		case 'B':
			/* the in-process syscall buffer (doc/syscall-buffer.md) */
			opts.syscallbuf = c == 'b';
			break;
		case 'm':
			/* tp: a TP run, then an EP run from its log (tp/tp.h);
			 * tp-log: the TP run alone */
			if (strcmp(optarg, "up") != 0 && strcmp(optarg, "tp-log") != 0 &&
			    strcmp(optarg, "tp") != 0) {
				fprintf(stderr, "uprr: --mode=%s: use up, tp or tp-log\n", optarg);
				return EXIT_UPRR;
			}
			opts.tp_log = strcmp(optarg, "tp-log") == 0;
			tp = strcmp(optarg, "tp") == 0;
			break;
		case 'O':
			/* the TP run goes on while its EP run checks (tp/lockstep.h) */
			opts.ep_overlap = true;
			break;
		case 'C': {
			/* the EP run's CPUs: "1", "0-1,3" */
			const char *p = optarg;

			CPU_ZERO(&ep_cpus);
			while (*p) {
				unsigned long lo = strtoul(p, &end, 10), hi = lo;

				if (end == p)
					break;
				if (*end == '-') {
					p = end + 1;
					hi = strtoul(p, &end, 10);
					if (end == p)
						break;
				}
				for (unsigned long cpu = lo; cpu <= hi && cpu < CPU_SETSIZE; cpu++)
					CPU_SET((int)cpu, &ep_cpus);
				p = *end == ',' ? end + 1 : end;
				if (*end && *end != ',')
					break;
			}
			if (*p || !CPU_COUNT(&ep_cpus)) {
				fprintf(stderr, "uprr: --ep-cpus=%s: give CPUs, e.g. 1 or 0-1,3\n", optarg);
				return EXIT_UPRR;
			}
			opts.ep_cpus = &ep_cpus;
			break;
		}
		case 'E': {
			/* a TP run's epoch length (tp/epoch.h) */
			unsigned long ms;

			epoch_given = epoch_ms_given = true;
			if (strcmp(optarg, "auto") == 0) {
				/* adaptive (record-epoch.c) */
				opts.epoch_ms = TP_EPOCH_AUTO_MAX_MS;
				opts.epoch_adaptive = true;
				break;
			}
			errno = 0;
			ms = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || ms > 3600000) {
				fprintf(stderr, "uprr: --epoch=%s: give auto or milliseconds, 0 to 3600000\n",
					optarg);
				return EXIT_UPRR;
			}
			opts.epoch_ms = (uint32_t)ms;
			opts.epoch_adaptive = false;
			epoch_given = epoch_ms_given = true;
			break;
		}
		case 'K':
			opts.epoch_check = true;
			epoch_given = true;
			break;
		case 'A':
			/* a thread that reaches no syscall in time may end in
			 * user code (record-epoch.c) */
			opts.epoch_anywhere = true;
			epoch_given = true;
			break;
		case 'L':
			/* an EP run of the whole program (ep/ep.h, doc/uniparallel.md) */
			opts.syscalls_from = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_UPRR;
		}
	}
	verbosity(v);
	if (optind >= argc) {
		usage(stderr);
		return EXIT_UPRR;
	}
	opts.argv = argv + optind;
	/* the program starts with what uprr got, not with uprr's handlers */
	opts.set_signals = true;
	start_signals(&opts.sigmask, &opts.sigign);
	r = setup_term(true);
	rec_forward_on_resent(term_restart);
	if (r < 0) {
		fprintf(stderr, "uprr: cannot set up SIGTERM handling: %s\n", strerror(-r));
		return EXIT_UPRR;
	}
	if (opts.tp_log && opts.chaos) {
		fprintf(stderr, "uprr: --chaos shakes a schedule; --mode=tp-log has none\n");
		return EXIT_UPRR;
	}
	if (tp && opts.syscalls_from) {
		fprintf(stderr, "uprr: --syscalls-from answers syscalls from a log; --mode=tp makes one\n");
		return EXIT_UPRR;
	}
	if (epoch_given && !opts.tp_log && !tp) {
		fprintf(stderr, "uprr: --epoch, --epoch-check and --epoch-anywhere are for --mode=tp and "
			"--mode=tp-log\n");
		return EXIT_UPRR;
	}
	if (opts.tp_log && opts.syscalls_from) {
		fprintf(stderr, "uprr: --syscalls-from answers syscalls from a log; --mode=tp-log makes one\n");
		return EXIT_UPRR;
	}
	/* --mode=tp's epochs adapt unless --epoch=MS fixes them (0: the whole
	 * program one epoch, its output held until it ends): issue 15, "Epoch
	 * length adapts" (record-epoch.c) */
	if (tp && !epoch_ms_given) {
		opts.epoch_ms = TP_EPOCH_AUTO_MAX_MS;
		opts.epoch_adaptive = true;
	}
	if (tp)
		/* the heap's order too: without it glibc's per-thread arenas
		 * are made in another order by the EP run, at other addresses
		 * (doc/sync-order.md) */
		r = tp_record(&opts, TP_SYNC_HEAP, &status, dir, sizeof(dir));
	else
		r = opts.tp_log ? tp_record_log(&opts, &status, dir, sizeof(dir))
				: rec_record(&opts, &status, dir, sizeof(dir));
	if (r == -ENOEXEC) {
		/* as a shell says it */
		if (status == ENOENT) {
			fprintf(stderr, "uprr: %s: command not found\n", argv[optind]);
			return 127;
		}
		fprintf(stderr, "uprr: %s: %s\n", argv[optind], strerror(status));
		return 126;
	}
	if (r == -EDOM)
		return EXIT_DIVERGED;
	if (r < 0)
		return EXIT_UPRR;
	log_info("trace saved in %s", dir);
	return status_to_exit(status);
}

static int
trace_arg(int argc, char **argv, char *buf, size_t len)
{
	int r;

	if (optind < argc) {
		snprintf(buf, len, "%s", argv[optind]);
		return 0;
	}
	r = trace_dir_latest(buf, len);
	if (r < 0)
		log_error("no trace given and no latest trace found: record one with `uprr record`");
	return r;
}

static int
cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "dump-sent", required_argument, NULL, 'S' },
		{ "process", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct replay_options opts = { 0 };
	char dir[PATH_MAX];
	int c, r, status = 0, v = 0;

	while ((c = getopt_long(argc, argv, "qp:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			opts.quiet = true;
			break;
		case 'p':
			if (parse_pid(optarg, &opts.stop_pid) < 0) {
				fprintf(stderr, "uprr: replay: -p wants a process id, got '%s'\n", optarg);
				return EXIT_UPRR;
			}
			break;
		case 'S':
			opts.dump_sent = optarg;
			break;
		case 'v':
			v++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_UPRR;
		}
	}
	verbosity(v);
	if (trace_arg(argc, argv, dir, sizeof(dir)) < 0)
		return EXIT_UPRR;
	opts.trace_dir = dir;
	r = setup_term(false);
	if (r < 0) {
		fprintf(stderr, "uprr: cannot set up SIGTERM handling: %s\n", strerror(-r));
		return EXIT_UPRR;
	}
	r = replay_run(&opts, &status);
	if (r == -ENODATA)
		return EXIT_CUT_SHORT;
	if (r < 0)
		return EXIT_UPRR;
	return status_to_exit(status);
}

/* The commands that print what a trace holds: `uprr NAME [DIR]`. */
static const struct {
	const char *name;
	int (*print)(const char *trace_dir);
} trace_readers[] = {
	{ "info", replay_info },
	{ "ps", replay_ps },
	{ "dump", replay_dump },
};

static int
cmd_read_trace(int (*print)(const char *trace_dir), int argc, char **argv)
{
	char dir[PATH_MAX];

	optind = 1;
	if (trace_arg(argc, argv, dir, sizeof(dir)) < 0)
		return EXIT_UPRR;
	return print(dir) < 0 ? EXIT_UPRR : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_UPRR;
	}
	if (strcmp(argv[1], "record") == 0)
		return cmd_record(argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return cmd_replay(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(trace_readers); i++)
		if (strcmp(argv[1], trace_readers[i].name) == 0)
			return cmd_read_trace(trace_readers[i].print, argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "uprr: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_UPRR;
}
