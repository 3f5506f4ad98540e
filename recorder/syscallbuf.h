/* SPDX-License-Identifier: MIT */
/*
 * The in-process syscall buffer, the recorder's side (syscallbuf.c,
 * syscallbuf-patch.c, syscallbuf-ref.c; doc/syscall-buffer.md): the
 * preload library kept in the trace, its records turned into events, its
 * call sites patched.
 * Private to recorder/: included by record-private.h after the recorder's
 * state, which it uses.
 */
#pragma once

/** Keep the preload image in the trace (once); its file id + 1 in *ret_ref.
 * 0 or -errno. */
int rec_syscallbuf_keep(struct recorder *rec, uint64_t *ret_ref) _wur_;
/** Turn the records in @t's buffer, if any, into a TRACE_EV_SYSCALLBUF
 * event and empty the buffer: right before an event of @t, which stands
 * stopped. 0 or -errno (-EBADMSG: the program wrote over its buffer);
 * a trace that cannot be written stops the recording, as in
 * rec_write_event(). */
int rec_syscallbuf_flush(struct recorder *rec, struct rthread *t) _wur_;
/** The address of @t's buffer (found by its FS base), 0 if it has none. */
uint64_t rec_syscallbuf_addr(struct recorder *rec, struct rthread *t);
/** The records in @t's buffer now, not taken out (a TP run's epoch end in a
 * thread inside the library, which a flush would race: record-epoch.c), or
 * -errno. */
int rec_syscallbuf_count_held(struct recorder *rec, struct rthread *t) _wur_;
/** @t runs user code and should reach an event soon (a signal waits for
 * one, or its timeslice is over): its next buffered call takes the traced
 * path instead. Cleared by the flush at that event. */
void rec_syscallbuf_interrupt(struct recorder *rec, struct rthread *t);
/** Whether @t's next run may make buffered futex wakes (@ok, its buffer's
 * `wakes`): not in a run without a restore point, which stays so only as
 * long as no other thread can become runnable but through an event of
 * this one (rec_others_may_run()). Written before the restore point is
 * taken, so a rollback keeps it. */
void rec_syscallbuf_wakes(struct recorder *rec, struct rthread *t, bool ok);
/** Whether @t's next run may make buffered mmap, munmap and madvise calls
 * (@ok, its buffer's `maps`): only a run without a restore point, which
 * nothing rolls back (the mirror would not know of a mapping changed
 * between two events). Written before the restore point is taken. */
void rec_syscallbuf_maps(struct recorder *rec, struct rthread *t, bool ok);
/** The mapping changes among the @len bytes of records at @recs that @t
 * made (mmap, munmap, madvise), told to the restore points as a traced
 * one's exit tells them (rec_restore_map_change()); at the flush. */
void rec_syscallbuf_maps_seen(struct recorder *rec, struct rthread *t, const uint8_t *recs, uint32_t len);
/** Replace the bytes of each read, readv or pread64 record among the @len
 * bytes at @recs (@t's, at its flush) that read REF_MIN bytes or more from
 * a package-managed file by a struct trace_sb_ref (the file kept by a hard
 * link, trace_writer_keep_file() with TRACE_KEEP_LINK_ONLY), marking it
 * TRACE_SB_REF in @sinks; records move down over the room freed. Returns
 * their new length (syscallbuf-ref.c; doc/syscall-buffer.md). */
uint32_t rec_syscallbuf_ref_reads(struct recorder *rec, const struct rthread *t, uint8_t *recs, uint32_t len,
				  uint32_t *sinks);
/** Forget which buffer @t's thread claimed (found again at the next use):
 * a rollback may have undone the claim, whose slot a later claim may not
 * be. */
void rec_syscallbuf_forget(struct rthread *t);
/** Whether @t's buffer holds records (its run made buffered syscalls). */
bool rec_syscallbuf_pending(struct recorder *rec, struct rthread *t);
/** Whether @rip lies in the library's code: a thread stopped there may be
 * inside a buffered call whose syscall ran and whose record is not yet
 * counted (rolling it back would run the syscall twice). */
bool rec_syscallbuf_in_library(uint64_t rip);

/**
 * Whether thread @tid (stack pointer @rsp) stands inside libuprr-sync.so:
 * a value pointing into its code (a return address) within 8 KiB above
 * @rsp (recorder/record-ep-leave-out.c). True too when its maps cannot be
 * read. The interposer's frames take other paths in a TP run (mode tp)
 * and an EP run (FOLLOW): an epoch's end there cannot be compared.
 */
bool rec_interposer_frames(pid_t tid, uint64_t rsp);

/**
 * Whether @rip, of thread @t, is in libuprr-sync.so's code, in a run that
 * follows a synchronization order (an EP run, a re-run's after it went
 * live): its paths there differ by design between the recording and the
 * replay (FOLLOW waits for a record the replay has: wait_for_record(),
 * preload/sync-log.c), so no counting code goes there and no execution
 * point is taken there, as in the syscall buffer's library. The code's
 * place is read from /proc/PID/maps once per address space and again
 * after an mmap, munmap or mremap. False in other runs.
 */
bool rec_in_interposer(struct recorder *rec, struct rthread *t, uint64_t rip);

/** Whether @t (its regs current) is outside the library's buffered path:
 * its buffer is not locked, or it has none. A traced call the library
 * makes then (a call it does not buffer, or one an epoch's end sends the
 * traced way: UPRR_CTL_EPOCH_END) comes with no record half made; one
 * made while it is locked may come between a record's bytes and its count
 * (preload/syscallbuf.c). False if the buffer cannot be read. */
bool rec_syscallbuf_unlocked(struct recorder *rec, struct rthread *t);
/**
 * A rollback that keeps the records of @t's run (doc/syscall-buffer.md,
 * "Rolling back a run that made buffered calls"), in three steps:
 * rec_syscallbuf_keep_records() before checkpoint_rollback() copies them
 * out; rec_syscallbuf_rolled_back() right after it drops those the buffer
 * held at the run's start (still there); rec_syscallbuf_rerun(), once the
 * counting code is in and the restore point taken again, writes them back
 * in replay mode with UPRR_REC_RESUME after them and sets t->sb_rerun: the
 * re-run consumes them as replay does, and the library makes the notify
 * call after the last. Each returns 0 or -errno; rec_syscallbuf_rerun()
 * returns 1 if the thread re-runs records, 0 if the run made none.
 */
int rec_syscallbuf_keep_records(struct recorder *rec, struct rthread *t) _wur_;
int rec_syscallbuf_rolled_back(struct recorder *rec, struct rthread *t) _wur_;
int rec_syscallbuf_rerun(struct recorder *rec, struct rthread *t) _wur_;
/** At @t's notify call: whether its buffer holds the records kept for
 * its re-run, byte for byte (the library rewrote their heads and the bytes
 * the program passed out). Returns -1 if so, else the index of the first
 * record that differs or is missing (the re-run diverged). */
int rec_syscallbuf_rerun_diff(struct recorder *rec, struct rthread *t);
/** Whether @t's syscall @nr made at @rip (after the instruction) may be
 * sent into the syscall buffer's library at its entry (a site patched or
 * redirected there), where it would be made from the library instead. */
bool rec_syscallbuf_may_redirect(const struct rthread *t, uint64_t nr, uint64_t rip);
/** At @t's seccomp stop: if its syscall is one the buffer takes, from a
 * site not tried yet whose code has a known shape, redirect the site into
 * the library (a TRACE_EV_SITE_PATCH) and let @t run from the rewritten
 * code, the syscall not run; true if so (@t was resumed, or recording
 * stopped). syscallbuf-patch.c. */
bool rec_syscallbuf_try_patch(struct recorder *rec, struct rthread *t);
/** @t is resumed with signal @sig (its delivery; 0: none): the point
 * the kernel's signal frame will hold, where the handler's rt_sigreturn(2)
 * resumes (its rip, and the syscall instruction before it, where the kernel
 * restarts an interrupted call), is noted in @t's address space: no syscall
 * site is rewritten around it (syscallbuf-patch.c), since uprr does not see
 * that sigreturn (it passes the seccomp filter) nor when the handler ends. */
void rec_syscallbuf_note_frame(struct rthread *t, int sig);
/** Free what @s holds. */
void rec_syscallbuf_space_free(struct rec_sb_space *s);
/**
 * The memory that restore points leave out (checkpoint_new_except()), in
 * *@ret: the syscall buffers (not the control page, whose slot claims a
 * rollback undoes). A rollback needs none of a buffer's records: those it
 * held at the run's start are never written again, those of the run are
 * kept and written back (rec_syscallbuf_keep_records()), and the library
 * reads nothing past `used` but the next record's size, which may be
 * anything (a marker there sends a call the traced way, as in replay). Its
 * head is put back by rec_syscallbuf_save_head() and
 * rec_syscallbuf_rolled_heads(). Untracked, a run's records cost no copy
 * at each restore point and no write fault in the tracee, and the buffers
 * stay one mapping (a userfaultfd range per buffer split them into 128,
 * whose walk at each sync cost more than the pages it saved).
 */
void rec_syscallbuf_untracked(struct checkpoint_range *ret);
/** @t's restore point was just taken: keep its buffer's head (its
 * t->sb_head), which the restore point does not hold. */
void rec_syscallbuf_save_head(struct recorder *rec, struct rthread *t);
/**
 * Around a rollback of @t's run: rec_syscallbuf_claims() before
 * checkpoint_rollback() reads which slots are claimed; after it,
 * rec_syscallbuf_rolled_heads() puts @t's buffer's head back as
 * rec_syscallbuf_save_head() kept it, and clears the head of each buffer
 * whose claim the rollback undid (the run claimed it: a slot never claimed
 * has a zero head, uprr_ctl.keys are never freed). Each returns 0 or -errno.
 */
int rec_syscallbuf_claims(struct recorder *rec, struct rthread *t) _wur_;
int rec_syscallbuf_rolled_heads(struct recorder *rec, struct rthread *t) _wur_;
/* At @t's seccomp stop, for a call the buffer takes from syscall site @s
 * (outside the library) that stays unpatched: send @t into the library's
 * redirect entry (UPRR_PRELOAD_ENTRY_REDIRECT) to make it there, the
 * syscall not run, recorded as a TRACE_EV_SITE_PATCH without bytes that
 * replay applies at the same stop; true if so (@t was resumed, or
 * recording stopped). The site's later calls go there with no event
 * (rec_syscallbuf_redirect_silent()). Not where the library would trace
 * the call anyway (no thread key). syscallbuf-redirect.c. */
bool rec_syscallbuf_redirect(struct recorder *rec, struct rthread *t, struct rec_sb_site *s);
/* uprr record -v: the calls of sites not patched, and of those redirected. */
void rec_syscallbuf_log_sites(const struct rec_sb *sb);
/* At each seccomp stop of @t: a call from a site of its address space's
 * redirects (rec_syscallbuf_redirected()) is sent into the library, no
 * event; true if so (@t was resumed, or it vanished). */
bool rec_syscallbuf_redirect_silent(struct recorder *rec, struct rthread *t);
/* At each seccomp stop of @t: whether its last call was redirected
 * (t->sb_redirected) and this is a traced call from the library (the
 * redirected one, most often): counted for uprr record -v. */
void rec_syscallbuf_redirect_seen(struct recorder *rec, struct rthread *t);
/** Whether process @pid runs under a seccomp filter of its own (its
 * Seccomp_filters in /proc/PID/status, proc(5), counts more than uprr's;
 * true if the kernel does not say): the buffer is not mapped then. */
bool rec_syscallbuf_own_filters(pid_t pid);
/** Whether the mmap(2) @args of fd @l (a file kept in the trace;
 * @follows: a MAP_PRIVATE one that follows the file's versions) maps a
 * file whose writes the trace follows and a buffered write would skip:
 * through an fd open for writing (the link's owner bits in /proc/TID/fd,
 * proc(5)), or MAP_SHARED (or private, following the file) of a file that
 * is not a root-owned system file under /usr, /lib, /bin... */
bool rec_syscallbuf_mapping_follows_writes(struct rec_fd_look *l, const uint64_t args[6],
					   bool follows);
/** The processes a recorded tracer traces take the ptrace path for every
 * call (their tracer sees each syscall stop): turn their buffers off. At a
 * ptrace(2) exit and a clone event, in record and replay alike. */
void rec_syscallbuf_untraced(struct recorder *rec);
/** Free the recorder's syscall-buffer scratch. */
void rec_syscallbuf_free(struct recorder *rec);
