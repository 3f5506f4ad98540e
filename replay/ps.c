/* SPDX-License-Identifier: MIT */
/*
 * `uprr ps` and `uprr dump`: what a trace says about its process tree and its
 * events, read through the same reader as replay.
 */
#define LOG_PREFIX "trace"
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "replay/replay.h"
#include "trace/trace.h"

struct ps_proc {
	pid_t pid, ppid; /* ppid 0: the first process */
	int status;	 /* wait status, -1: no exit in the trace */
	char *cmd;
};

struct ps_thread {
	pid_t tid, tgid;
};

struct ps {
	struct ps_proc *procs;
	size_t nprocs, procs_cap;
	struct ps_thread *threads;
	size_t nthreads, threads_cap;
};

static struct ps_proc *
find_proc(struct ps *ps, pid_t pid)
{
	for (size_t i = ps->nprocs; i-- > 0;)
		if (ps->procs[i].pid == pid)
			return &ps->procs[i];
	return NULL;
}

static struct ps_thread *
find_thread(struct ps *ps, pid_t tid)
{
	for (size_t i = ps->nthreads; i-- > 0;)
		if (ps->threads[i].tid == tid)
			return &ps->threads[i];
	return NULL;
}

static int
add_thread(struct ps *ps, pid_t tid, pid_t tgid)
{
	struct ps_thread *t = find_thread(ps, tid);

	if (t) {
		t->tgid = tgid;
		return 0;
	}
	if (UTIL_GROW(ps->threads, ps->threads_cap, ps->nthreads + 1) < 0)
		return -ENOMEM;
	ps->threads[ps->nthreads++] = (struct ps_thread){ tid, tgid };
	return 0;
}

static struct ps_proc *
add_proc(struct ps *ps, pid_t pid, pid_t ppid, const char *cmd)
{
	struct ps_proc *p;

	if (UTIL_GROW(ps->procs, ps->procs_cap, ps->nprocs + 1) < 0 || add_thread(ps, pid, pid) < 0)
		return NULL;
	p = &ps->procs[ps->nprocs];
	*p = (struct ps_proc){ .pid = pid, .ppid = ppid, .status = -1, .cmd = strdup(cmd ? cmd : "") };
	if (!p->cmd)
		return NULL;
	ps->nprocs++;
	return p;
}

/* The string at tracee address @addr inside @blob, or NULL. */
static const char *
blob_string(const struct trace_blob *blob, uint64_t addr)
{
	const char *data = blob->data;
	uint64_t off = addr - blob->addr;

	if (addr < blob->addr || off >= blob->len || !memchr(data + off, '\0', blob->len - off))
		return NULL;
	return data + off;
}

char *
replay_exec_command(const struct trace_event *ev)
{
	const struct trace_blob *stack = ev->nblobs ? &ev->blobs[0] : NULL;
	uint64_t argc, ptr;
	char *cmd = NULL;
	size_t len = 0, cap = 0;

	if (!stack || stack->len < 8)
		return strdup("?");
	memcpy(&argc, stack->data, 8);
	for (uint64_t i = 0; i < argc && 8 * (i + 2) <= stack->len; i++) {
		const char *arg;
		size_t n;

		memcpy(&ptr, (const uint8_t *)stack->data + 8 * (i + 1), 8);
		arg = blob_string(stack, ptr);
		if (!arg)
			break;
		n = strlen(arg);
		if (UTIL_GROW(cmd, cap, len + n + 2) < 0) {
			free(cmd);
			return NULL;
		}
		if (len)
			cmd[len++] = ' ';
		memcpy(cmd + len, arg, n);
		len += n;
		cmd[len] = '\0';
	}
	return cmd ? cmd : strdup("?");
}

static int
on_event(struct ps *ps, const struct trace_event *ev)
{
	struct ps_thread *t;
	struct ps_proc *p;
	char *cmd;

	switch (ev->type) {
	case TRACE_EV_EXEC: {
		pid_t pid = ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid;

		cmd = replay_exec_command(ev);
		if (!cmd)
			return -ENOMEM;
		p = find_proc(ps, pid);
		if (!p) {
			p = add_proc(ps, pid, 0, cmd);
			free(cmd);
			return p ? 0 : -ENOMEM;
		}
		free(p->cmd);
		p->cmd = cmd;
		t = find_thread(ps, (pid_t)ev->tid);
		if (t)
			t->tid = pid; /* the exec'ing thread takes over the leader's id */
		return 0;
	}
	case TRACE_EV_THREAD_START: {
		uint64_t flags = ev->nvalues >= 2 ? ev->values[1] : CLONE_THREAD;
		struct ps_thread *creator = find_thread(ps, (pid_t)ev->values[0]);
		pid_t tgid = creator ? creator->tgid : (pid_t)ev->values[0];
		struct ps_proc *parent = find_proc(ps, tgid);

		if (flags & CLONE_THREAD)
			return add_thread(ps, (pid_t)ev->tid, tgid);
		if (parent && (flags & CLONE_PARENT))
			tgid = parent->ppid;
		p = add_proc(ps, (pid_t)ev->tid, tgid, parent ? parent->cmd : "?");
		return p ? 0 : -ENOMEM;
	}
	case TRACE_EV_PROCESS_EXIT:
		p = find_proc(ps, (pid_t)ev->tid);
		if (p)
			p->status = (int)ev->values[0];
		return 0;
	default:
		return 0;
	}
}

/*
 * Print @s on one line, unambiguously: a backslash as "\\", newline, tab and
 * carriage return as "\n", "\t", "\r", other control characters and DEL as
 * "\xHH" (ps(1) shows '?', which loses them). Other bytes, UTF-8 included,
 * go as they are.
 */
static void
put_escaped(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", stdout);
		else if (*c == '\n')
			fputs("\\n", stdout);
		else if (*c == '\t')
			fputs("\\t", stdout);
		else if (*c == '\r')
			fputs("\\r", stdout);
		else if (*c < 0x20 || *c == 0x7f)
			printf("\\x%02x", *c);
		else
			putchar(*c);
	}
}

int
replay_ps(const char *trace_dir)
{
	struct ps ps = { 0 };
	struct trace_reader *r;
	struct trace_event ev;
	char err[512];
	int rc;

	rc = trace_reader_open(trace_dir, &r, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	while ((rc = trace_reader_next(r, &ev)) > 0 && (rc = on_event(&ps, &ev)) >= 0)
		;
	if (rc == 0 && !trace_reader_complete(r) && trace_reader_header(r)->format_version >= 6)
		log_warn("'%s' is incomplete: recorder did not finish (killed, or it could not "
			 "write the trace): later processes may be missing", trace_dir);
	else if (rc == -ENODATA)
		log_warn("'%s' is incomplete: recorder did not finish (%s): later processes "
			 "may be missing", trace_dir, trace_reader_error(r));
	else if (rc < 0 && rc != -ENOMEM)
		log_warn("%s: the trace ends early (%s): later processes are missing", trace_dir,
			 trace_reader_error(r));
	printf("PID\tPPID\tEXIT\tCMD\n");
	for (size_t i = 0; i < ps.nprocs; i++) {
		const struct ps_proc *p = &ps.procs[i];
		char ppid[16], status[16];

		snprintf(ppid, sizeof(ppid), p->ppid ? "%d" : "--", p->ppid);
		if (p->status < 0)
			snprintf(status, sizeof(status), "none");
		else if (WIFSIGNALED(p->status))
			snprintf(status, sizeof(status), "-%d", WTERMSIG(p->status));
		else
			snprintf(status, sizeof(status), "%d", WEXITSTATUS(p->status));
		printf("%d\t%s\t%s\t", p->pid, ppid, status);
		put_escaped(p->cmd);
		putchar('\n');
		free(p->cmd);
	}
	free(ps.procs);
	free(ps.threads);
	trace_reader_close(r);
	return rc == -ENOMEM ? log_error_errno(rc, "out of memory") : 0;
}

static const char *const event_names[] = {
	[TRACE_EV_EXEC] = "exec",
	[TRACE_EV_SYSCALL_ENTRY] = "syscall-entry",
	[TRACE_EV_SYSCALL_EXIT] = "syscall-exit",
	[TRACE_EV_SIGNAL] = "signal",
	[TRACE_EV_RDTSC] = "rdtsc",
	[TRACE_EV_THREAD_START] = "thread-start",
	[TRACE_EV_THREAD_EXIT] = "thread-exit",
	[TRACE_EV_PROCESS_EXIT] = "process-exit",
	[TRACE_EV_PATCH] = "patch",
	[TRACE_EV_PREEMPT] = "preempt",
	[TRACE_EV_OUTPUT] = "output",
	[TRACE_EV_END] = "end",
	[TRACE_EV_PTRACE_STOP] = "ptrace-stop",
	[TRACE_EV_SYSCALLBUF] = "syscallbuf",
	[TRACE_EV_SITE_PATCH] = "site-patch",
	[TRACE_EV_STOP_FILTER] = "stop-filter",
	[TRACE_EV_EPOCH] = "epoch",
};

/*
 * A syscall buffer's batch: each record's syscall number and result, as
 * " {nr=ret ...}" after the event's fields (how a server's requests split
 * between buffered and traced calls). A record that does not fit its blob
 * ends the list: the reader checked the frame, not the records' sizes.
 */
static void
put_records(const struct trace_blob *b)
{
	uint32_t off = 0;

	fputs(" {", stdout);
	while (off + sizeof(struct uprr_rec) <= b->len) {
		struct uprr_rec rec;

		memcpy(&rec, (const char *)b->data + off, sizeof(rec));
		if (rec.size < sizeof(rec) || rec.size > b->len - off)
			break;
		printf("%s%#x=%#" PRIx64, off ? " " : "", rec.nr, (uint64_t)rec.ret);
		off += rec.size;
	}
	putchar('}');
}

int
replay_dump(const char *trace_dir)
{
	struct trace_reader *r;
	struct trace_event ev;
	char err[512];
	uint64_t n = 0;
	int rc;

	rc = trace_reader_open(trace_dir, &r, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	while ((rc = trace_reader_next(r, &ev)) > 0) {
		const char *name = ev.type < ARRAY_SIZE(event_names) ? event_names[ev.type] : NULL;

		printf("%" PRIu64 "\t%u\t%s", n++, ev.tid, name ? name : "?");
		for (uint32_t i = 0; i < ev.nvalues; i++)
			printf(" %#" PRIx64, ev.values[i]);
		if (ev.has_regs)
			printf(" rip=%#" PRIx64, ev.regs[offsetof(struct user_regs_struct, rip) / 8]);
		for (uint32_t i = 0; i < ev.nblobs; i++)
			printf(" [%#" PRIx64 "+%u]", ev.blobs[i].addr, ev.blobs[i].len);
		if (ev.type == TRACE_EV_SYSCALLBUF && ev.nblobs > 0)
			put_records(&ev.blobs[0]);
		putchar('\n');
	}
	/* every event a killed recorder left is shown, and said to be all */
	if (rc == -ENODATA || (rc == 0 && !trace_reader_complete(r) &&
			       trace_reader_header(r)->format_version >= 6)) {
		log_warn("'%s' is incomplete: recorder did not finish (killed, or it could not "
			 "write the trace%s%s): no end after event %" PRIu64, trace_dir,
			 rc < 0 ? "; " : "", rc < 0 ? trace_reader_error(r) : "", n);
		rc = 0;
	} else if (rc < 0) {
		log_error("%s", trace_reader_error(r));
	}
	trace_reader_close(r);
	return rc;
}
