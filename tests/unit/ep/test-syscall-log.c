/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the log an EP run answers its syscalls from (ep/ep.h): a
 * trace written here, with two threads whose syscalls interleave, is read
 * back as each thread's calls in its own order, futex and sched_yield left
 * out, the thread a clone created named, a TP run's epoch interrupts of
 * calls folded away; the comparison of a call with the log's says what
 * differs; traces an EP run cannot take are refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include "ep/ep.h"
#include "preload/uprr-preload.h"
#include "trace/trace.h"

static char tmp_root[PATH_MAX];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
make_tmp(void)
{
	strcpy(tmp_root, "/tmp/uprr-test-ep-log-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root));
}

static void
remove_tmp(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(ep_log, .init = make_tmp, .fini = remove_tmp, .timeout = 20);

static const uint8_t stack_bytes[64] = { 1, 2, 3, 4 };
static const char written[] = "hello";
static const char read_back[] = "from the file";

static void
add(struct trace_writer *w, enum trace_event_type type, uint32_t tid, int n, const uint64_t *values,
    const struct trace_blob *blob)
{
	struct trace_event ev = { .type = type, .tid = tid, .nvalues = (uint32_t)n };

	memcpy(ev.values, values, (size_t)n * sizeof(uint64_t));
	if (type == TRACE_EV_EXEC)
		ev.has_regs = true;
	ev.nblobs = blob ? 1 : 0;
	ev.blobs = blob;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
}

/* A new log at tmp_root/@name (its path into @dir, LOG_DIR_LEN bytes), of
 * mode @mode ("up", "tp-log"), its first event the exec of thread 100:
 * its writer. */
#define LOG_DIR_LEN (PATH_MAX + 16)
static struct trace_writer *
begin_log(char *dir, const char *name, const char *mode)
{
	static char *argv[] = { "prog", NULL }, *envp[] = { NULL };
	struct trace_header h = { .format_version = TRACE_FORMAT_VERSION, .argv = argv, .envp = envp };
	struct trace_blob stack = { 0x7ffffffff000 - sizeof(stack_bytes), sizeof(stack_bytes), stack_bytes };
	struct trace_writer *w;

	snprintf(dir, LOG_DIR_LEN, "%s/%s", tmp_root, name);
	snprintf(h.mode, sizeof(h.mode), "%s", mode);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	add(w, TRACE_EV_EXEC, 100, 3, (uint64_t[]){ 0, 0, 100 }, &stack);
	return w;
}

/* A trace of thread 100 (the program) and thread 101, which 100's clone
 * created; with @extra (an event of that type) appended. */
static char *
write_log(enum trace_event_type extra, uint64_t extra_value)
{
	static char dir[LOG_DIR_LEN];
	struct trace_blob out = { 0x1000, sizeof(written), written };
	struct trace_blob in = { 0x2000, sizeof(read_back), read_back };
	struct trace_writer *w;

	w = begin_log(dir, "log", "up");
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_clone, 0x3d0f00, 0, 0, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_THREAD_START, 101, 2, (uint64_t[]){ 100, 0x3d0f00 }, NULL);
	/* the new thread runs first: its calls come between its creator's
	 * entry and exit in the trace's order */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_futex, 0x3000, 0, 1, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_read, 3, 0x2000, 64, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_read, sizeof(read_back) }, &in);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_clone, 101 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_sched_yield, 0, 0, 0, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_sched_yield, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_write, 1, 0x1000, sizeof(written), 0, 0, 0 },
	    &out);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_write, sizeof(written) }, NULL);
	/* killed in it: an entry with no exit */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_read, 3, 0x2000, 64, 0, 0, 0 }, NULL);
	if (extra)
		add(w, extra, 101, 2, (uint64_t[]){ extra_value, TRACE_SIGNAL_AT_EVENT }, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	return dir;
}

Test(ep_log, each_thread_in_its_own_order)
{
	const struct trace_blob *stack;
	const uint64_t *regs;
	const struct ep_call *c;
	struct ep_log *log;
	const char *exe;
	char err[256] = "";

	cr_assert_eq(ep_log_open(write_log(0, 0), &log, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ep_log_root(log), 100);
	cr_assert_eq(ep_log_exe(log, &exe), -ENOENT, "this trace kept no executable");
	ep_log_image(log, &stack, &regs);
	cr_assert_eq(stack->len, sizeof(stack_bytes));
	cr_assert(memcmp(stack->data, stack_bytes, sizeof(stack_bytes)) == 0);

	c = ep_log_take(log, 100);
	cr_assert_not_null(c);
	cr_assert_eq(c->nr, SYS_clone);
	cr_assert_eq(c->child, 101, "the thread its clone created");
	cr_assert_eq(c->result, 101);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_write, "sched_yield is left out");
	cr_assert_eq(c->nin, 1);
	cr_assert_null(ep_log_take(log, 100));

	c = ep_log_take(log, 101);
	cr_assert_eq(c->nr, SYS_read, "futex is left out");
	cr_assert(c->exited);
	cr_assert_eq(c->nout, 1);
	cr_assert_eq(c->out[0].addr, 0x2000);
	cr_assert(memcmp(c->out[0].data, read_back, sizeof(read_back)) == 0);
	c = ep_log_take(log, 101);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert_not(c->exited, "the read it was killed in never returned");
	cr_assert_null(ep_log_take(log, 101));
	cr_assert_null(ep_log_take(log, 999), "a thread the log does not have");

	cr_assert_eq(ep_log_tid(log, 4242), 0);
	cr_assert_eq(ep_log_map_tid(log, 4242, 100), 0);
	cr_assert_eq(ep_log_tid(log, 4242), 100);
	ep_log_free(log);
}

Test(ep_log, a_call_compared_with_the_log)
{
	struct trace_blob same = { 0x1000, sizeof(written), written };
	struct trace_blob other = { 0x1000, sizeof(written), "hellO" };
	uint64_t args[6] = { 1, 0x1000, sizeof(written), 0xdead, 0xbeef, 0 };
	const struct ep_call *c;
	struct ep_log *log;
	char err[256] = "", why[256];

	cr_assert_eq(ep_log_open(write_log(0, 0), &log, err, sizeof(err)), 0, "%s", err);
	(void)ep_log_take(log, 100);
	c = ep_log_take(log, 100);
	/* registers past write's 3 arguments are not compared */
	cr_assert_eq(ep_call_check(c, SYS_write, args, &same, 1, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(ep_call_check(c, SYS_pwrite64, args, &same, 1, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "the log has write there");
	args[2] = 4;
	cr_assert_eq(ep_call_check(c, SYS_write, args, &same, 1, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "argument 2 is 0x4, the log has 0x6");
	args[2] = sizeof(written);
	cr_assert_eq(ep_call_check(c, SYS_write, args, &other, 1, why, sizeof(why)), -1);
	cr_assert(strstr(why, "other bytes at 0x1000"), "%s", why);
	cr_assert_eq(ep_call_check(c, SYS_write, args, NULL, 0, why, sizeof(why)), -1);
	ep_log_free(log);
}

Test(ep_log, what_it_cannot_take_is_refused)
{
	struct ep_log *log = NULL;
	char err[256] = "";

	cr_assert_eq(ep_log_open(write_log(TRACE_EV_SIGNAL, 10), &log, err, sizeof(err)), -ENOTSUP);
	cr_assert(strstr(err, "asynchronous signal"), "%s", err);
	remove_tmp();
	make_tmp();
	/* a signal delivered at the start of a thread, not at a syscall's exit */
	cr_assert_eq(ep_log_open(write_log(TRACE_EV_SIGNAL, 11), &log, err, sizeof(err)), -ENOTSUP);
	cr_assert_null(log);
	cr_assert_lt(ep_log_open("/nonexistent/trace", &log, err, sizeof(err)), 0);
}

/* A trace of thread 100 whose read is interrupted and restarted, with the
 * log's signal after its -ERESTARTSYS exit; two signals at a write's exit;
 * and @last (a signal kind) after its last call. */
static char *
write_signal_log(uint64_t last)
{
	static char dir[LOG_DIR_LEN];
	static uint8_t info[128] = { 14 };
	struct trace_blob si = { 0, sizeof(info), info };
	struct trace_blob in = { 0x2000, sizeof(read_back), read_back };
	struct trace_blob out = { 0x1000, sizeof(written), written };
	struct trace_writer *w;

	w = begin_log(dir, "siglog", "up");
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_read, 3, 0x2000, 64, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, (uint64_t)-512 }, NULL);
	add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 14, TRACE_SIGNAL_AT_EVENT }, &si);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_read, 3, 0x2000, 64, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, sizeof(read_back) }, &in);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_write, 1, 0x1000, sizeof(written), 0, 0, 0 },
	    &out);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_write, sizeof(written) }, NULL);
	add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 12, TRACE_SIGNAL_AT_UNBLOCK }, &si);
	add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 15, TRACE_SIGNAL_AT_EVENT }, &si);
	if (last)
		add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 10, last }, &si);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	return dir;
}

Test(ep_log, signals_at_the_calls_they_came_after)
{
	const struct ep_call *c;
	struct ep_log *log;
	char err[256] = "";

	cr_assert_eq(ep_log_open(write_signal_log(0), &log, err, sizeof(err)), 0, "%s", err);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->result, -512, "interrupted: the kernel's restart result");
	cr_assert_eq(c->nsigs, 1);
	cr_assert_eq(c->sigs[0].sig, 14);
	cr_assert_eq(c->sigs[0].kind, TRACE_SIGNAL_AT_EVENT);
	cr_assert_eq(c->sigs[0].info[0], 14, "the log's siginfo");
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read, "the restarted read is the next call");
	cr_assert_eq(c->nsigs, 0);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_write);
	cr_assert_eq(c->nsigs, 2, "two at one point, in the log's order");
	cr_assert_eq(c->sigs[0].kind, TRACE_SIGNAL_AT_UNBLOCK);
	cr_assert_eq(c->sigs[1].sig, 15);
	ep_log_free(log);

	/* delivered in user code: not found by an EP run yet */
	remove_tmp();
	make_tmp();
	log = NULL;
	cr_assert_eq(ep_log_open(write_signal_log(TRACE_SIGNAL_AT_REGS), &log, err, sizeof(err)), -ENOTSUP);
	cr_assert(strstr(err, "in user code"), "%s", err);
	cr_assert_null(log);
	/* instead of entering a call, after two at an exit: those raised at
	 * the exit, this one given at the next entry (ep_call.nexit) */
	remove_tmp();
	make_tmp();
	log = NULL;
	cr_assert_eq(ep_log_open(write_signal_log(TRACE_SIGNAL_AT_SYSCALL), &log, err, sizeof(err)), 0, "%s",
		     err);
	c = ep_log_take(log, 100);
	cr_assert_not_null(c);
	(void)ep_log_take(log, 100); /* the restarted read */
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_write);
	cr_assert_eq(c->nsigs, 3, "%u signals", c->nsigs);
	cr_assert_eq(c->nexit, 2);
	cr_assert_eq(c->sigs[2].kind, TRACE_SIGNAL_AT_SYSCALL);
	ep_log_free(log);
}

/* A signal the log took right after the exit of a futex wait it
 * interrupted (left out of matching: Pool.terminate()'s SIGTERM to a
 * worker waiting for a task): attached to the last matched call, delivered
 * instead of entering the next call after it (the EP run's first futex
 * wait there). One taken at the thread's start stays refused. */
Test(ep_log, a_signal_after_a_futex_wait)
{
	static char dir[LOG_DIR_LEN];
	static uint8_t info[128] = { 15 };
	struct trace_blob si = { 0, sizeof(info), info };
	struct trace_blob out = { 0x1000, sizeof(written), written };
	const struct ep_call *c;
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";

	w = begin_log(dir, "futexsig", "up");
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_write, 5, 0x1000, sizeof(written), 0, 0, 0 },
	    &out);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_write, sizeof(written) }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_futex, 0x4000, 0, 0, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 15, TRACE_SIGNAL_AT_EVENT }, &si);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_write, "the futex wait is not matched");
	cr_assert_eq(c->nsigs, 1);
	cr_assert_eq(c->sigs[0].sig, 15);
	cr_assert_eq(c->sigs[0].kind, TRACE_SIGNAL_AT_SYSCALL, "at the next entry, not at the write's exit");
	cr_assert_null(ep_log_take(log, 100));
	ep_log_free(log);
}

/* The places the log's program mapped, for an EP run's own mappings to
 * leave free: mmap and mremap results of every thread, their lengths
 * rounded up to pages, sorted and merged; failed calls and other calls
 * left out. */
Test(ep_log, the_ranges_its_program_mapped)
{
	static char dir[LOG_DIR_LEN];
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";
	const uint64_t *m;
	size_t n;

	w = begin_log(dir, "maps", "tp-log");
	/* thread 100: a high one, then one that fails */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_mmap, 0, 0x2b000, 3, 0x22, -1, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 4, (uint64_t[]){ SYS_mmap, 0x7ffff7a44000, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_mmap, 0, 0x1000, 3, 0x22, -1, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 4, (uint64_t[]){ SYS_mmap, (uint64_t)-12, 0, 0 }, NULL);
	/* thread 101: one of 1 byte just below 100's (adjacent: merged),
	 * a mremap that moved, a write */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_mmap, 0, 1, 3, 0x22, -1, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 4, (uint64_t[]){ SYS_mmap, 0x7ffff7a43000, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_mremap, 0x7ffff7a43000, 0x1000, 0x3000, 1, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_mremap, 0x7fffe0000000 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_write, 1, 0x1000, 5, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_write, 0x7fff00000000 }, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	m = ep_log_mapped(log, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(m[0], 0x7fffe0000000);
	cr_assert_eq(m[1], 0x7fffe0003000);
	cr_assert_eq(m[2], 0x7ffff7a43000);
	cr_assert_eq(m[3], 0x7ffff7a44000 + 0x2b000);
	ep_log_free(log);
}

/* The TP log's epoch ends interrupt blocking calls (TRACE_EV_EPOCH in a
 * syscall, then its exit with -ERESTART*, then the kernel's restart of it):
 * artifacts of the TP run that the program never saw, folded into the one
 * call it made. A signal's interrupt, delivered and logged, is not; nor is
 * an interrupted call whose next is another. */
Test(ep_log, epoch_interrupts_folded_into_the_call)
{
	static char dir[LOG_DIR_LEN];
	static uint8_t info[128] = { 14 };
	static const uint8_t rem[16] = { 9, 9 };
	struct trace_blob si = { 0, sizeof(info), info };
	struct trace_blob in = { 0x2000, sizeof(read_back), read_back };
	struct trace_blob left = { 0x3010, sizeof(rem), rem };
	const uint64_t read_call[7] = { SYS_read, 3, 0x2000, 64, 0, 0, 0 };
	const uint64_t epoch[4] = { 1, 0, TRACE_EPOCH_SYSCALL, 0 };
	const uint64_t restart[2] = { SYS_read, (uint64_t)-512 };
	const uint64_t blockrestart[2] = { SYS_nanosleep, (uint64_t)-516 };
	const uint64_t restart_sc[7] = { SYS_restart_syscall, 0x55, 0x66, 0, 0, 0, 0 };
	const struct ep_call *c;
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";

	w = begin_log(dir, "epochs", "tp-log");
	/* a read interrupted by two epochs, restarted each time */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, sizeof(read_back) }, &in);
	/* a nanosleep: the interrupt writes the time left, restart_syscall
	 * (other registers) finishes it, itself interrupted once */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_nanosleep, 0x3000, 0x3010, 0, 0, 0, 0 },
	    NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, blockrestart, &left);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, restart_sc, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_restart_syscall, (uint64_t)-516 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, restart_sc, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_restart_syscall, 0 }, NULL);
	/* thread 101: a futex wait (left out) interrupted, its restart_syscall
	 * left out with it */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_futex, 0x3000, 0, 1, 0x4000, 0, 0 }, NULL);
	add(w, TRACE_EV_EPOCH, 101, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-516 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, restart_sc, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_restart_syscall, 0 }, NULL);
	/* a read an epoch interrupted and a signal came to: delivered, kept */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SIGNAL, 100, 2, (uint64_t[]){ 14, TRACE_SIGNAL_AT_EVENT }, &si);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, 0 }, NULL);
	/* -ERESTART* with no epoch event before it (an end put off after
	 * the threads were interrupted): restarted all the same */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, 0 }, NULL);
	/* an interrupted read whose next call is another one: not folded */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_poll, 0x5000, 1, 3, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_poll, 1 }, NULL);
	/* thread 101: a read the log ends in, after an epoch's interrupt */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 101, 4, epoch, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, restart, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert(c->exited);
	cr_assert_eq(c->result, (int64_t)sizeof(read_back), "the restarted read's result");
	cr_assert_eq(c->nout, 1);
	cr_assert_eq(c->out[0].addr, 0x2000);
	cr_assert(memcmp(c->out[0].data, read_back, sizeof(read_back)) == 0);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_nanosleep, "the two reads are one");
	cr_assert_eq(c->args[1], 0x3010, "its own arguments, not restart_syscall's");
	cr_assert(c->exited);
	cr_assert_eq(c->result, 0, "restart_syscall's result answers it");
	cr_assert_eq(c->values[0], SYS_nanosleep);
	cr_assert_eq(c->nout, 1, "the time left the interrupt wrote");
	cr_assert_eq(c->out[0].addr, 0x3010);
	cr_assert(memcmp(c->out[0].data, rem, sizeof(rem)) == 0);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert_eq(c->result, -512, "a signal's interrupt is the program's");
	cr_assert_eq(c->nsigs, 1);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert_eq(c->result, 0);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert_eq(c->result, 0, "an end put off, with no epoch event: folded too");
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_read);
	cr_assert_eq(c->result, -512, "the next call is no restart of it");
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, SYS_poll);
	cr_assert_eq(c->result, 1);
	cr_assert_null(ep_log_take(log, 100));

	c = ep_log_take(log, 101);
	cr_assert_eq(c->nr, SYS_read, "futex and its restart_syscall are left out");
	cr_assert_not(c->exited, "the log ended before its restart: still in it");
	cr_assert_null(ep_log_take(log, 101));
	ep_log_free(log);
}

/* Where each thread stood at each epoch's end (ep_log_ends()), as an EP
 * run finds the same point: at the entry of a call the end interrupted
 * (with what the interrupt's exit wrote), after the exit of one that had
 * just ended, in a futex call left out of matching (its arguments), in user
 * code; and the rdtsc values of a thread, in order. Each end's values[1]
 * counts the thread's exits logged before it, as the TP run counts them
 * (rec_epoch_count()): an interrupted call's -ERESTART* exit is one. */
Test(ep_log, epoch_ends_and_rdtsc)
{
	static char dir[LOG_DIR_LEN];
	static const uint8_t rem[16] = { 9, 9 };
	struct trace_blob left = { 0x3010, sizeof(rem), rem };
	const uint64_t read_call[7] = { SYS_read, 3, 0x2000, 64, 0, 0, 0 };
	const uint64_t futex_call[7] = { SYS_futex, 0x4000, 0, 7, 0, 0, 0 };
	const uint64_t restart[2] = { SYS_read, (uint64_t)-512 };
	const struct ep_end *e;
	struct trace_writer *w;
	struct ep_log *log;
	uint64_t tsc[3];
	char err[256] = "";
	size_t n;

	w = begin_log(dir, "ends", "tp-log");
	add(w, TRACE_EV_RDTSC, 100, 4, (uint64_t[]){ 11, 22, 33, 2 }, NULL);
	/* 100: a read interrupted at checkpoint 1 */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 1, 0, TRACE_EPOCH_SYSCALL, 500 }, NULL);
	/* 101: a futex wait interrupted at checkpoint 1, a futex call that
	 * had just ended at checkpoint 2 */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, futex_call, NULL);
	add(w, TRACE_EV_EPOCH, 101, 4, (uint64_t[]){ 1, 0, TRACE_EPOCH_SYSCALL, 500 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, restart, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, futex_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, 0 }, NULL);
	/* 100: a write that had just ended at checkpoint 2 */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_write, 1, 0x1000, 5, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 2, 2, TRACE_EPOCH_SYSCALL, 501 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, futex_call, NULL);
	add(w, TRACE_EV_EPOCH, 101, 4, (uint64_t[]){ 2, 2, TRACE_EPOCH_SYSCALL, 501 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_write, 5 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, 0 }, NULL);
	/* 100: a nanosleep interrupted at checkpoint 3 (the time left
	 * written), then in user code at checkpoint 4 */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_nanosleep, 0x3000, 0x3010, 0, 0, 0, 0 },
	    NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 3, 3, TRACE_EPOCH_SYSCALL, 502 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_nanosleep, (uint64_t)-516 }, &left);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_restart_syscall, 0, 0, 0, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_restart_syscall, 0 }, NULL);
	add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 4, 5, TRACE_EPOCH_USER, 503 }, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ep_log_checkpoints(log), 4);
	e = ep_log_ends(log, 100, &n);
	cr_assert_eq(n, 4);
	cr_assert_eq(e[0].k, 1);
	cr_assert_eq(e[0].at, EP_END_ENTRY, "interrupted: at the read's entry");
	cr_assert_eq(e[0].idx, 0);
	cr_assert_eq(e[0].copy, 500);
	cr_assert_eq(e[0].nwrote, 0);
	cr_assert_eq(e[1].at, EP_END_EXIT, "ended: after the write's exit");
	cr_assert_eq(e[1].idx, 1, "the read and its restart are one call");
	cr_assert_eq(e[2].at, EP_END_ENTRY);
	cr_assert_eq(e[2].idx, 2);
	cr_assert_eq(e[2].nwrote, 1, "the time left the interrupt wrote");
	cr_assert_eq(e[2].wrote[0], 0x3010);
	cr_assert_eq(e[2].wrote[1], sizeof(rem));
	cr_assert_eq(e[3].at, EP_END_USER);
	e = ep_log_ends(log, 101, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(e[0].at, EP_END_FUTEX);
	cr_assert_eq(e[0].idx, 0, "no matched call before it");
	cr_assert_eq(e[0].nr, SYS_futex);
	cr_assert_eq(e[0].args[2], 7);
	cr_assert(e[0].seq > ep_log_ends(log, 100, &n)[0].seq, "in the log's order");
	cr_assert_eq(e[1].at, EP_END_UNKNOWN, "right after a futex call: not found");
	cr_assert_eq(ep_log_take_tsc(log, 100, tsc), 0);
	cr_assert(tsc[0] == 11 && tsc[1] == 22 && tsc[2] == 33);
	cr_assert_eq(ep_log_take_tsc(log, 100, tsc), -ENOENT);
	cr_assert_eq(ep_log_take_tsc(log, 101, tsc), -ENOENT);
	ep_log_free(log);
}

/* A traced call with @values of thread @tid made at @rip. */
static void
add_at(struct trace_writer *w, uint32_t tid, const uint64_t values[7], uint64_t rip)
{
	struct trace_event ev = { .type = TRACE_EV_SYSCALL_ENTRY, .tid = tid, .nvalues = 7,
				  .has_regs = true };

	memcpy(ev.values, values, 7 * sizeof(uint64_t));
	ev.regs[offsetof(struct user_regs_struct, rip) / 8] = rip;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
}

/* Ends in traced calls the syscall buffer's library made (a blocked read,
 * a futex wait): the same calls of the program's, marked library (their
 * registers are the library's in the copy), a futex's found without its
 * rip; and the stub mappings of the run's site patches (ep_log_stubs()). */
Test(ep_log, library_ends_and_stubs)
{
	static char dir[LOG_DIR_LEN];
	const uint64_t read_call[7] = { SYS_read, 3, 0x2000, 64, 0, 0, 0 };
	const uint64_t futex_call[7] = { SYS_futex, 0x4000, 0, 7, 0, 0, 0 };
	const uint64_t lib = UPRR_PRELOAD_ADDR + 0xa7, site = 0x401234;
	const struct ep_stub_area *st;
	const struct ep_end *e;
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";
	size_t n;

	w = begin_log(dir, "library", "tp-log");
	add(w, TRACE_EV_SITE_PATCH, 100, 4, (uint64_t[]){ SYS_read, 0x7000000, 0x10000, site }, NULL);
	add(w, TRACE_EV_SITE_PATCH, 100, 4, (uint64_t[]){ SYS_write, 0, 0, site + 0x40 }, NULL);
	/* 100: a read from the library, interrupted at checkpoint 1 */
	add_at(w, 100, read_call, lib);
	/* 101: a futex wait from the library at checkpoint 1, one from the
	 * program's site interrupted at checkpoint 2 */
	add_at(w, 101, futex_call, lib);
	add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 1, 0, TRACE_EPOCH_SYSCALL, 500 }, NULL);
	add(w, TRACE_EV_EPOCH, 101, 4, (uint64_t[]){ 1, 0, TRACE_EPOCH_SYSCALL, 500 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, (uint64_t)-512 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	add_at(w, 100, read_call, lib);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, 0 }, NULL);
	add_at(w, 101, futex_call, lib);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, 0 }, NULL);
	add_at(w, 101, futex_call, site);
	add(w, TRACE_EV_EPOCH, 101, 4, (uint64_t[]){ 2, 2, TRACE_EPOCH_SYSCALL, 501 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	e = ep_log_ends(log, 100, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(e[0].at, EP_END_ENTRY, "the read the library made: at the read's entry");
	cr_assert_eq(e[0].idx, 0);
	cr_assert(e[0].library);
	e = ep_log_ends(log, 101, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(e[0].at, EP_END_FUTEX);
	cr_assert(e[0].library, "its rip is the library's, not the site's");
	cr_assert_eq(e[0].args[0], 0x4000);
	cr_assert_eq(e[1].at, EP_END_FUTEX);
	cr_assert_not(e[1].library);
	cr_assert_eq(e[1].rip, site);
	st = ep_log_stubs(log, &n);
	cr_assert_eq(n, 1, "a patch with no new mapping adds none");
	cr_assert_eq(st[0].log_tid, 100);
	cr_assert_eq(st[0].addr, 0x7000000);
	cr_assert_eq(st[0].len, 0x10000);
	/* each traced call keeps where it was made (rec_ep_traced_here()) */
	cr_assert_eq(ep_log_peek(log, 100, 0)->rip, lib);
	cr_assert_null(ep_log_peek(log, 101, 0), "futex calls are not matched");
	ep_log_free(log);
}

/* An epoch's end with TRACE_EV_EPOCH's values[4] (the TP run's word on
 * what follows it) and, for 3, the registers of the call it is held at. */
static void
add_end(struct trace_writer *w, uint32_t tid, uint64_t k, uint64_t logged, uint64_t hint,
	const struct user_regs_struct *regs)
{
	struct trace_event ev = { .type = TRACE_EV_EPOCH, .tid = tid, .nvalues = 5 };

	ev.values[0] = k;
	ev.values[1] = logged;
	ev.values[2] = TRACE_EPOCH_SYSCALL;
	ev.values[3] = 0;
	ev.values[4] = hint;
	if (regs) {
		ev.has_regs = true;
		memcpy(ev.regs, regs, sizeof(*regs));
	}
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
}

/* Lock-step (doc/uniparallel.md): the TP run's log read as it grows. Two
 * flushes: what the first holds is read; its ends are known at once when
 * the TP run said what follows them (an interrupted read: at its entry; a
 * thread held at a write's entry: that write, not logged yet), not when it
 * did not; a call taken before the second read stays where it was (the EP
 * run keeps pointers to calls) and gets its exit then; read whole, every
 * end is known. */
Test(ep_log, a_log_read_as_it_grows)
{
	static char dir[LOG_DIR_LEN];
	struct trace_blob in = { 0x2000, sizeof(read_back), read_back };
	const uint64_t read_call[7] = { SYS_read, 3, 0x2000, 64, 0, 0, 0 };
	struct user_regs_struct held = { .rax = SYS_write, .rdi = 1, .rsi = 0x1000, .rdx = 5,
					 .rip = 0x401000 };
	const struct ep_end *e;
	const struct ep_call *c, *first;
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";
	size_t n;

	w = begin_log(dir, "growing", "tp-log");
	/* 100: in a read at checkpoint 1, interrupted (its exit comes later) */
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add_end(w, 100, 1, 0, 1, NULL);
	/* 101: one call done, then held at a write's entry */
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_getpid, 0, 0, 0, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_getpid, 100 }, NULL);
	add_end(w, 101, 1, 1, 3, &held);
	cr_assert_eq(trace_writer_flush(w), 0);

	cr_assert_eq(ep_log_open_follow(dir, &log, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(ep_log_whole(log));
	cr_assert_eq(ep_log_checkpoints(log), 1);
	cr_assert(ep_log_ends_known(log, 1), "the TP run said where both stand");
	cr_assert_not(ep_log_ends_known(log, 2), "no checkpoint 2 yet");
	e = ep_log_ends(log, 100, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(e->at, EP_END_ENTRY, "interrupted: at its entry");
	cr_assert_eq(e->idx, 0);
	e = ep_log_ends(log, 101, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(e->at, EP_END_ENTRY, "held at the write's entry");
	cr_assert_eq(e->idx, 1, "the call after its getpid, not logged yet");
	cr_assert_eq(e->nr, SYS_write);
	cr_assert_eq(e->args[1], 0x1000);
	cr_assert_null(ep_log_call(log, 101, 1));
	first = ep_log_take(log, 100);
	cr_assert_not_null(first);
	cr_assert_eq(first->nr, SYS_read);
	cr_assert_not(first->exited, "its exit is still to come");

	/* the TP run goes on: the read restarted and done, the write made,
	 * another end (no word on it), many more calls (the array grows) */
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, (uint64_t)-512 }, NULL);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_read, sizeof(read_back) }, &in);
	add(w, TRACE_EV_SYSCALL_ENTRY, 101, 7, (uint64_t[]){ SYS_write, 1, 0x1000, 5, 0, 0, 0 }, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_write, 5 }, NULL);
	for (int i = 0; i < 1000; i++) {
		add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ SYS_getpid, 0, 0, 0, 0, 0, 0 }, NULL);
		add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ SYS_getpid, 100 }, NULL);
	}
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, read_call, NULL);
	add_end(w, 100, 2, 1002, 0, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);

	cr_assert_eq(ep_log_more(log, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ep_log_checkpoints(log), 2);
	cr_assert(first->exited, "the same call, where it was, got its exit");
	cr_assert_eq(first->result, (int64_t)sizeof(read_back), "folded with its restart");
	cr_assert_eq(ep_log_call(log, 100, 0), first);
	c = ep_log_take(log, 101);
	cr_assert_eq(c->nr, SYS_getpid);
	c = ep_log_take(log, 101);
	cr_assert_eq(c->nr, SYS_write, "the call it was held at");
	cr_assert_not(ep_log_ends_known(log, 2), "in a call, the TP run said nothing: its exit tells");

	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(ep_log_more(log, true, err, sizeof(err)), 0, "%s", err);
	cr_assert(ep_log_whole(log));
	cr_assert(ep_log_ends_known(log, 2), "read whole: as ep_log_open() knows it");
	ep_log_free(log);
}

/* Ends in glibc's wait inside a condition wait or a lock of the interposer
 * (TRACE_EV_EPOCH values[5..8], recorder/record-epoch.c sync_wait_at()):
 * a private futex wait the library made, which without them is not found
 * (library-futex), is found at libuprr-sync's wait for the record they
 * name (EP_END_SYNC), known at once, whatever the call's exit then says;
 * the same wait without them stays library-futex. */
Test(ep_log, ends_in_a_condition_wait)
{
	static char dir[LOG_DIR_LEN];
	/* glibc's condition wait: FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME */
	const uint64_t wait_call[7] = { SYS_futex, 0x5000, 0x189, 0, 0, 0, 0xffffffff };
	const uint64_t lib = UPRR_PRELOAD_ADDR + 0xa7;
	struct trace_event ev = { .type = TRACE_EV_EPOCH, .tid = 101, .nvalues = 9 };
	const struct ep_end *e;
	struct trace_writer *w;
	struct ep_log *log;
	char err[256] = "";
	size_t n;

	w = begin_log(dir, "condwait", "tp-log");
	add_at(w, 101, wait_call, lib);
	/* checkpoint 1: in the wait, its acquisition record 7 of its slot */
	ev.values[0] = 1;
	ev.values[2] = TRACE_EPOCH_SYSCALL;
	ev.values[3] = 500;
	ev.values[4] = 1;
	ev.values[5] = 8;
	ev.values[6] = 0x7fffdf7fedd8;
	ev.values[7] = 0x555555559140;
	ev.values[8] = 0x555555559180;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	add_at(w, 101, wait_call, lib);
	/* checkpoint 2: the same wait, the TP run said nothing of it */
	add_end(w, 101, 2, 1, 1, NULL);
	add(w, TRACE_EV_SYSCALL_EXIT, 101, 2, (uint64_t[]){ SYS_futex, (uint64_t)-512 }, NULL);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	e = ep_log_ends(log, 101, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(e[0].at, EP_END_SYNC, "found in libuprr-sync's wait for the record");
	cr_assert_eq(e[0].why, EP_WHY_NONE);
	cr_assert_eq(e[0].idx, 0);
	cr_assert_eq(e[0].sync_rec, 8);
	cr_assert_eq(e[0].sync_frame, 0x7fffdf7fedd8);
	cr_assert_eq(e[0].sync_cond, 0x555555559140);
	cr_assert_eq(e[0].sync_mutex, 0x555555559180);
	cr_assert_eq(e[1].at, EP_END_UNKNOWN);
	cr_assert_eq(e[1].why, EP_WHY_LIBRARY_FUTEX, "without the record: not found (%s)", ep_why_name(e[1].why));
	cr_assert_eq(e[1].sync_rec, 0);
	ep_log_free(log);
}
