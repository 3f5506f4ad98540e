/* SPDX-License-Identifier: MIT */
/* `uprr info`: a summary of a trace, read through the same reader as replay. */
#define LOG_PREFIX "info"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "replay/replay.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

/* @s with control characters (a reason naming a path) made '?', for one line */
static const char *
control_free(char *s)
{
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

/* The TP and EP runs of a tp trace, as tp_record() wrote them (text). */
static void
print_tp_info(const char *trace_dir)
{
	char path[4096], line[512];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/" TRACE_TP_INFO_FILE, trace_dir) >= sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f) {
		printf("tp runs:     not said (%s: %m)\n", TRACE_TP_INFO_FILE);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		printf("%s\n", control_free(line));
	}
	fclose(f);
}

int
replay_info(const char *trace_dir)
{
	struct trace_reader *r;
	const struct trace_header *hdr;
	struct trace_event ev;
	struct trace_stats st;
	char err[512];
	uint64_t events = 0, syscalls = 0, signals = 0, end_ns = 0;
	char stopped[512] = "";
	bool tp;
	/* a tp trace: its last verified epoch (TRACE_EV_EPOCH), and the
	 * events up to it */
	int64_t verified = -1;
	uint64_t verified_events = 0;
	unsigned threads = 1, processes = 1;
	pid_t first = 0;
	int status = -1, rc;

	rc = trace_reader_open(trace_dir, &r, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	hdr = trace_reader_header(r);
	tp = strcmp(hdr->mode, TRACE_MODE_TP) == 0;
	while ((rc = trace_reader_next(r, &ev)) > 0) {
		events++;
		switch (ev.type) {
		case TRACE_EV_EPOCH:
			if (tp && ev.nvalues >= 2 && ev.values[1] == TRACE_EPOCH_VERIFIED) {
				verified = (int64_t)ev.values[0] - 1;
				verified_events = events;
			}
			break;
		case TRACE_EV_EXEC:
			if (!first)
				first = (pid_t)ev.tid;
			break;
		case TRACE_EV_SYSCALL_ENTRY:
			syscalls++;
			break;
		case TRACE_EV_SIGNAL:
			signals++;
			break;
		case TRACE_EV_THREAD_START:
			threads++;
			/* format 3: values[1] = clone flags */
			processes += ev.nvalues >= 2 && !(ev.values[1] & CLONE_THREAD);
			break;
		case TRACE_EV_END:
			/* format 6: the last event; why the recording stopped */
			if (ev.nvalues >= 1 && ev.values[0] == TRACE_END_STOPPED)
				snprintf(stopped, sizeof(stopped), "%.*s",
					 ev.nblobs ? (int)MIN(ev.blobs[0].len, 400) : 9,
					 ev.nblobs ? (const char *)ev.blobs[0].data : "(unknown)");
			break;
		case TRACE_EV_PROCESS_EXIT:
			/* the first process's status is the recording's; the
			 * last end is the trace's */
			if ((pid_t)ev.tid == first)
				status = (int)ev.values[0];
			end_ns = ev.nvalues > 1 ? ev.values[1] : 0;
			break;
		default:
			break;
		}
	}
	trace_reader_stats(r, &st);
	printf("trace:       %s\n", trace_dir);
	printf("command:    ");
	for (char **a = hdr->argv; a && *a; a++)
		printf(" %s", *a);
	printf("\nmode:        %s, ticks %s, format %u, uprr %s\n", hdr->mode, hdr->tick_source,
	       hdr->format_version, hdr->uprr_version);
	if (strcmp(hdr->mode, TRACE_MODE_TP) == 0)
		print_tp_info(trace_dir);
	printf("threads:     %u in %u process%s\n", threads, processes, processes > 1 ? "es" : "");
	printf("events:      %" PRIu64 " (%" PRIu64 " syscalls, %" PRIu64 " signals)\n", events,
	       syscalls, signals);
	if (end_ns > hdr->start_time_ns)
		printf("duration:    %.3f s\n", (double)(end_ns - hdr->start_time_ns) / 1e9);
	if (stopped[0])
		printf("end:         the recording stopped: %s\n", control_free(stopped));
	else if (rc == -ENODATA || (rc == 0 && !trace_reader_complete(r) &&
				    hdr->format_version >= 6)) {
		/* the recorder was killed (a frame written in part: the trace
		 * writer's thread writes while the recorder runs) or could not
		 * write; replay goes as far as the trace is good */
		printf("end:         incomplete: recorder did not finish (killed, or it could not "
		       "write the trace%s%s)\n", rc < 0 ? "; " : "", rc < 0 ? trace_reader_error(r) : "");
		if (tp && verified >= 0)
			printf("replays to:  event %" PRIu64 ", the end of epoch %" PRId64 ", the last "
			       "one verified\n", verified_events, verified);
		else if (tp)
			printf("replays to:  event 0: no epoch was verified\n");
		else if (strcmp(hdr->mode, TRACE_MODE_TP_LOG) != 0) /* a TP log never replays */
			printf("replays to:  event %" PRIu64 ", where its last whole frame ends\n", events);
	} else if (rc < 0)
		printf("end:         none recorded (%s)\n", trace_reader_error(r));
	else if (status < 0)
		printf("end:         none recorded (trace cut short)\n");
	else if (WIFSIGNALED(status))
		printf("end:         killed by %s\n", tracee_signal_name(WTERMSIG(status)));
	else
		printf("end:         exit status %d\n", WEXITSTATUS(status));
	printf("trace bytes: %" PRIu64 " events in %" PRIu64 " frames (%" PRIu64
	       " raw, ratio %.1f), %" PRIu64 " in kept files\n",
	       st.compressed_bytes, st.frames, st.raw_bytes,
	       st.compressed_bytes ? (double)st.raw_bytes / (double)st.compressed_bytes : 0.0,
	       st.file_bytes);
	trace_reader_close(r);
	return 0;
}
