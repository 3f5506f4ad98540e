/* SPDX-License-Identifier: MIT */
/*
 * The trace: a directory holding a versioned header and streams of frames.
 *
 * A frame is self-delimiting: a fixed little-endian header (magic, stream
 * kind, sequence number, sizes, XXH3-64 checksum) followed by one zstd frame.
 * Each frame decodes on its own, so a trace cut short (recorder killed, disk
 * full) is valid up to its last whole frame, and frames can travel over a
 * socket unchanged. See doc/trace-format.md.
 *
 * Layout of a trace directory (mode 0700, files 0600):
 *   header          one frame: struct trace_header
 *   events          frames of event records (struct trace_event)
 *   catalogue       frames of the files stream: one entry per kept file
 *   files/ID-NAME   content copies of mapped executables and libraries
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/** The subdirectory of a trace that holds the kept copies. */
#define TRACE_FILES_DIR "files"

/** Format version written by this uprr; readers accept 1..TRACE_FORMAT_VERSION. */
#define TRACE_FORMAT_VERSION 13

/** Most values an event carries. */
#define TRACE_MAX_VALUES 12
/** Registers per event: the order of struct user_regs_struct (x86-64, 27 words). */
#define TRACE_NREGS 27

/** Kinds of event record. The meaning of values[] is fixed per type. */
enum trace_event_type {
	/** initial image after execve: regs; blobs[0] = stack bytes from rsp to the
	 * stack's end; blobs[1] = the address-space layout (text); values[0] =
	 * file id of the executable, values[1] = file id + 1 of the ELF
	 * interpreter, 0 if none; values[2] (format 3) = the thread's id after
	 * the exec (the leader's: ev.tid is the exec'ing thread's former id);
	 * values[3] (format 5) = file id + 1 of the patched vDSO image, 0 if
	 * none (the vDSO hidden, or absent); values[4] and values[5] (if
	 * present) = its signal mask and the signals it ignores, bit N-1 for
	 * signal N (execve(2) keeps both); values[6] (format 8) = file id + 1
	 * of the syscall buffer's preload image mapped at UPRR_PRELOAD_ADDR, 0
	 * or absent: none; values[7] = its control page's flags */
	TRACE_EV_EXEC = 1,
	/** syscall entry: regs; values = nr, arg0..arg5; blobs = bytes the
	 * program passed to the kernel for output (write buffers) */
	TRACE_EV_SYSCALL_ENTRY = 2,
	/** syscall exit: values[0] = nr, values[1] = result, values[2..] per
	 * syscall (mmap: file id + 1 or 0, offset; others: values[2] = where
	 * its bytes went, enum trace_output bits, 0 if nowhere uprr shows;
	 * formats 1-5 had it only for writes to fd 1 or 2: 1 if that fd was
	 * uprr's own); values[3] of a syscall that wrote a file some process
	 * maps MAP_SHARED (format 4): file id + 1 of the file as the syscall
	 * left it; format 5: mmap values[4] = 1 if a MAP_PRIVATE mapping
	 * follows the file's kept versions (it may change while mapped);
	 * format 8: mmap values[5] = 1 where the first file mapped MAP_SHARED
	 * took write(2) out of every process's syscall buffer
	 * (UPRR_CTL_NO_WRITES; values[4] is then 0 or 1); a
	 * write-family syscall to /proc/PID/mem of a recorded process:
	 * values[4] = PID, values[5] = the address written; blobs = memory the
	 * kernel wrote */
	TRACE_EV_SYSCALL_EXIT = 3,
	/** signal delivered: values[0] = signo, values[1] = enum trace_signal_kind;
	 * regs at delivery; blobs[0] = siginfo_t (128 bytes, addr 0) */
	TRACE_EV_SIGNAL = 4,
	/** rdtsc/rdtscp emulated: values = rax, rdx, rcx, instruction length; regs */
	TRACE_EV_RDTSC = 5,
	/** a new thread's or process's first stop, before the exit of the
	 * clone/fork/vfork that created it (format 3): values[0] = tid of the
	 * thread that created it, values[1] = clone flags (fork: SIGCHLD; vfork:
	 * CLONE_VM | CLONE_VFORK | SIGCHLD); no CLONE_THREAD: a new process;
	 * optionally, for a thread in a PID namespace below uprr's: values[2] =
	 * its id as its creator sees it, values[3] = as it sees itself */
	TRACE_EV_THREAD_START = 6,
	/** a thread finished exiting (not the last one); optionally (older
	 * traces have none): values[0] = its wait status,
	 * values[1] = 1 if it was running user code when it died (a seccomp
	 * filter's SECCOMP_RET_KILL_THREAD of its syscall), else 0 */
	TRACE_EV_THREAD_EXIT = 7,
	/** a recorded process (ev.tid: its pid) ended: values[0] = wait status (see wait(2)),
	 * values[1] = CLOCK_REALTIME at the end, in ns */
	TRACE_EV_PROCESS_EXIT = 8,
	/** soft-tick counting code installed while the thread is stopped at its
	 * last event (format 2): values[0] = nsites, values[1], values[2] =
	 * address and length of a new anonymous read+execute mapping to create
	 * for stubs (0, 0: none), values[3] = address of the tick page to map
	 * first (0: already mapped); blobs[0] = the sites, addr 0, nsites pairs
	 * of u64 (trap, clean), where bit 63 of trap marks a trap site (an int3
	 * on a jmp at trap; clean: the jmp's target); blobs[1..] = bytes to
	 * write into tracee memory (stub code, then the edits of the original
	 * code) */
	TRACE_EV_PATCH = 9,
	/** the thread was preempted at an execution point (format 2):
	 * values[0] = ticks since it last resumed; regs there */
	TRACE_EV_PREEMPT = 10,
	/** bytes a syscall sent to uprr's stdout, stderr or a socket that are
	 * not in the program's memory (sendfile, splice, tee, copy_file_range,
	 * vmsplice, sendmmsg), right before that syscall's exit (format 6):
	 * values[0] = enum trace_output bits, values[1] = bytes the syscall
	 * moved that the recorder could not capture (0: all are here);
	 * blobs[0] = the bytes, addr 0. A large transfer takes several. */
	TRACE_EV_OUTPUT = 11,
	/** the recording ended (format 6), the last event: values[0] = enum
	 * trace_end; blobs[0] (TRACE_END_STOPPED) = the reason, text, addr 0.
	 * A trace without it was cut short (uprr record killed, disk full). */
	TRACE_EV_END = 12,
	/** an emulated ptrace-stop (recorder/ptrace-emu.c) of thread ev.tid
	 * that replay cannot find by itself (format 7): its tracer interrupted
	 * it, it group-stopped or left a group-stop, it exited: values[0] =
	 * enum rec_ptrace_stop, values[1] = its signal, values[2] =
	 * PTRACE_EVENT_*, values[3] = the event message (an exited one: its
	 * wait status) */
	TRACE_EV_PTRACE_STOP = 13,
	/** syscalls the thread made through the in-process syscall buffer since
	 * its last event, right before its next one (format 8;
	 * doc/syscall-buffer.md): values[0] = the number of records,
	 * values[1] = the address of its buffer (struct uprr_buf); blobs[0] =
	 * the records (struct uprr_rec, back to back), at their address in the
	 * buffer; blobs[1], if present = where each record's bytes went (u32
	 * enum trace_output bits per record, addr 0), with TRACE_SB_HASHED
	 * (format 12) on a write whose bytes the record holds as a hash */
	TRACE_EV_SYSCALLBUF = 14,
	/** a syscall site redirected into the syscall buffer's library, at the
	 * seccomp stop of the syscall values[0] (format 8): regs there; the
	 * syscall does not run. values[1], values[2] = address and length of a
	 * new anonymous read + execute mapping for stubs (0, 0: none);
	 * values[3] = where the thread restarts (the rewritten code, rax =
	 * values[0]); blobs = bytes to write: the stub, then the site's code */
	TRACE_EV_SITE_PATCH = 15,
	/** uprr's stop filter (rec_seccomp_stop_filter()) was stacked on
	 * thread ev.tid, held in an emulated ptrace-stop, as its recorded
	 * tracer asked for syscall stops (format 9; before, uprr's base filter
	 * stopped those syscalls in every process): values[0] = enum
	 * rec_stop_filter_how, values[1] = seccomp(2)'s result there */
	TRACE_EV_STOP_FILTER = 16,
	/** TP logs only: an epoch's end in thread ev.tid (doc/uniparallel.md,
	 * recorder/record-epoch.c), written when every thread of every
	 * recorded process stands still for checkpoint values[0] (1, 2, ...;
	 * epoch k runs from checkpoint k to k + 1, epoch 0 from the start):
	 * values[1] = the syscalls of this thread logged before it (its
	 * TRACE_EV_SYSCALL_EXIT events and the records of its
	 * TRACE_EV_SYSCALLBUF events; for a thread in a buffered syscall,
	 * inside the syscall buffer's library, also the records its buffer
	 * holds, which its next TRACE_EV_SYSCALLBUF logs), values[2] = enum
	 * trace_epoch_at, values[3] = pid of the copy that is checkpoint
	 * values[0] of its process, 0: none taken; values[4] what follows it,
	 * values[5..8] where it waits in a condition wait or a lock of the
	 * synchronization-order interposer (doc/trace-format.md); regs = where
	 * it stands, for TRACE_EPOCH_USER only. In a tp trace (TRACE_MODE_TP), written by
	 * the EP run once it checked epoch k, its frame flushed: values[0] =
	 * k + 1, values[1] = enum trace_epoch_check; replay runs nothing for
	 * it, and an incomplete tp trace replays to its last verified one */
	TRACE_EV_EPOCH = 17,
};

/** Where a thread stands at an epoch's end (values[2] of TRACE_EV_EPOCH). */
enum trace_epoch_at {
	/** in user code, interrupted where it stood: regs say where (only
	 * with --epoch-anywhere: a thread that reached no syscall in time) */
	TRACE_EPOCH_USER = 1,
	/** at a traced syscall, its next: in it, interrupted, it is restarted
	 * as the kernel restarts it (its TRACE_EV_SYSCALL_EXIT that follows
	 * has result -ERESTART*, and its entry comes again), or it had just
	 * ended (its exit follows with the real result); or held at its
	 * entry, not entered (its TRACE_EV_SYSCALL_ENTRY follows) */
	TRACE_EPOCH_SYSCALL = 2,
};

/** What the EP run found when it checked an epoch (values[1] of
 * TRACE_EV_EPOCH in a tp trace). */
enum trace_epoch_check {
	/** it diverged from the TP run */
	TRACE_EPOCH_DIVERGED = 0,
	/** it matched the TP run: the trace up to here is final */
	TRACE_EPOCH_VERIFIED = 1,
	/** it was not checked */
	TRACE_EPOCH_UNCHECKED = 2,
};

/** Where a syscall's bytes went (bits of a syscall exit's values[2] and of
 * TRACE_EV_OUTPUT's values[0]). Replay shows them again there. */
enum trace_output {
	/** formats 1-5 only: the write's fd (1 or 2) was uprr's own */
	TRACE_OUT_SAME_FD = 1 << 0,
	/** uprr's stdout (the same open file, or the same file or pipe) */
	TRACE_OUT_STDOUT = 1 << 1,
	/** uprr's stderr */
	TRACE_OUT_STDERR = 1 << 2,
	/** a socket: `uprr replay --dump-sent` collects them */
	TRACE_OUT_SOCKET = 1 << 3,
};

/**
 * Bit of a record's u32 in TRACE_EV_SYSCALLBUF's blobs[1] (format 12): a
 * buffered write, writev or pwrite64 whose bytes went nowhere replay shows
 * or dumps (no enum trace_output bit) keeps, instead of its data, a struct
 * trace_sb_hashed then its struct uprr_write_probe: replay never writes a
 * file, it only checks that the program passed the same bytes, which the
 * hash still covers, every one (doc/trace-format.md).
 */
#define TRACE_SB_HASHED (1u << 31)

/** Bytes of a trace_hash128() digest. */
#define TRACE_HASH_SIZE 16

/** What a TRACE_SB_HASHED record holds in place of its data (the bytes
 * between struct uprr_rec and the write probe): their length (a multiple
 * of 8), their XXH3-128 digest and their last 8 bytes (the padding after
 * the bytes passed is what the buffer held before; the library in replay
 * copies only the bytes passed over it). */
struct trace_sb_hashed {
	uint32_t len;			/**< bytes replaced, >= 8 */
	uint32_t zero;			/**< 0 */
	uint8_t hash[TRACE_HASH_SIZE];	/**< trace_hash128() of them */
	uint8_t last[8];		/**< the last 8 of them */
};

/**
 * Bit of a record's u32 in TRACE_EV_SYSCALLBUF's blobs[1] (format 13): a
 * buffered read, readv or pread64 of a package-managed file (kept in the
 * trace by a hard link: trace_writer_keep_file(), TRACE_KEEP_LINK_ONLY)
 * keeps, instead of the bytes read, a struct trace_sb_ref: replay reads
 * them again from the kept file and checks their hash
 * (doc/trace-format.md).
 */
#define TRACE_SB_REF (1u << 30)

/** What a TRACE_SB_REF record holds in place of its data (the bytes the
 * kernel wrote, ret of them, padded to 8). */
struct trace_sb_ref {
	uint32_t len;			/**< bytes read, the record's ret, >= 8 */
	uint32_t file;			/**< id of the kept file they came from */
	uint64_t offset;		/**< where in that file */
	uint8_t hash[TRACE_HASH_SIZE];	/**< trace_hash128() of the len bytes */
	uint8_t last[8];		/**< the room's last 8 bytes (len's tail and the padding) */
};

/** How a recording ended (values[0] of TRACE_EV_END). */
enum trace_end {
	/** every recorded process ended */
	TRACE_END_COMPLETE = 0,
	/** uprr stopped recording (an unsupported call, a privileged exec, an
	 * error): blobs[0] says why */
	TRACE_END_STOPPED = 1,
};

/** Where an asynchronous signal was delivered (values[1] of TRACE_EV_SIGNAL). */
enum trace_signal_kind {
	/** synchronous (fault, trap): reproduces by itself in replay */
	TRACE_SIGNAL_SYNC = 0,
	/** asynchronous, delivered right after the thread's previous event */
	TRACE_SIGNAL_AT_EVENT = 1,
	/** asynchronous, delivered instead of entering the syscall at regs.rip - 2;
	 * the syscall is re-issued after the handler returns */
	TRACE_SIGNAL_AT_SYSCALL = 2,
	/** asynchronous, delivered at an execution point in user code:
	 * values[2] = ticks since the thread last resumed (format 2) */
	TRACE_SIGNAL_AT_TICKS = 3,
	/** asynchronous, sent while the thread's mask blocked it and pending
	 * since; delivered where the kernel delivered it, at the first point
	 * after the thread's previous event where the mask let it in (an
	 * untraced rt_sigreturn(2)): regs are that point's. Replay raises it
	 * at the previous event, where the mask still blocks it (format 10) */
	TRACE_SIGNAL_AT_UNBLOCK = 4,
	/** asynchronous, delivered where a TP run stopped the thread in user
	 * code (PTRACE_INTERRUPT), having waited for an event of it: regs are
	 * that point's, no ticks count. TP logs only (TRACE_MODE_TP_LOG) */
	TRACE_SIGNAL_AT_REGS = 5,
};

/** A range of tracee memory and its bytes. */
struct trace_blob {
	uint64_t addr;	    /**< tracee address (0 for non-memory data) */
	uint32_t len;	    /**< bytes */
	const void *data;   /**< @len bytes; not owned */
};

/**
 * One event record. Writers fill it and keep ownership of @blobs; records
 * returned by a reader point into the reader's current frame and stay valid
 * until the next trace_reader_next() call.
 */
struct trace_event {
	enum trace_event_type type;
	uint32_t tid;	      /**< recorded thread id */
	uint32_t flags;	      /**< per-type flags, 0 if unused */
	uint32_t nvalues;     /**< used entries of values[] */
	uint64_t values[TRACE_MAX_VALUES];
	bool has_regs;
	uint64_t regs[TRACE_NREGS];
	uint32_t nblobs;
	const struct trace_blob *blobs;
};

/** The header's mode of a trace that replays: the threads ran one at a
 * time, and it holds their schedule. */
#define TRACE_MODE_UP "up"
/** The header's mode of a TP log (`uprr record --mode=tp-log`, tp/tp.h): the
 * same events, in the order the recorder saw them, of threads that ran at
 * once; no schedule, so it does not replay (EP runs read its syscalls). */
#define TRACE_MODE_TP_LOG "tp-log"
/** The header's mode of `uprr record --mode=tp`'s trace: the EP run's, which replays as an up
 * trace does (tp/tp.h) */
#define TRACE_MODE_TP "tp"
/** The file of a TRACE_MODE_TP trace that says what its TP and EP runs cost
 * and whether the EP run diverged (text, one fact a line, for `uprr info`;
 * written when the EP run ends, which the header cannot wait for) */
#define TRACE_TP_INFO_FILE "tp-info"

/** The trace header: who recorded what, where. */
struct trace_header {
	uint32_t format_version;      /**< TRACE_FORMAT_VERSION when written */
	char uprr_version[32];	      /**< UPRR_VERSION of the recorder */
	char **argv;		      /**< command line, NULL-terminated */
	char **envp;		      /**< environment, NULL-terminated */
	char cwd[4096];		      /**< working directory of the tracee */
	char cpu_vendor[16];	      /**< cpuid leaf 0 vendor string */
	uint32_t cpu_features[8];     /**< cpuid 1 ecx,edx; 7.0 ebx,ecx,edx; 0xd.1 eax; 0x80000001 ecx,edx */
	char tick_source[16];	      /**< "none", "soft" or "pmu" */
	char mode[16];		      /**< TRACE_MODE_UP, or TRACE_MODE_TP_LOG */
	uint64_t start_time_ns;	      /**< CLOCK_REALTIME at start */
};

/** Sizes of a written or read trace, for `uprr info` and benchmarks. */
struct trace_stats {
	uint64_t events;	   /**< event records */
	uint64_t frames;	   /**< frames in the events stream */
	uint64_t raw_bytes;	   /**< uncompressed event bytes */
	uint64_t compressed_bytes; /**< event frame bytes on disk, headers included */
	uint64_t file_bytes;	   /**< bytes of kept files */
	uint64_t events_written;   /**< writer: event records in whole frames on disk */
};

struct trace_writer;
struct trace_reader;

/**
 * Create trace directory @dir (mode 0700; it must not exist, its parent must)
 * and write @hdr to it. On success stores a writer in *ret_w.
 * Returns 0 or -errno (-EEXIST, -ENOSPC, ...).
 */
int trace_writer_open(const char *dir, const struct trace_header *hdr,
		      struct trace_writer **ret_w) _wur_;

/**
 * Append @ev to the events stream. Records are buffered and written as a
 * frame when the buffer passes ~1 MiB or on trace_writer_flush().
 * Returns 0 or -errno; after -ENOSPC the trace on disk ends at its last whole
 * frame and every later call returns -ENOSPC. An event that cannot be
 * encoded (type 0 or > 255, nvalues > TRACE_MAX_VALUES, a blob without data)
 * gives -EINVAL, one whose record exceeds a frame (64 MiB) -EMSGSIZE; neither
 * affects later calls.
 */
int trace_writer_add_event(struct trace_writer *w, const struct trace_event *ev) _wur_;

/**
 * Write buffered records as one frame (a no-op when none are buffered).
 * A frame is written with one write(2); if that fails the file is truncated
 * back to the previous frame boundary. Returns 0 or -errno.
 */
int trace_writer_flush(struct trace_writer *w) _wur_;

/** trace_writer_keep_file() flag: the file changed since it was last kept
 * (the caller saw a write), even if its size and mtime (whose clock may be
 * coarse) do not show it; keep it again. */
#define TRACE_KEEP_CHANGED 1u
/** trace_writer_keep_file() flag: keep the file only by a hard link (a
 * package-managed file, as for mapped files), never by a copy: -EXDEV if it
 * cannot be linked or changed since it was kept. */
#define TRACE_KEEP_LINK_ONLY 2u

/**
 * Keep the file open as @fd (original path @path) in the trace by content:
 * a reflink, else a copy, into files/. The same file (device, inode, size,
 * mtime) is kept once, unless @flags has TRACE_KEEP_CHANGED; a file kept
 * again is a new version, whose catalogue entry names the first version
 * (trace_reader_file_first()). Its catalogue entry is written before this
 * returns, so events that refer to it never precede it on disk. @fd must be
 * readable and a regular file (else -EINVAL); its file offset is not used or
 * moved. Ids count from 0 in the order files are kept.
 * Stores the file id in *ret_id. Returns 0 or -errno; a copy the filesystem
 * refuses (-ENOSPC, -EDQUOT, -EFBIG, -EIO) is removed and, as a failed frame,
 * ends the trace: every later call returns that error.
 */
int trace_writer_keep_file(struct trace_writer *w, int fd, const char *path, unsigned flags,
			   uint32_t *ret_id) _wur_;

/**
 * Keep @len bytes of memory at @data, an image uprr made (the patched vDSO,
 * the preload library), as a new file of the trace named after @path
 * ("[vdso]"), with its catalogue entry, as trace_writer_keep_file() keeps a
 * file: written directly, never deduplicated. Stores the file id in
 * *ret_id. Returns 0 or -errno, with the same sticky storage errors.
 */
int trace_writer_keep_data(struct trace_writer *w, const void *data, size_t len, const char *path,
			   uint32_t *ret_id) _wur_;

/** Sizes written so far; events and raw_bytes include records still buffered.
 * Waits for the frame being written, if any (a failed one sets the error
 * the next call returns). */
void trace_writer_stats(struct trace_writer *w, struct trace_stats *ret_stats);

/**
 * Flush and close; frees @w (NULL is accepted). Returns 0 or the first -errno
 * any write failed with.
 */
int trace_writer_close(struct trace_writer *w);

/**
 * Open the trace in @dir and read its header. On failure returns -errno and,
 * if @errbuf is not NULL, a one-line reason in it, e.g.
 * "'x' is format version 7; this uprr reads up to 1 — upgrade uprr",
 * "'x' is not a uprr trace (no header file)".
 * Errors: -ENOENT (no directory, no header file), -ENOTDIR,
 * -EPROTONOSUPPORT (newer format version), -EBADMSG (corrupt header or
 * catalogue), -ENODATA (header cut short), -ENOMEM, I/O errors.
 */
int trace_reader_open(const char *dir, struct trace_reader **ret_r, char *errbuf,
		      size_t errlen) _wur_;

/** The header of an open trace; owned by @r. */
const struct trace_header *trace_reader_header(const struct trace_reader *r);

/**
 * Read the next event into *ret_ev (pointers valid until the next call).
 * Returns 1 for an event, 0 at the clean end of the stream, -EBADMSG for a
 * corrupt frame (bad magic, checksum, sequence or record) and -ENODATA for a
 * stream cut in the middle of a frame; trace_reader_error() then says which.
 */
int trace_reader_next(struct trace_reader *r, struct trace_event *ret_ev) _wur_;

/**
 * Whether the recorder finished the trace, once trace_reader_next() returned
 * 0: its last event is TRACE_EV_END (format 6 on; a trace of format 5 or
 * older has no end event, and a clean end is all it can show). False before
 * the end, after any error, and for a stream that ends without TRACE_EV_END,
 * at a frame boundary or inside a frame: the recorder was killed (SIGKILL
 * leaves the frames it wrote, the last one maybe in part) or could not write
 * the trace (disk full); such a trace is incomplete. Never fails.
 */
bool trace_reader_complete(const struct trace_reader *r);

/**
 * Whether the events stream of @r ends with TRACE_EV_END, found without
 * decoding every frame: the frame headers are read one after the other (32
 * bytes each, each checked as trace_reader_next() checks it) to the last
 * whole frame, and only the last frame that holds a record is decoded (the
 * last one, unless it is empty). Does not move @r's reading. Stores true in
 * *ret_ended if the stream's last record is TRACE_EV_END and no part of a
 * frame follows; false for an empty stream, one cut inside a frame and one
 * whose last event is another. A replay that must
 * know where an incomplete trace stops before it starts asks this first
 * (doc/trace-format.md, "How a trace ends"). Returns 0, -EBADMSG for a
 * corrupt frame header or last frame, -ENOMEM or an I/O error (then
 * *ret_ended is false: trace_reader_next() names the fault).
 */
int trace_reader_has_end(struct trace_reader *r, bool *ret_ended) _wur_;

/** One-line description of the last reader error; owned by @r. */
const char *trace_reader_error(const struct trace_reader *r);

/**
 * Path of the kept copy of file @id (DIR/files/ID-NAME, openable as is) and
 * the original path; both owned by @r. Either output may be NULL.
 * Returns 0, or -ENOENT for an unknown id.
 */
/** The kept file a reader last read bytes by reference from (see
 * trace_reader_fill_ref()); zero-initialised: none. Close with
 * trace_ref_file_close(). */
struct trace_ref_file {
	int fd;		/**< 1 + its fd, 0: none */
	uint32_t id;	/**< its file id */
};

/**
 * Read the @ref->len bytes a TRACE_SB_REF record (format 13) keeps by
 * reference into @dst, from the trace's kept file @ref->file at
 * @ref->offset, and check their hash: the one way replay and EP runs
 * take such bytes. @cache keeps the last file open between calls.
 * Returns 0; -ESTALE, with one line in @why, where the file does not give
 * the bytes the recording read (changed in place since, or cut short);
 * -EBADMSG for an unknown file id.
 */
int trace_reader_fill_ref(struct trace_reader *r, struct trace_ref_file *cache,
			  const struct trace_sb_ref *ref, uint8_t *dst, char *why, size_t why_len) _wur_;

/** Close @cache's file (none accepted). */
void trace_ref_file_close(struct trace_ref_file *cache);

int trace_reader_file(struct trace_reader *r, uint32_t id, const char **ret_copy,
		      const char **ret_original) _wur_;

/**
 * The id of the first kept version of the file that file @id is a version
 * of (same device and inode when recorded: trace_writer_keep_file() keeps a
 * file again when it changed), into *ret_first; @id itself for a first
 * version and in traces of format 3 and older. Returns 0, or -ENOENT for an
 * unknown id.
 */
int trace_reader_file_first(const struct trace_reader *r, uint32_t id, uint32_t *ret_first) _wur_;

/** Sizes read so far (all of them after the stream's end). */
void trace_reader_stats(const struct trace_reader *r, struct trace_stats *ret_stats);

/**
 * Read @r as a trace that still grows (the TP log of `uprr record
 * --mode=tp`, read by its EP run while the TP run writes it, frame by
 * frame: doc/uniparallel.md, "Lock-step"): no frame is read ahead. Call it
 * before the first trace_reader_next().
 */
void trace_reader_set_follow(struct trace_reader *r);

/**
 * After trace_reader_next() returned 0 (the end so far): read on from
 * there, the frames and kept files written since (the writer flushed:
 * whole frames only). Returns 0 or the reader's error.
 */
int trace_reader_follow(struct trace_reader *r) _wur_;

/** Close and free @r (NULL accepted). */
void trace_reader_close(struct trace_reader *r);

/** Free the strings of a header filled by a reader or by the recorder. */
void trace_header_free(struct trace_header *hdr);

/**
 * Pick a new trace directory for program @prog_name: under $UPRR_TRACE_DIR
 * if set, else ~/.local/share/uprr (created 0700), named NAME-N with the
 * first free N. Stores the path in @buf. Returns 0 or -errno.
 */
int trace_dir_new(const char *prog_name, char *buf, size_t len) _wur_;

/** Point the `latest-trace` link beside @dir at @dir. Returns 0 or -errno. */
int trace_dir_set_latest(const char *dir) _wur_;

/** Resolve the latest trace (`latest-trace` in the default base) into @buf. */
int trace_dir_latest(char *buf, size_t len) _wur_;

/**
 * The XXH3-128 digest of @len bytes at @data, in its canonical (big-endian)
 * form, into @ret_hash: what a TRACE_SB_HASHED record keeps of a write's
 * bytes. XXH3 (xxhash 0.8) is not cryptographic: it catches a replayed
 * program that passes other bytes, not a forged trace.
 */
void trace_hash128(const void *data, size_t len, uint8_t ret_hash[TRACE_HASH_SIZE]);

/* Frame level, shared by files and (later) sockets. */

/** Kinds of stream a frame belongs to. */
enum trace_stream {
	TRACE_STREAM_HEADER = 1, /**< the header file */
	TRACE_STREAM_EVENTS = 2, /**< event records */
	TRACE_STREAM_FILES = 3,	 /**< kept-file catalogue */
};

/** Bytes of the fixed frame header. */
#define TRACE_FRAME_HEADER_SIZE 32

/**
 * Compress @raw (@raw_len bytes) into a frame of stream @stream with sequence
 * number @seq. Stores a malloc'd frame in *ret_frame and its size in *ret_len.
 * Returns 0 or -errno.
 */
int trace_frame_encode(enum trace_stream stream, uint32_t seq, const void *raw,
		       size_t raw_len, void **ret_frame, size_t *ret_len) _wur_;

/**
 * Decode the frame at the start of @buf (@len bytes available). On success
 * stores the malloc'd payload in *ret_raw, its size in *ret_raw_len and the
 * bytes the frame occupies in *ret_frame_len. Returns 0; -ENODATA if @buf holds only
 * part of a frame; -EBADMSG if the magic, stream, sequence or checksum is
 * wrong or the payload does not decompress.
 */
int trace_frame_decode(const void *buf, size_t len, enum trace_stream stream,
		       uint32_t seq, void **ret_raw, size_t *ret_raw_len,
		       size_t *ret_frame_len) _wur_;
