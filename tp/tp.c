/* SPDX-License-Identifier: MIT */
/*
 * The TP run's entries: the recorder with its TP knob (recorder/record-tp.c),
 * alone (tp_record_log()) or followed by an EP run from its log
 * (tp_record(), `uprr record --mode=tp`, one epoch: the whole program).
 */
#define LOG_PREFIX "tp"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "ep/ep.h"
#include "tp/epoch.h"
#include "tp/lockstep.h"
#include "tp/rerun.h"
#include "tp/output.h"
#include "tp/sync-order.h"
#include "tp/tp.h"
#include "trace/trace.h"

int
tp_record_log(const struct rec_options *opts, int *ret_status, char *dir_buf, size_t dir_len)
{
	struct rec_options o = *opts;
	struct rec_epoch_keeper keeper;
	struct tp_epochs *epochs = NULL;
	int r;

	o.tp_log = true;
	o.chaos = false; /* no schedule to shake */
	o.ticks = NULL;
	/* the checkpoints of its epochs are kept here (tp/epoch.h) */
	if (o.epoch_ms) {
		epochs = tp_epochs_new(&keeper);
		if (!epochs)
			return -ENOMEM;
		o.epochs = &keeper;
	}
	r = rec_record(&o, ret_status, dir_buf, dir_len);
	if (epochs)
		tp_epochs_log(epochs);
	tp_epochs_free(epochs);
	return r;
}

/* Records a thread of the TP run may log (UPRR_SYNC_RECS): pigz -p 2 logs
 * ~460 a MB it compresses, heap calls included. The file is sparse and
 * 64 slots of this size (403 MB) are only address space. */
#define TP_SYNC_RECS 262144u
#define TP_SYNC_RECS_TEXT "262144"

/* What a run cost: wall time, and the CPU time of uprr and of its children
 * (the program's processes, reaped by the recorder). */
struct run_cost {
	uint64_t wall_ns, uprr_ns, prog_ns;
};

static uint64_t
tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

static void
cost_now(struct run_cost *c)
{
	struct rusage self = { 0 }, kids = { 0 };

	(void)getrusage(RUSAGE_SELF, &self);
	(void)getrusage(RUSAGE_CHILDREN, &kids);
	c->wall_ns = util_now_ns();
	c->uprr_ns = tv_ns(&self.ru_utime) + tv_ns(&self.ru_stime);
	c->prog_ns = tv_ns(&kids.ru_utime) + tv_ns(&kids.ru_stime);
}

static void
cost_since(struct run_cost *c)
{
	struct run_cost now;

	cost_now(&now);
	c->wall_ns = now.wall_ns - c->wall_ns;
	c->uprr_ns = now.uprr_ns - c->uprr_ns;
	c->prog_ns = now.prog_ns - c->prog_ns;
}

/* LD_BIND_NOW was set by set_sync_env(), not by the user; it was set empty
 * before (put back as it was). */
static bool bind_now_set, bind_now_empty;

/* Put @lib first in LD_PRELOAD and the interposer's variables
 * (preload/uprr-sync.h) into the environment the program starts with;
 * with @epochs, LD_BIND_NOW too (ld.so(8)): a lazy binding counts in ld.so's
 * data (its relocation counter), and one a thread's first call to a function
 * makes at another moment of the two runs shows at an epoch check as a
 * difference of 1; and the thread that makes it keeps the PLT entry's
 * `push $index` on its stack, below the caller's frame, where no later frame
 * writes (tp_race: write@plt's 0x02 at its glibc write() frame + 0x20, that
 * frame's padding; the thread that first called write() differs between the
 * runs). An empty LD_BIND_NOW is lazy binding too (glibc's rtld.c takes
 * only a non-empty value): it is set then as well. Returns 0 or -ENOMEM. */
static int
set_sync_env(const char *lib, const char *sync_log, unsigned flags, bool epochs)
{
	const char *old = getenv("LD_PRELOAD");
	_cleanup_free_ char *preload = NULL;

	if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0)
		return -ENOMEM;
	if (epochs && (!getenv("LD_BIND_NOW") || !*getenv("LD_BIND_NOW"))) {
		bind_now_empty = getenv("LD_BIND_NOW") != NULL;
		if (setenv("LD_BIND_NOW", "1", 1) < 0)
			return -ENOMEM;
		bind_now_set = true;
	}
	if (setenv("LD_PRELOAD", preload, 1) < 0 || setenv(UPRR_SYNC_ENV_MODE, "tp", 1) < 0 ||
	    setenv(UPRR_SYNC_ENV_LOG, sync_log, 1) < 0 ||
	    setenv(UPRR_SYNC_ENV_RECS, TP_SYNC_RECS_TEXT, 1) < 0 ||
	    ((flags & TP_SYNC_HEAP) && setenv(UPRR_SYNC_ENV_HEAP, "1", 1) < 0))
		return -ENOMEM;
	return 0;
}

/* Put back LD_PRELOAD (@old, or none) and remove the interposer's
 * variables. */
static void
unset_sync_env(const char *old)
{
	if (old)
		(void)setenv("LD_PRELOAD", old, 1);
	else
		(void)unsetenv("LD_PRELOAD");
	(void)unsetenv(UPRR_SYNC_ENV_MODE);
	(void)unsetenv(UPRR_SYNC_ENV_LOG);
	(void)unsetenv(UPRR_SYNC_ENV_HEAP);
	(void)unsetenv(UPRR_SYNC_ENV_RECS);
	if (bind_now_set && bind_now_empty)
		(void)setenv("LD_BIND_NOW", "", 1);
	else if (bind_now_set)
		(void)unsetenv("LD_BIND_NOW");
	bind_now_set = false;
	bind_now_empty = false;
}

/* The file the interposer maps in the TP run (UPRR_SYNC_MODE=tp): zeros,
 * as long as a log of TP_SYNC_RECS records a thread (sparse).
 * Returns 0 or -errno. */
static int
make_sync_log(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)uprr_sync_log_size(TP_SYNC_RECS)) < 0)
		return -errno;
	return 0;
}

/* Lock-step: whether the TP run still writes the synchronization order
 * (uprr_sync_head.growing, which FOLLOW in the EP run reads: a record not
 * there yet is waited for through uprr, preload/sync-log.c). Returns 0 or
 * -errno. */
static int
set_sync_growing(const char *path, bool growing)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	uint32_t v = growing;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, &v, sizeof(v), offsetof(struct uprr_sync_head, growing)) != sizeof(v))
		return -EIO;
	return 0;
}

/* Say what the synchronization-order log of the TP run holds (debug), or
 * why it cannot be followed (a warning: the EP run will diverge). */
static void
check_sync_log(const char *path)
{
	struct tp_sync_log *log = NULL;
	char why[256] = "";
	long n;

	if (tp_sync_log_open(path, &log) < 0) {
		/* no magic: the interposer never ran (a static program) */
		log_debug("no synchronization order in %s: a static program?", path);
		return;
	}
	n = tp_sync_log_check(log, why, sizeof(why));
	if (n < 0)
		log_warn("the TP run's synchronization order cannot be followed: %s", why);
	else
		log_debug("the TP run's synchronization order: %ld operations of %u threads", n,
			  tp_sync_log_head(log)->nthreads);
	tp_sync_log_close(log);
}

/*
 * Lock-step: the EP run mapped the synchronization order while the TP run
 * still wrote it, and its trace kept the file as it was then (files/), up
 * to the records of the first epoch; the EP run's private mapping saw the
 * later ones as the TP run wrote them (the file's page cache). Its
 * replay maps the kept copy: the whole order goes there, the copy's data
 * rewritten from the file (same size; the file is sparse: its data
 * ranges, lseek(2) SEEK_DATA). Returns 0 or -errno.
 */
static int
refresh_sync_copy(const char *dir, const char *sync_log)
{
	struct trace_reader *r = NULL;
	_cleanup_close_ int in = -1, out = -1;
	const char *copy = NULL, *original = NULL;
	char err[256];
	_cleanup_free_ char *buf = malloc(1 << 20);
	off_t off = 0, end;
	int ret = -ENOENT;

	if (!buf)
		return -ENOMEM;
	if (trace_reader_open(dir, &r, err, sizeof(err)) < 0)
		return -EINVAL;
	for (uint32_t id = 0; trace_reader_file(r, id, &copy, &original) >= 0; id++) {
		if (original && strcmp(original, sync_log) == 0) {
			out = open(copy, O_WRONLY | O_CLOEXEC);
			ret = out < 0 ? -errno : 0;
		}
	}
	trace_reader_close(r);
	if (ret < 0)
		return ret;
	in = open(sync_log, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	{
		struct stat a, b;

		/* linked to it already (tp_lockstep_link_sync()) */
		if (fstat(in, &a) == 0 && fstat(out, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return 0;
	}
	while ((off = lseek(in, off, SEEK_DATA)) >= 0) {
		end = lseek(in, off, SEEK_HOLE);
		if (end < 0)
			return -errno;
		while (off < end) {
			ssize_t n = pread(in, buf, (size_t)MIN((off_t)(1 << 20), end - off), off);

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			if (pwrite(out, buf, (size_t)n, off) != n)
				return -EIO;
			off += n;
		}
	}
	return errno == ENXIO ? 0 : -errno;
}

/* What the epochs of `--mode=tp` cost and found. */
struct epoch_info {
	uint32_t epoch_ms;		/* 0: one epoch, the whole program */
	bool adaptive;			/* epoch_ms the longest (--epoch=auto) */
	struct rec_tp_figures tp;	/* the TP run's checkpoints and buffer */
	struct rec_ep_verdicts v;	/* the EP run's checks */
	uint64_t thinned;		/* checkpoints freed past TP_EPOCHS_CAP */
	bool lockstep;			/* the EP run went along (tp/lockstep.h) */
	bool overlap;			/* while the TP run went on (--ep-overlap) */
	struct tp_lockstep_figures ls;	/* and what that measured */
	struct tp_output_stats out;	/* the held output */
	struct rec_rerun rerun;		/* a divergence at a syscall: re-run? */
	uint64_t rerun_dropped;		/* the TP run's output dropped for it */
	struct run_cost up;		/* what the re-run cost */
	bool rerun_failed;		/* a re-run from checkpoint k that did not go to the end */
	unsigned live_fds;		/* a re-run from checkpoint k: descriptors given */
	unsigned live_remade;		/* of their objects, made anew */
	unsigned live_signals;		/* and signals from outside sent again */
	uint64_t live_ns;		/* and what going live cost */
};

/* The epochs not checked (@unchecked of them) by reason, into @f: "not
 * checked: N NAME, ...", those merged into the next past the keeper's cap,
 * and the rest: those the program's end ends (no verdict: the last epoch,
 * and any the EP run never came to). */
static void
print_unchecked(FILE *f, const struct rec_ep_verdicts *v, uint64_t unchecked)
{
	uint64_t named = 0;

	if (!unchecked)
		return;
	fprintf(f, "not checked: ");
	for (int why = 1; why < EP_WHY_N; why++) {
		if (!v->why[why])
			continue;
		fprintf(f, "%" PRIu64 " %s, ", v->why[why], ep_why_name(why));
		named += v->why[why];
	}
	if (v->merged)
		fprintf(f, "%" PRIu64 " merged-into-next, ", v->merged);
	named += v->merged;
	fprintf(f, "%" PRIu64 " program-end\n", unchecked - MIN(unchecked, named));
}

static void
write_info(const char *dir, const struct run_cost *tp, const struct run_cost *ep, int cpu,
	   bool interposed, bool diverged, const struct epoch_info *ei)
{
	uint64_t checkpoints = ei->tp.checkpoints, ends = checkpoints ? checkpoints : 1;
	uint64_t epochs = checkpoints + 1;
	double lag_ms;
	bool rerun = ei->rerun.verdict > 0, from_k = rerun && ei->rerun.verdict_k > 0;
	const char *how = diverged ? "diverged at a syscall: the trace ends at the divergence"
			  : from_k ? "diverged at a syscall, re-run from the epoch's checkpoint: the trace "
				     "follows the log to there and is an UP recording from there"
			  : rerun ? "diverged at a syscall, re-run: the trace is an UP recording of the "
				    "program from its start"
			  : ei->v.diverged && ei->v.rollback_live >= ei->v.diverged
				? "diverged at an epoch's end, each time rolled back: the TP run went on "
				  "from its state"
			  : ei->v.diverged ? "diverged at an epoch's end: the trace holds its execution"
					   : "verified: no divergence";
	char path[PATH_MAX], buffer[96];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/" TRACE_TP_INFO_FILE, dir) >= (int)sizeof(path))
		return;
	f = fopen(path, "wxe");
	if (!f) {
		log_debug("cannot write %s: %m", path);
		return;
	}
	if (ei->tp.buffer)
		snprintf(buffer, sizeof(buffer), "syscall buffer on (%" PRIu64 " calls buffered, %" PRIu64
			 " sites patched)", ei->tp.buffered, ei->tp.patched);
	else
		snprintf(buffer, sizeof(buffer), "syscall buffer off");
	fprintf(f, "tp run:      wall %.3f s, cpu %.3f s (program %.3f s, uprr %.3f s), "
		"%s, synchronization order %s\n",
		(double)tp->wall_ns / 1e9, (double)(tp->prog_ns + tp->uprr_ns) / 1e9,
		(double)tp->prog_ns / 1e9, (double)tp->uprr_ns / 1e9, buffer,
		interposed ? "logged by libuprr-sync" : "not logged (no interposer: futexes only)");
	fprintf(f, "ep run:      wall %.3f s, cpu %.3f s (program %.3f s, uprr %.3f s), on cpu %d\n",
		(double)ep->wall_ns / 1e9, (double)(ep->prog_ns + ep->uprr_ns) / 1e9,
		(double)ep->prog_ns / 1e9, (double)ep->uprr_ns / 1e9, cpu);
	if (ei->out.writes)
		fprintf(f, "output:      %" PRIu64 " writes held (%" PRIu64 " bytes), %" PRIu64
			" of them replaced by the EP run's other bytes (a divergence of output "
			"only), first written %.3f s after it was held, the longest wait %.3f s\n",
			ei->out.writes, ei->out.bytes, ei->out.replaced,
			ei->out.first_written_ns
				? (double)(ei->out.first_written_ns - ei->out.first_held_ns) / 1e9
				: 0.0,
			(double)ei->out.max_delay_ns / 1e9);
	if (!ei->epoch_ms)
		fprintf(f, "epochs:      1 (the whole program), ep run %s\n",
			diverged ? "diverged: the trace ends at the divergence"
			: rerun	 ? "diverged at a syscall, re-run: the trace is an UP recording of the "
				   "program from its start"
				 : "verified: no divergence");
	else
		fprintf(f, "epochs:      %" PRIu64 " (a checkpoint every %s%u ms%s), ep run %s\n", epochs,
			ei->adaptive ? "at most " : "", ei->epoch_ms,
			ei->adaptive ? ", adaptive: sooner while output waits" : "", how);
	if (from_k)
		fprintf(f, "re-run:      epoch %" PRIu64 " diverged %s (%s); the TP run killed, "
			"its output of epoch %" PRIu64 " on dropped (%" PRIu64 " bytes), the program recorded "
			"again following the log to checkpoint %" PRIu64 " and live from there, one thread "
			"at a time, %s (%u descriptors given, %u objects made anew, %u signals from outside "
			"sent again, going "
			"live took %.3f ms): wall "
			"%.3f s, cpu %.3f s\n",
			ei->rerun.epoch, ei->rerun.at_end ? "at its end, not rolled back" : "at a syscall",
			ei->rerun.divergence, ei->rerun.from, ei->rerun_dropped,
			ei->rerun.from, ei->rerun_failed ? "stopped before the program's end (end: says why)" : "to its end",
			ei->live_fds, ei->live_remade, ei->live_signals, (double)ei->live_ns / 1e6,
			(double)ei->up.wall_ns / 1e9, (double)(ei->up.prog_ns + ei->up.uprr_ns) / 1e9);
	else if (ei->rerun.verdict > 0)
		fprintf(f, "re-run:      epoch %" PRIu64 " diverged at a syscall (%s); nothing shown "
			"before it, the TP run killed, its output dropped (%" PRIu64 " bytes), the "
			"program recorded again from its start one thread at a time, to its end: wall "
			"%.3f s, cpu %.3f s\n",
			ei->rerun.epoch, ei->rerun.divergence, ei->rerun_dropped,
			(double)ei->up.wall_ns / 1e9, (double)(ei->up.prog_ns + ei->up.uprr_ns) / 1e9);
	else if (ei->rerun.verdict < 0)
		fprintf(f, "no re-run:   %s\n", ei->rerun.why);
	if (ei->epoch_ms) {
		/* an epoch re-run diverged (at a syscall) */
		uint64_t diverged_n = ei->v.diverged + rerun;
		uint64_t unchecked = epochs - MIN(epochs, ei->v.verified + diverged_n);

		fprintf(f, "epoch checks: %" PRIu64 " verified, %" PRIu64 " diverged, %" PRIu64
			" not checked (%" PRIu64 " merged into the next past %d checkpoints kept, "
			"%" PRIu64 " stalled; the last epoch, which the program's end ends, "
			"included)\n",
			ei->v.verified, diverged_n, unchecked, ei->v.merged, TP_EPOCHS_CAP,
			ei->v.stalls);
		print_unchecked(f, &ei->v, unchecked);
		fprintf(f, "checkpoints: %" PRIu64 " taken (%" PRIu64 " ends put off, %" PRIu64
			" given up: a thread reached no syscall in time), pause mean %.3f ms, max %.3f ms\n",
			checkpoints, ei->tp.put_off, ei->tp.given_up, (double)ei->tp.pause_ns / (double)ends / 1e6,
			(double)ei->tp.pause_max_ns / 1e6);
		fprintf(f, "checks:      %.3f s in all, max %.3f ms, %" PRIu64 " pages compared (%" PRIu64
			" process checks of every writable page: pages written not known; %" PRIu64
			" threads' registers not compared: in their copy, in a call the syscall buffer's "
			"library made)\n",
			(double)ei->v.check_ns / 1e9, (double)ei->v.check_max_ns / 1e6, ei->v.pages,
			ei->v.whole, ei->v.library_regs);
		if (ei->v.first[0])
			fprintf(f, "divergence:  %s\n", ei->v.first);
		/* merges of a diverged epoch into its checkpoint's copy
		 * (UPRR_EP_DIVERGE; doc/uniparallel.md, "Divergence and rollback") */
		fprintf(f, "rollbacks:   %" PRIu64 " (%" PRIu64 " checked again: verified, %" PRIu64
			" still diverged; %" PRIu64 " refused; %d re-run, %d not), %" PRIu64
			" pages copied of %" PRIu64 " compared, %" PRIu64 " threads' registers, %.3f ms "
			"in all, %.2f us a page\n",
			ei->v.rollbacks + rerun, ei->v.rollback_verified, ei->v.rollback_diverged,
			ei->v.rollback_refused, rerun, ei->rerun.verdict < 0,
			ei->v.rollback_pages_copied, ei->v.rollback_pages_compared,
			ei->v.rollback_threads, (double)ei->v.rollback_ns / 1e6,
			ei->v.rollback_pages_compared
				? (double)ei->v.rollback_pages_ns / 1e3 / (double)ei->v.rollback_pages_compared
				: 0.0);
		if (ei->v.rollback_why[0])
			fprintf(f, "no rollback: %s\n", ei->v.rollback_why);
	}
	lag_ms = ei->ls.verdicts ? (double)ei->ls.lag_ns / (double)ei->ls.verdicts / 1e6 : 0.0;
	if (ei->overlap)
		fprintf(f, "overlap:     the ep run went on beside the tp run, %" PRIu64 " times back "
			"from it to the tp run; %" PRIu64 " verdicts before the tp run's end (%" PRIu64
			" before its next checkpoint), lag from checkpoint to verdict mean %.3f ms, max "
			"%.3f ms\n",
			ei->ls.swaps, ei->ls.verdicts, ei->ls.at_once, lag_ms, (double)ei->ls.lag_max_ns / 1e6);
	else if (ei->lockstep)
		fprintf(f, "lock-step:   the ep run went along, %" PRIu64 " runs of it while the tp run "
			"stood %.3f s at its checkpoints; %" PRIu64 " verdicts before the tp run's end "
			"(%" PRIu64 " while it stood at the epoch's own end), lag from checkpoint to "
			"verdict mean %.3f ms, max %.3f ms\n",
			ei->ls.steps, (double)ei->ls.stood_ns / 1e9, ei->ls.verdicts, ei->ls.at_once, lag_ms,
			(double)ei->ls.lag_max_ns / 1e6);
	else if (ei->epoch_ms)
		fprintf(f, "lock-step:   no (the ep run followed the tp run's end)\n");
	fclose(f);
}

/* Whether the test switch @name is set to 1 in the environment. */
static bool
env_on(const char *name)
{
	const char *v = getenv(name);

	return v && strcmp(v, "1") == 0;
}

/*
 * Output commit (tp/output.h): the TP run's external output, held, goes
 * out once the EP run verified it (one epoch: the whole program), in the
 * order the program wrote it, before uprr ends. When the EP run did not
 * verify it, it goes out too (it is what the program did: nothing rolls
 * it back yet), said in one warning: the trace ends earlier; not again
 * when lock-step said it already (@said: the EP run ended before the TP
 * run, and its step released the output held from then on).
 */
static void
release_output(struct tp_output *held, bool verified, bool said)
{
	struct tp_output_stats st;

	tp_output_get_stats(held, &st);
	if (!st.writes)
		return;
	/* said once: lock-step's step may have said it already */
	if (!verified && !said)
		log_warn("the program's output (%" PRIu64 " bytes) is released though the EP run did "
			 "not verify it: the trace ends before some of it", st.bytes);
	log_info("output commit: releasing %" PRIu64 " bytes of %" PRIu64 " writes to %zu "
		 "destinations, held %.3f s", st.bytes, st.writes, st.destinations,
		 (double)(util_now_ns() - st.first_held_ns) / 1e9);
	tp_output_release(held, UINT64_MAX);
	tp_output_flush(held);
	tp_output_get_stats(held, &st);
	log_info("output commit: %" PRIu64 " bytes written, %" PRIu64 " dropped; the first write "
		 "waited %.3f s, the longest %.3f s", st.written, st.dropped,
		 st.first_written_ns ? (double)(st.first_written_ns - st.first_held_ns) / 1e9 : 0.0,
		 (double)st.max_delay_ns / 1e9);
}

/*
 * The re-run (doc/uniparallel.md, "Divergence and rollback"): the EP run
 * diverged at a syscall or in the synchronization order, nothing the TP
 * run did reached outside its processes but the output it held
 * (rec_rerun_judge(), recorder/record-rerun.c), and none of that output
 * was shown (tp_rerun_allowed()): an execution recorded again from the
 * program's start (checkpoint 0) contradicts nothing anyone saw. The TP
 * run is gone (killed at its next end, or ended); its output is dropped,
 * never shown; the EP
 * run's trace goes beside the TP log (@work/ep-diverged), and the program
 * is recorded again from its exec, as `--mode=up` records it (one thread
 * at a time, live syscalls, the recorder's own path), to its end, into
 * @dir. The environment is the user's (the interposer's variables taken
 * out before). Returns what rec_record() returns, the status in
 * *@ret_status.
 */
static int
rerun_up(const struct rec_options *opts, const char *dir, const char *work, struct tp_output *held,
	 struct epoch_info *ei, int *ret_status, char *dir_buf, size_t dir_len)
{
	struct rec_options uo;
	char aside[PATH_MAX];
	int r;

	ei->rerun_dropped = tp_output_discard_from(held, 0);
	if ((size_t)snprintf(aside, sizeof(aside), "%s/ep-diverged", work) >= sizeof(aside))
		return log_error_errno(-ENAMETOOLONG, "trace directory '%s': name too long", dir);
	if (rename(dir, aside) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "cannot move the EP run's trace %s aside for the re-run",
				       dir);
	log_warn("the EP run diverged at a syscall in epoch %" PRIu64 " (%s): the TP run is killed, "
		 "its output (%" PRIu64 " bytes) dropped, and the program recorded again from its "
		 "start as an UP recording",
		 ei->rerun.epoch, ei->rerun.divergence, ei->rerun_dropped);
	/* the user's options, as `uprr record` gives them to an UP recording:
	 * what --mode=tp adds taken out */
	uo = *opts;
	uo.tp_log = false;
	uo.epoch_ms = 0;
	uo.epoch_adaptive = uo.epoch_check = uo.epoch_anywhere = false;
	uo.epochs = NULL;
	uo.output = NULL;
	uo.syscalls_from = NULL;
	uo.ep_sync_log = NULL;
	uo.divergence = NULL;
	uo.ep_checkpoints = NULL;
	uo.ep_verdicts = NULL;
	uo.ep_cpus = NULL;
	uo.ep_overlap = false;
	uo.ep_follow = NULL;
	uo.ep_output = NULL;
	uo.tp_figures = NULL;
	uo.rerun = NULL;
	uo.trace_dir = dir;
	uo.trace_mode = TRACE_MODE_TP;
	cost_now(&ei->up);
	r = rec_record(&uo, ret_status, dir_buf, dir_len);
	cost_since(&ei->up);
	return r;
}

/*
 * The EP run diverged at a syscall in epoch k >= 1, after output of the
 * epochs before it went out; the TP run was killed at its checkpoint,
 * having given @rerun what the re-run needs (tp/rerun.h): epoch k is
 * recorded again from checkpoint k (record-ep-live.c). The TP run's held
 * output of epoch k on is dropped, that of the epochs before it goes out
 * (the re-run follows the log through them); the EP run's trace goes
 * aside; a new EP run, @eo's with the order cut at checkpoint k, follows
 * the log to there and goes live, recording to the program's end into
 * @dir. Returns what rec_record() returns, the status in *@ret_status.
 */
static int
rerun_from_k(const struct rec_options *eo, const char *dir, const char *work, struct tp_output *held,
	     struct tp_rerun *rerun, bool interposed, struct epoch_info *ei, int *ret_status, char *dir_buf,
	     size_t dir_len)
{
	struct rec_ep_live *live = tp_rerun_live(rerun);
	struct rec_options ro = *eo;
	char aside[PATH_MAX], cut[PATH_MAX], order[PATH_MAX], tp_order[PATH_MAX], why[512] = "";
	uint64_t k = ei->rerun.from;
	int r;

	ei->rerun_dropped = tp_output_discard_from(held, k);
	tp_output_release(held, k - 1);
	if ((size_t)snprintf(aside, sizeof(aside), "%s/ep-diverged", work) >= sizeof(aside) ||
	    (size_t)snprintf(cut, sizeof(cut), "%s/sync-order-%" PRIu64, work, k) >= sizeof(cut) ||
	    (size_t)snprintf(order, sizeof(order), "%s/sync-order", work) >= sizeof(order) ||
	    (size_t)snprintf(tp_order, sizeof(tp_order), "%s/sync-order-tp", work) >= sizeof(tp_order))
		return log_error_errno(-ENAMETOOLONG, "trace directory '%s': name too long", dir);
	if (rename(dir, aside) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "cannot move the EP run's trace %s aside for the re-run",
				       dir);
	if (interposed) {
		r = tp_rerun_cut_order(rerun, k, cut);
		if (r < 0)
			return log_error_errno(r, "cannot cut the synchronization order at checkpoint %" PRIu64,
					       k);
		/* the cut takes the order's place, UPRR_SYNC_LOG's (the killed
		 * TP run's kept beside it): a libuprr-sync constructor that
		 * runs only after the re-run went live maps that place itself,
		 * and must find the cut, open at its end, not the TP run's
		 * order, which it would follow to its last record and block
		 * there for good (a re-run of bash -c 'sort | tail' hung so
		 * once, its bash mapping the TP run's order: README, Not yet) */
		if (rename(order, tp_order) < 0 || rename(cut, order) < 0)
			return log_error_errno(-errno, "cannot put the order cut at checkpoint %" PRIu64
					       " in %s", k, order);
		live->sync_cut = order;
	}
	log_warn("the EP run diverged at a syscall in epoch %" PRIu64 " (%s): the TP run is killed, its "
		 "output of epoch %" PRIu64 " on (%" PRIu64 " bytes) dropped, and the program recorded again, "
		 "following its log to checkpoint %" PRIu64 " and live from there",
		 ei->rerun.epoch, ei->rerun.divergence, k, ei->rerun_dropped, k);
	ro.trace_dir = dir;
	ro.divergence = why;
	ro.divergence_len = sizeof(why);
	ro.ep_checkpoints = NULL;
	ro.ep_verdicts = NULL;
	ro.ep_follow = NULL;
	/* its writes before the checkpoint: what went out for them */
	ro.ep_output = tp_output_holder(held);
	ro.rerun = NULL;
	live->pending = ei->rerun.pending;
	live->npending = ei->rerun.npending;
	ro.ep_live = live;
	/* it follows the cut order: seen at each end as the TP run had it */
	ro.ep_order = interposed ? tp_rerun_order(rerun) : NULL;
	cost_now(&ei->up);
	r = rec_record(&ro, ret_status, dir_buf, dir_len);
	cost_since(&ei->up);
	/* the trace keeps the cut order as the re-run left it: no longer
	 * growing (its replay never waits for a record) */
	if (interposed && live->went_live && refresh_sync_copy(dir, order) < 0)
		log_warn("the trace's copy of the cut synchronization order %s is not whole: its replay may "
			 "diverge", order);
	ei->live_fds = live->fds;
	ei->live_remade = live->remade;
	ei->live_signals = live->signals;
	ei->live_ns = live->switch_ns;
	if (r == 0 && !live->went_live)
		r = log_error_errno(-EDOM, "the re-run from checkpoint %" PRIu64 " ended before it went live%s%s",
				    k, live->why[0] ? ": " : "", live->why);
	else if (r == -EDOM)
		log_error("the re-run from checkpoint %" PRIu64 " diverged from the log before it: %s", k,
			  why[0] ? why : live->why);
	return r;
}

int
tp_record(const struct rec_options *opts, unsigned flags, int *ret_status, char *dir_buf,
	  size_t dir_len)
{
	_cleanup_(tp_output_freep) struct tp_output *held = NULL;
	char dir[PATH_MAX], work[PATH_MAX], tp_log[PATH_MAX], sync_log[PATH_MAX], moved[PATH_MAX];
	char tp_dir[PATH_MAX], cwd[PATH_MAX];
	_cleanup_free_ char *lib_rel = tp_sync_default_lib();
	_cleanup_free_ char *old_preload = NULL;
	uint64_t before[CPU_SETSIZE], after[CPU_SETSIZE];
	struct rec_epoch_keeper keeper;
	struct rec_ep_checkpoints ckpts;
	struct tp_epochs *epochs = NULL;
	struct epoch_info ei = { .epoch_ms = opts->epoch_ms, .adaptive = opts->epoch_adaptive };
	/* what the TP run noted for a re-run's judge (record-rerun.c) */
	_cleanup_(rec_rerun_releasep) __attribute__((unused)) struct rec_rerun *rerun_notes = &ei.rerun;
	struct run_cost tp, ep;
	struct rec_options o, eo;
	struct tp_lockstep *ls = NULL;
	_cleanup_(tp_rerun_freep) struct tp_rerun *rerun = NULL;
	cpu_set_t all, one;
	char lib[PATH_MAX], why[512] = "", tp_why[512] = "";
	bool have_busy, interposed;
	int r, status, ep_status, cpu = -1;
	/* the program's CPUs as natively, for every run of it: uprr pins
	 * itself to the EP run's CPU (below, tp/lockstep.c) */
	struct rec_options base = *opts;
	cpu_set_t native;

	if (!base.native_cpus && sched_getaffinity(0, sizeof(native), &native) == 0)
		base.native_cpus = &native;
	opts = &base;
	if (!lib_rel || !realpath(lib_rel, lib))
		return log_error_errno(-ENOENT, "--mode=tp: cannot find libuprr-sync.so next to uprr "
				       "(%s)", lib_rel ?: "?");
	if (opts->trace_dir) {
		/* absolute: the program opens the order's file by its path */
		if (opts->trace_dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
			r = snprintf(dir, sizeof(dir), "%s", opts->trace_dir);
		else
			r = snprintf(dir, sizeof(dir), "%s/%s", cwd, opts->trace_dir);
		if (r < 0 || (size_t)r >= sizeof(dir))
			return log_error_errno(-ENAMETOOLONG, "trace directory '%s': name too long",
					       opts->trace_dir);
	} else {
		r = trace_dir_new(opts->argv[0], dir, sizeof(dir));
		if (r < 0)
			return log_error_errno(r, "cannot name a trace directory");
	}
	/* the TP run's log and its synchronization order, beside the trace
	 * until the EP run verified them, then in it */
	if ((size_t)snprintf(work, sizeof(work), "%s.tp", dir) >= sizeof(work) ||
	    (size_t)snprintf(tp_log, sizeof(tp_log), "%s/log", work) >= sizeof(tp_log) ||
	    (size_t)snprintf(sync_log, sizeof(sync_log), "%s/sync-order", work) >= sizeof(sync_log) ||
	    (size_t)snprintf(moved, sizeof(moved), "%s/tp", dir) >= sizeof(moved))
		return log_error_errno(-ENAMETOOLONG, "trace directory '%s': name too long", dir);
	if (mkdir(work, 0700) < 0)
		return log_error_errno(-errno, "cannot create '%s'", work);
	r = make_sync_log(sync_log);
	if (r < 0)
		return log_error_errno(r, "cannot create '%s'", sync_log);

	/* 1. the TP run: every thread at once, the interposer logging, its
	 * external output held (output commit) */
	held = tp_output_new();
	if (!held)
		return log_error_errno(-errno, "cannot start the output commit's writer");
	if (getenv("LD_PRELOAD")) {
		old_preload = strdup(getenv("LD_PRELOAD"));
		if (!old_preload)
			return -ENOMEM;
	}
	r = set_sync_env(lib, sync_log, flags, opts->epoch_ms != 0);
	if (r < 0) {
		unset_sync_env(old_preload);
		return r;
	}
	o = *opts;
	o.trace_dir = tp_log;
	o.tp_log = true;
	/* the syscall buffer as the user asked (on by default): the EP run
	 * answers its records (ep/syscall-log-sb.c) */
	o.chaos = false;
	o.ticks = NULL;
	/* its checkpoints are kept until the EP run checked its epochs
	 * against them (tp/epoch.h) */
	if (o.epoch_ms) {
		epochs = tp_epochs_new_all(&keeper, &ckpts);
		if (!epochs) {
			unset_sync_env(old_preload);
			return -ENOMEM;
		}
		o.epochs = &keeper;
	}
	o.tp_figures = &ei.tp;
	o.tp_sync_log = sync_log;
	o.output = tp_output_holder(held);
	/* stopped for a re-run (lock-step's step): said here, not by it */
	o.divergence = tp_why;
	o.divergence_len = sizeof(tp_why);
	o.rerun = &ei.rerun;
	/* the EP run's options: from the TP run's log, checked against its
	 * checkpoints */
	eo = *opts;
	eo.trace_dir = dir;
	eo.syscalls_from = tp_log;
	eo.ep_sync_log = sync_log;
	eo.trace_mode = TRACE_MODE_TP;
	eo.divergence = why;
	eo.divergence_len = sizeof(why);
	eo.syscallbuf = false;
	eo.ep_checkpoints = epochs ? &ckpts : NULL;
	eo.ep_verdicts = &ei.v;
	eo.ep_output = tp_output_holder(held);
	eo.rerun = &ei.rerun;
	eo.epochs = NULL;
	eo.tp_figures = NULL;
	/* UPRR_EP_OVERLAP=1: --ep-overlap for a whole test suite */
	if (env_on("UPRR_EP_OVERLAP"))
		eo.ep_overlap = true;
	/* lock-step (tp/lockstep.h): the EP run goes along, epoch by epoch;
	 * UPRR_TP_SEQUENTIAL=1: after the TP run, as before (to measure) */
	if (epochs && !env_on("UPRR_TP_SEQUENTIAL")) {
		ls = tp_lockstep_new(&eo, &keeper, held, opts->ep_cpus);
		if (!ls) {
			unset_sync_env(old_preload);
			tp_epochs_free(epochs);
			return -ENOMEM;
		}
		ei.lockstep = true;
		ei.overlap = eo.ep_overlap;
		tp_lockstep_link_sync(ls, sync_log);
		/* what a re-run from a checkpoint needs (tp/rerun.h) */
		rerun = tp_rerun_new(sync_log);
		if (rerun)
			tp_lockstep_link_rerun(ls, rerun, epochs);
		if (set_sync_growing(sync_log, true) < 0)
			log_warn("%s", "cannot mark the synchronization order as growing: the EP run may "
				 "block where the TP run has not logged an operation yet");
	}
	have_busy = tp_cpu_busy(before) == 0;
	cost_now(&tp);
	r = rec_record(&o, &status, tp_dir, sizeof(tp_dir));
	cost_since(&tp);
	have_busy = have_busy && tp_cpu_busy(after) == 0;
	if (ls)
		(void)set_sync_growing(sync_log, false);
	/* -EDOM: the TP run stopped for a re-run (lock-step) */
	if (r < 0 && !(r == -EDOM && ei.rerun.verdict > 0)) {
		if (ls) {
			/* the EP run, started or not, ends on what the log holds */
			(void)tp_lockstep_finish(ls, &ep_status, dir_buf, dir_len);
			tp_lockstep_free(ls);
		}
		unset_sync_env(old_preload);
		tp_epochs_free(epochs);
		release_output(held, false, false);
		if (r == -ENOEXEC)
			*ret_status = status;
		/* nothing to keep of a run that did not start (a TP log
		 * that holds something stays, with its order) */
		if (rmdir(tp_log) == 0 || errno == ENOENT) {
			(void)unlink(sync_log);
			(void)rmdir(work);
		}
		return r;
	}
	check_sync_log(sync_log);
	{
		struct tp_sync_log *l = NULL;

		interposed = tp_sync_log_open(sync_log, &l) == 0;
		tp_sync_log_close(l);
	}

	if (ls) {
		/* 2. the EP run's rest, after the TP run's end */
		cost_now(&ep);
		r = tp_lockstep_finish(ls, &ep_status, dir_buf, dir_len);
		cost_since(&ep);
		tp_lockstep_get_figures(ls, &ei.ls);
		cpu = ei.ls.cpu;
		/* what it ran alongside, while the TP run stood: the EP run's
		 * wall time and uprr's CPU time then, not the TP run's (one
		 * thread of uprr drives both) */
		ep.wall_ns += ei.ls.stood_ns;
		tp.wall_ns -= MIN(tp.wall_ns, ei.ls.stood_ns);
		ep.uprr_ns += MIN(tp.uprr_ns, ei.ls.ep_uprr_ns);
		tp.uprr_ns -= MIN(tp.uprr_ns, ei.ls.ep_uprr_ns);
		tp_lockstep_free(ls);
		if (interposed && (r == 0 || (r == -EDOM && ei.rerun.verdict <= 0))) {
			int rr = refresh_sync_copy(dir, sync_log);

			if (rr < 0)
				log_warn("the trace's copy of the synchronization order is not whole (%s): "
					 "its replay may diverge", strerror(-rr));
		}
		goto ep_done;
	}
	/* 2. the EP run from its log, one thread at a time, on the CPU the TP
	 * run used least (the recorder pins the program to the one it runs
	 * on, tracee_pick_cpu()) */
	if (opts->ep_cpus && sched_setaffinity(0, sizeof(*opts->ep_cpus), opts->ep_cpus) == 0) {
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, opts->ep_cpus); cpu++)
			;
		(void)sched_getaffinity(0, sizeof(all), &all);
	} else if (sched_getaffinity(0, sizeof(all), &all) == 0 && have_busy) {
		cpu = tp_least_used_cpu(&all, before, after);
		CPU_ZERO(&one);
		if (cpu >= 0)
			CPU_SET(cpu, &one);
		if (cpu >= 0 && sched_setaffinity(0, sizeof(one), &one) < 0)
			cpu = -1;
	}
	if (epochs)
		log_debug("%zu checkpoints kept for the EP run's checks", tp_epochs_count(epochs));
	cost_now(&ep);
	r = rec_record(&eo, &ep_status, dir_buf, dir_len);
	cost_since(&ep);
ep_done:
	if (epochs) {
		ei.thinned = tp_epochs_thinned(epochs);
		if (ei.thinned)
			log_info("%" PRIu64 " checkpoints freed past %d kept: their epochs were checked "
				 "with the next", ei.thinned, TP_EPOCHS_CAP);
		log_info("epochs: %" PRIu64 ", %" PRIu64 " verified, %" PRIu64 " diverged, %" PRIu64
			 " not checked (the last included); checks took %.3f s",
			 ei.tp.checkpoints + 1, ei.v.verified, ei.v.diverged,
			 ei.tp.checkpoints + 1 - MIN(ei.tp.checkpoints + 1, ei.v.verified + ei.v.diverged),
			 (double)ei.v.check_ns / 1e9);
	}
	/* a re-run from a checkpoint decided once the TP run had ended: what
	 * it needs of the TP run, from the checkpoint's state and uprr's own
	 * descriptors (its processes are gone) */
	if (r == -EDOM && rerun && tp_rerun_allowed(held, &ei.rerun) && ei.rerun.verdict_k > 0 &&
	    !tp_rerun_live(rerun)->k &&
	    tp_rerun_take(rerun, epochs, &ei.rerun, ei.rerun.why_k, sizeof(ei.rerun.why_k)) < 0) {
		ei.rerun.verdict = ei.rerun.verdict_k = -1;
		snprintf(ei.rerun.why, sizeof(ei.rerun.why), "epoch %" PRIu64 ": the output of the epochs "
			 "before it went out, and its checkpoint's re-run is refused: %.400s", ei.rerun.epoch,
			 ei.rerun.why_k);
	}
	/* the TP run is gone: what it changed since the checkpoint back */
	if (r == -EDOM && rerun && ei.rerun.verdict > 0 && ei.rerun.verdict_k > 0 && tp_rerun_live(rerun)->k) {
		char why_restore[512] = "";
		int rr = tp_rerun_restore(rerun, why_restore, sizeof(why_restore));

		if (rr < 0) {
			tp_epochs_free(epochs);
			unset_sync_env(old_preload);
			release_output(held, false, ei.ls.unverified_said);
			return log_error_errno(rr, "the re-run from checkpoint %" PRIu64 " cannot start: %s; "
					       "the TP log is kept in %s", ei.rerun.from, why_restore, work);
		}
	}
	tp_epochs_free(epochs);
	if (cpu >= 0 && !ei.lockstep)
		(void)sched_setaffinity(0, sizeof(all), &all);
	unset_sync_env(old_preload);
	if (r == -EDOM && tp_rerun_allowed(held, &ei.rerun)) {
		if (ei.rerun.verdict_k > 0 && (!rerun || !tp_rerun_live(rerun)->k))
			return log_error_errno(-EDOM, "%s", "a re-run from a checkpoint without the TP run's state");
		if (ei.rerun.verdict_k > 0)
			r = rerun_from_k(&eo, dir, work, held, rerun, interposed, &ei, ret_status, dir_buf,
					 dir_len);
		else
			r = rerun_up(opts, dir, work, held, &ei, ret_status, dir_buf, dir_len);
		tp_output_get_stats(held, &ei.out);
		if (r < 0 && ei.rerun.verdict_k > 0 && access(dir, F_OK) == 0) {
			/* the re-run's trace (up to where it stopped) says so */
			ei.rerun_failed = true;
			write_info(dir, &tp, &ep, cpu, interposed, false, &ei);
		}
		if (r < 0)
			return r;
		write_info(dir, &tp, &ep, cpu, interposed, false, &ei);
		if (rename(work, moved) < 0)
			log_warn("cannot move the TP log %s into the trace: %m", work);
		if (!opts->trace_dir && trace_dir_set_latest(dir) < 0)
			log_debug("cannot point 'latest' at %s", dir);
		return 0;
	}
	release_output(held, r == 0, ei.ls.unverified_said);
	tp_output_get_stats(held, &ei.out);
	if (r < 0 && r != -EDOM) {
		/* said by the recorder (a log the EP run cannot take) */
		log_error("no trace recorded; the TP log is kept in %s", work);
		return r;
	}
	if (r == -EDOM) {
		/* the TP run's crash (its own line is not said: the trace's end
		 * is the EP run's) goes with it, on the same line */
		const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;

		write_info(dir, &tp, &ep, cpu, interposed, true, &ei);
		log_error("the EP run diverged from the TP run (%s)%s%s; %s cannot be rolled back%s%s: "
			  "the TP log is kept in %s", why[0] ? why : "?",
			  WIFSIGNALED(status) ? "; the TP run's program was killed by SIG" : "",
			  WIFSIGNALED(status) ? (sig ? sig : "?") : "",
			  ei.epoch_ms ? "the epoch" : "the whole-program epoch",
			  ei.rerun.verdict < 0 ? ", not re-run: " : " yet",
			  ei.rerun.verdict < 0 ? ei.rerun.why : "", work);
		return -EDOM;
	}
	write_info(dir, &tp, &ep, cpu, interposed, false, &ei);
	if (rename(work, moved) < 0)
		log_warn("cannot move the TP log %s into the trace: %m", work);
	if (!opts->trace_dir)
		if (trace_dir_set_latest(dir) < 0)
			log_debug("cannot point 'latest' at %s", dir);
	*ret_status = status;
	return 0;
}
