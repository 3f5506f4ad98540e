/* SPDX-License-Identifier: MIT */
/*
 * Lock-step of the EP run with the TP run (tp/lockstep.h): the EP run is
 * a coroutine of uprr's one thread. The TP run's rec_record() runs in the
 * caller's context; at each epoch's end (rec_epoch_keeper.step) it swaps
 * to the EP run's, which starts its rec_record() the first time and else
 * goes on from where it asked for more (rec_ep_follow.more), and swaps
 * back when it asks again. Its verdicts release the output held in their
 * epochs.
 */
#define LOG_PREFIX "tp"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

#include "common/log.h"
#include "tp/epoch.h"
#include "tp/lockstep.h"
#include "tp/rerun.h"
#include "trace/trace.h"

/* The EP run's stack (rec_record() and everything it calls), and the
 * guard page under it. */
#define EP_STACK_BYTES (64u << 20)
#define EP_GUARD_BYTES 4096u

struct tp_lockstep {
	ucontext_t tp_ctx, ep_ctx;
	void *stack;		/* EP_GUARD_BYTES + EP_STACK_BYTES, mmap'ed */
	bool started, ep_done, tp_done;
	struct rec_options ep_opts;
	struct rec_ep_follow follow;
	int ep_r, ep_status;
	char dir[PATH_MAX];
	struct tp_output *held;
	cpu_set_t tp_aff, ep_aff;
	bool have_tp_aff, have_ep_aff;
	uint64_t busy0[CPU_SETSIZE];
	bool have_busy0;
	/* the TP run where it stands (step()) */
	uint64_t tp_k;
	const pid_t *tp_tids, *tp_tgids;
	size_t tp_n;
	uint64_t *taken_ns;	/* [k]: when checkpoint k was taken */
	size_t taken_cap;
	uint64_t released;	/* epochs released: those < released */
	const char *sync_log;	/* tp_lockstep_link_sync() */
	bool sync_linked;
	bool said_diverged;
	struct tp_lockstep_figures fig;
	struct tp_rerun *rerun;	/* tp_lockstep_link_rerun() */
	struct tp_epochs *epochs;
	/* overlap (--ep-overlap): the TP run goes on while the EP run runs */
	bool overlap;
	struct rec_overlap ov;
	bool in_ep;		/* this thread runs the EP run's context */
	bool ep_more;		/* the EP run waits for more of the log */
	bool more_ready;	/* a checkpoint was taken since it asked */
	bool end_asked;		/* the EP run's end told the TP run (end_now) */
	bool pinned;		/* overlap: uprr on the EP run's CPU for good */
};

void
tp_lockstep_link_rerun(struct tp_lockstep *ls, struct tp_rerun *rerun, struct tp_epochs *epochs)
{
	ls->rerun = rerun;
	ls->epochs = epochs;
	/* overlap: the EP run sees the order as lock-step's saw it */
	if (ls->overlap)
		ls->ep_opts.ep_order = tp_rerun_order(rerun);
}

void
tp_lockstep_on_verdict(const struct tp_lockstep_stand *s)
{
	if (s->verdict != 0)
		return;
	log_debug("epoch %" PRIu64 " diverged (%s), not rolled back: the TP run goes on from "
		  "checkpoint %" PRIu64 " (%zu threads) as it is", s->k - 1, s->why, s->tp_k, s->tp_n);
}

int
tp_cpu_busy(uint64_t *busy)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[512];

	if (!f)
		return -errno;
	memset(busy, 0, CPU_SETSIZE * sizeof(*busy));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };
		int cpu;

		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 9 ||
		    cpu < 0 || cpu >= CPU_SETSIZE)
			continue;
		/* user nice system [idle iowait] irq softirq steal */
		busy[cpu] = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	}
	fclose(f);
	return 0;
}

int
tp_least_used_cpu(const cpu_set_t *set, const uint64_t *before, const uint64_t *after)
{
	uint64_t best = UINT64_MAX;
	int cpu = -1;

	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, set) && after[i] - before[i] < best) {
			best = after[i] - before[i];
			cpu = i;
		}
	return cpu;
}

static struct tp_lockstep *the_one; /* makecontext(3) passes ints only */

static void
ep_main(void)
{
	struct tp_lockstep *ls = the_one;

	ls->ep_r = rec_record(&ls->ep_opts, &ls->ep_status, ls->dir, sizeof(ls->dir));
	ls->ep_done = true;
	/* back to the TP run's context (uc_link) */
}

/* The EP run's CPUs: --ep-cpus, or the one the TP run used least so far. */
static void
choose_cpus(struct tp_lockstep *ls)
{
	uint64_t now[CPU_SETSIZE];
	int cpu;

	if (ls->have_ep_aff || !ls->have_tp_aff || !ls->have_busy0 || tp_cpu_busy(now) < 0)
		return;
	cpu = tp_least_used_cpu(&ls->tp_aff, ls->busy0, now);
	if (cpu < 0)
		return;
	CPU_ZERO(&ls->ep_aff);
	CPU_SET(cpu, &ls->ep_aff);
	ls->have_ep_aff = true;
}

/* Run the EP run until it asks for more or ends (@standing: while the TP
 * run stands at an epoch's end, counted in the figures). */
static uint64_t
self_cpu_ns(void)
{
	struct rusage ru = { 0 };

	(void)getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void
to_ep(struct tp_lockstep *ls, bool standing)
{
	uint64_t t0 = util_now_ns(), c0 = self_cpu_ns();

	if (ls->ep_done)
		return;
	if (!ls->started) {
		/* no epoch ended: the log is whole, read as such */
		if (ls->tp_done)
			ls->ep_opts.ep_follow = NULL;
		choose_cpus(ls);
		if (getcontext(&ls->ep_ctx) < 0) {
			log_warn("lock-step: getcontext: %m");
			return;
		}
		ls->ep_ctx.uc_stack.ss_sp = (char *)ls->stack + EP_GUARD_BYTES;
		ls->ep_ctx.uc_stack.ss_size = EP_STACK_BYTES;
		ls->ep_ctx.uc_link = &ls->tp_ctx;
		the_one = ls;
		makecontext(&ls->ep_ctx, ep_main, 0);
		ls->started = true;
	}
	/* overlap: uprr stays on the EP run's CPU, where its ptrace stops
	 * are (the TP run's few cost more from another CPU: ~50 us, not 7) */
	if (ls->have_ep_aff && !ls->pinned)
		(void)sched_setaffinity(0, sizeof(ls->ep_aff), &ls->ep_aff);
	ls->pinned = ls->overlap;
	ls->in_ep = true;
	if (swapcontext(&ls->tp_ctx, &ls->ep_ctx) < 0)
		log_warn("lock-step: swapcontext: %m");
	ls->in_ep = false;
	/* the EP run pinned uprr to its CPU (rec_record()) */
	if (ls->have_tp_aff && !ls->overlap)
		(void)sched_setaffinity(0, sizeof(ls->tp_aff), &ls->tp_aff);
	if (ls->overlap && !ls->tp_done) {
		ls->fig.swaps++;
		ls->fig.ep_uprr_ns += self_cpu_ns() - c0;
	}
	if (standing) {
		ls->fig.steps++;
		ls->fig.stood_ns += util_now_ns() - t0;
		ls->fig.ep_uprr_ns += self_cpu_ns() - c0;
	}
}

/* Tell the TP run once some of its output was released: it stops
 * looking at what its calls change for a re-run (rec_rerun.shown). */
static void
note_shown(struct tp_lockstep *ls)
{
	struct rec_rerun *rr = ls->ep_opts.rerun;
	struct tp_output_stats st;

	if (!rr || rr->shown)
		return;
	tp_output_get_stats(ls->held, &st);
	rr->shown = st.released > 0;
}

bool
tp_rerun_allowed(struct tp_output *held, struct rec_rerun *rr)
{
	struct tp_output_stats st;

	/* decided once (lock-step's step, then tp.c): the same answer again
	 * (a re-run from a checkpoint sets verdict 1, which would read as
	 * one from the start) */
	if (rr->chosen)
		return rr->chosen > 0 && rr->verdict > 0;
	rr->chosen = -1;
	if (held)
		tp_output_get_stats(held, &st);
	/* from the program's start while nothing was shown */
	if (rr->verdict > 0 && (!held || !st.released)) {
		rr->verdict_k = 0;
		rr->chosen = 1;
		return true;
	}
	/* else from the last checkpoint the EP run stood at
	 * (record-ep-live.c), if what went out came from the epochs before it */
	if (rr->verdict_k > 0 && held && st.released_upto > rr->from) {
		rr->verdict_k = -1;
		snprintf(rr->why_k, sizeof(rr->why_k), "output of epoch %" PRIu64 " went out, after "
			 "checkpoint %" PRIu64 ", the last the EP run stood at", st.released_upto - 1,
			 rr->from);
	}
	if (rr->verdict_k > 0) {
		rr->verdict = 1;
		rr->chosen = 2;
		return true;
	}
	if (rr->verdict > 0) {
		rr->verdict = -1;
		snprintf(rr->why, sizeof(rr->why), "epoch %" PRIu64 ": the output of the epochs before it "
			 "went out (%" PRIu64 " bytes), and a re-run from a checkpoint is refused: %.400s",
			 rr->epoch, st.released, rr->verdict_k < 0 ? rr->why_k : "epoch 0");
	} else if (rr->verdict < 0 && rr->verdict_k < 0 && !strstr(rr->why, "; from checkpoint")) {
		size_t n = strlen(rr->why);

		snprintf(rr->why + n, sizeof(rr->why) - n, "; from checkpoint %" PRIu64 ": %.300s", rr->from,
			 rr->why_k);
	}
	return false;
}

/* rec_epoch_keeper.step: checkpoint @k taken, the TP run held there.
 * False when the EP run diverged at a syscall in an epoch it can re-run
 * (rec_options.rerun): the TP run stops here, killed, its output not
 * released (the caller drops it, tp/tp.c). */
static bool
step(void *arg, uint64_t k, const pid_t *tids, const pid_t *tgids, size_t n)
{
	struct tp_lockstep *ls = arg;

	if (UTIL_GROW(ls->taken_ns, ls->taken_cap, k + 1) == 0)
		ls->taken_ns[k] = util_now_ns();
	tp_rerun_at_checkpoint(ls->rerun, k);
	ls->tp_k = k;
	if (ls->overlap) {
		/* the EP run reads on once this thread would wait (wants()) */
		ls->more_ready = true;
	} else {
		ls->tp_tids = tids;
		ls->tp_tgids = tgids;
		ls->tp_n = n;
		to_ep(ls, true);
		ls->tp_tids = ls->tp_tgids = NULL;
		ls->tp_n = 0;
	}
	/* the re-run first: an EP run that went back to the TP run once
	 * more after its divergence (for more of the log) ends at a later
	 * step, where the output of the epochs it diverged in is still held
	 * (released first, it went out, and the re-run made it again) */
	if (ls->ep_done && ls->ep_opts.rerun && tp_rerun_allowed(ls->held, ls->ep_opts.rerun)) {
		struct rec_rerun *rr = ls->ep_opts.rerun;

		/* from the diverged epoch's checkpoint: what it needs of the
		 * TP run, before the TP run is killed */
		if (rr->verdict_k > 0 &&
		    (!ls->rerun || tp_rerun_take(ls->rerun, ls->epochs, rr, rr->why_k, sizeof(rr->why_k)) < 0)) {
			rr->verdict = rr->verdict_k = -1;
			snprintf(rr->why, sizeof(rr->why), "epoch %" PRIu64 ": the output of the epochs before "
				 "it went out, and its checkpoint's re-run is refused: %.400s", rr->epoch,
				 ls->rerun ? rr->why_k : "no record of the TP run's checkpoints");
			return true;
		}
		if (rr->verdict_k > 0)
			log_info("the TP run stops at checkpoint %" PRIu64 ": epoch %" PRIu64 " is re-run "
				 "from checkpoint %" PRIu64, k, rr->epoch, rr->from);
		else
			log_info("the TP run stops at checkpoint %" PRIu64 ": epoch %" PRIu64 " is re-run "
				 "from the program's start", k, rr->epoch);
		return false;
	}
	if (ls->ep_done && ls->held) {
		/* nothing will verify it: it goes out unverified, as at the
		 * end of a run whose EP run did not verify it */
		if (!ls->fig.unverified_said)
			log_warn("%s", "the EP run ended before the TP run (it diverged): the output "
				 "held is released unverified from now on");
		ls->fig.unverified_said = true;
		tp_output_release(ls->held, UINT64_MAX);
		note_shown(ls);
	}
	return true;
}

/* rec_ep_follow.more, in the EP run's context: back to the TP run. */
static int
more(void *arg)
{
	struct tp_lockstep *ls = arg;
	int r;

	if (ls->tp_done)
		return 0;
	ls->ep_more = true;
	ls->in_ep = false;
	r = swapcontext(&ls->ep_ctx, &ls->tp_ctx);
	ls->in_ep = true;
	ls->ep_more = false;
	if (r < 0)
		log_warn("lock-step: swapcontext: %m");
	return r < 0 || ls->tp_done ? 0 : 1;
}

/* rec_overlap.wants: in the TP run's context, whether the EP run, not
 * started or waiting for more of the log, can read on. */
static bool
wants(void *arg)
{
	const struct tp_lockstep *ls = arg;

	return !ls->in_ep && !ls->ep_done && !ls->tp_done && ls->more_ready &&
	       (!ls->started || ls->ep_more);
}

/* rec_overlap.to_other: from either run's loop to the other's. */
static void
to_other(void *arg)
{
	struct tp_lockstep *ls = arg;

	if (ls->in_ep) {
		ls->in_ep = false;
		if (swapcontext(&ls->ep_ctx, &ls->tp_ctx) < 0)
			log_warn("overlap: swapcontext: %m");
		ls->in_ep = true;
		return;
	}
	if (!ls->started || ls->ep_more)
		ls->more_ready = false;
	to_ep(ls, false);
}

/* rec_epoch_keeper.end_now: the EP run ended while the TP run went on
 * (overlap): its next end at once, where step() says what becomes of it
 * (stopped for a re-run, or its output released unverified). */
static bool
end_now(void *arg)
{
	struct tp_lockstep *ls = arg;

	if (!ls->ep_done || ls->end_asked)
		return false;
	ls->end_asked = true;
	return true;
}

/*
 * The EP trace keeps the synchronization order as it was when its program
 * mapped it (the first epoch's records): its copy in files/ becomes a hard
 * link to the file the TP run writes (the same file system: DIR and
 * DIR.tp), so that a trace whose recorder is killed later replays its
 * verified epochs with their records. True once done.
 */
static bool
link_sync(struct tp_lockstep *ls)
{
	struct trace_reader *r = NULL;
	const char *copy = NULL, *original = NULL;
	char err[256], tmp[PATH_MAX];
	bool done = false;

	if (!ls->ep_opts.trace_dir || trace_reader_open(ls->ep_opts.trace_dir, &r, err, sizeof(err)) < 0)
		return false;
	for (uint32_t id = 0; !done && trace_reader_file(r, id, &copy, &original) >= 0; id++) {
		if (!original || strcmp(original, ls->sync_log) != 0)
			continue;
		done = true;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.link", copy) >= sizeof(tmp) ||
		    link(ls->sync_log, tmp) < 0 || rename(tmp, copy) < 0) {
			log_debug("cannot link %s to %s: %m", copy, ls->sync_log);
			(void)unlink(tmp);
		}
	}
	trace_reader_close(r);
	return done;
}

void
tp_lockstep_link_sync(struct tp_lockstep *ls, const char *sync_log)
{
	ls->sync_log = sync_log;
}

/* rec_ep_follow.stands_at: every thread of the TP run held at checkpoint
 * @k's end, not gone on (never with overlap: its step holds none). */
static bool
stands_at(void *arg, uint64_t k)
{
	const struct tp_lockstep *ls = arg;

	return !ls->tp_done && ls->tp_k == k && ls->tp_n;
}

/* rec_ep_follow.verdict, in the EP run's context, both runs standing. */
static void
verdict(void *arg, uint64_t k, int v, const char *why, const pid_t *tids, const pid_t *log_tids,
	size_t n)
{
	struct tp_lockstep *ls = arg;
	struct tp_lockstep_stand s = {
		.k = k, .verdict = v, .why = why ? why : "", .tp_k = ls->tp_k,
		.tp_tids = ls->tp_tids, .tp_tgids = ls->tp_tgids, .tp_n = ls->tp_n,
		.ep_tids = tids, .ep_log_tids = log_tids, .ep_n = n,
	};

	if (!ls->tp_done) {
		uint64_t lag = k < ls->taken_cap && ls->taken_ns[k] ? util_now_ns() - ls->taken_ns[k] : 0;

		ls->fig.verdicts++;
		ls->fig.at_once += ls->tp_k == k;
		ls->fig.lag_ns += lag;
		ls->fig.lag_max_ns = MAX(ls->fig.lag_max_ns, lag);
		log_debug("epoch %" PRIu64 ": verdict %d %.3f ms after its checkpoint, the TP run at "
			  "checkpoint %" PRIu64, k - 1, v, (double)lag / 1e6, ls->tp_k);
		tp_lockstep_on_verdict(&s);
	}
	if (ls->sync_log && !ls->sync_linked)
		ls->sync_linked = link_sync(ls);
	if (v == 3)
		ls->fig.rollbacks++;
	if (v == 0 && !ls->said_diverged) {
		ls->said_diverged = true;
		log_warn("epoch %" PRIu64 " diverged and was not rolled back: its output is released "
			 "with a later verified epoch, or at the run's end", k - 1);
	}
	/*
	 * Checkpoint k ends epoch k - 1: what the TP run held until then
	 * (tagged with the checkpoints taken before it) goes out once that
	 * epoch is verified (v 1), not at any other verdict. A trace whose
	 * recorder is killed replays to its last verified epoch (replay.c
	 * find_tp_cut()), and write_verdict() wrote and flushed this verdict's
	 * frame before telling it: what is shown is then always in what the
	 * trace replays. An epoch diverged, rolled back (3) or not checked (2)
	 * keeps its output until a later epoch is verified (the replay runs
	 * through it then) or the run ends (release_output(), tp/tp.c).
	 * Before, every verdict released: under load, where epochs go
	 * unchecked more often, the reader of a killed recording had seen
	 * lines its replay did not show (e2e tp-killed-recorder).
	 */
	if (ls->held && v == 1 && k > ls->released) {
		tp_output_release(ls->held, k - 1);
		ls->released = k;
		note_shown(ls);
	}
	/* with it, the closes of connections kept for a re-run before k */
	if (v == 1)
		tp_epochs_verified(ls->epochs, k);
}

struct tp_lockstep *
tp_lockstep_new(const struct rec_options *ep_opts, struct rec_epoch_keeper *keeper,
		struct tp_output *held, const cpu_set_t *ep_cpus)
{
	struct tp_lockstep *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->stack = mmap(NULL, EP_GUARD_BYTES + EP_STACK_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (ls->stack == MAP_FAILED) {
		free(ls);
		return NULL;
	}
	/* the guard: an overflow faults instead of writing over the heap */
	(void)mprotect(ls->stack, EP_GUARD_BYTES, PROT_NONE);
	ls->ep_opts = *ep_opts;
	ls->follow = (struct rec_ep_follow){ .arg = ls, .more = more, .verdict = verdict,
					     .stands_at = stands_at };
	ls->ep_opts.ep_follow = &ls->follow;
	ls->held = held;
	ls->fig.cpu = -1;
	ls->have_tp_aff = sched_getaffinity(0, sizeof(ls->tp_aff), &ls->tp_aff) == 0;
	if (ep_cpus) {
		ls->ep_aff = *ep_cpus;
		ls->have_ep_aff = true;
	}
	ls->have_busy0 = tp_cpu_busy(ls->busy0) == 0;
	keeper->step = step;
	keeper->step_arg = ls;
	ls->overlap = ep_opts->ep_overlap;
	if (ls->overlap) {
		ls->ov = (struct rec_overlap){ .arg = ls, .wants = wants, .to_other = to_other };
		keeper->end_now = end_now;
		rec_overlap_set(&ls->ov);
	}
	return ls;
}

int
tp_lockstep_finish(struct tp_lockstep *ls, int *ret_status, char *dir_buf, size_t dir_len)
{
	ls->tp_done = true;
	to_ep(ls, false);
	if (ls->overlap)
		rec_overlap_set(NULL);
	if (!ls->ep_done) {
		log_error("%s", "lock-step: the EP run did not end");
		return -EIO;
	}
	for (int i = 0; ls->have_ep_aff && i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &ls->ep_aff)) {
			ls->fig.cpu = i;
			break;
		}
	*ret_status = ls->ep_status;
	snprintf(dir_buf, dir_len, "%s", ls->dir);
	return ls->ep_r;
}

void
tp_lockstep_get_figures(const struct tp_lockstep *ls, struct tp_lockstep_figures *ret)
{
	*ret = ls->fig;
}

void
tp_lockstep_free(struct tp_lockstep *ls)
{
	if (!ls)
		return;
	if (ls->started && !ls->ep_done)
		log_warn("%s", "lock-step: the EP run is left unfinished");
	if (ls->overlap)
		rec_overlap_set(NULL);
	(void)munmap(ls->stack, EP_GUARD_BYTES + EP_STACK_BYTES);
	free(ls->taken_ns);
	if (the_one == ls)
		the_one = NULL;
	free(ls);
}
