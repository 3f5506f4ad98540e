/* SPDX-License-Identifier: MIT */
/*
 * The record of one TP epoch (kernel-merge.h, struct kmerge_epoch), shared
 * by undo.c (descriptors, files, refusals) and redeliver.c (input consumed).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "kernel-merge/kernel-merge.h"

/* Bytes of a regular file overwritten in the epoch, as they were before. */
struct kmerge_preimage {
	uint64_t off;
	size_t len;
	uint8_t *bytes; /* malloc'd */
};

/* A regular file the epoch wrote. */
struct kmerge_file {
	dev_t dev;
	ino_t ino;
	int fd;		/* ours, O_RDONLY, from /proc/TID/fd/N (the undo reopens it to write) */
	int64_t size0;	/* its size when the epoch first wrote it */
	struct kmerge_preimage *pre;
	size_t npre, pre_cap;
};

/* A run of bytes (a stream) or one message (a datagram) consumed. */
struct kmerge_chunk {
	uint8_t *data; /* malloc'd */
	size_t len;
};

/* What the epoch consumed from one pipe, FIFO or socket, in order. */
struct kmerge_input {
	dev_t dev;
	ino_t ino;
	bool dgram;		/* messages stay whole (SOCK_DGRAM, SOCK_SEQPACKET) */
	struct kmerge_chunk *v;
	size_t n, cap;
	size_t head;		/* the next chunk to give back */
	size_t head_off;	/* bytes of it given back (a stream) */
};

/* The bytes waiting in a pipe or stream socket at the checkpoint
 * (queues.c). */
struct kmerge_queue {
	dev_t dev;
	ino_t ino;
	bool sock;
	uint8_t *data;	/* malloc'd */
	size_t len;
	int error;	/* they could not be read (errno), none kept */
};

struct kmerge_epoch {
	uint64_t k;
	struct kmerge_fd_saved *fds;
	size_t nfds, fds_cap;
	struct kmerge_file *files;
	size_t nfiles, files_cap;
	struct kmerge_input *inputs;
	size_t ninputs, inputs_cap;
	uint64_t pre_bytes;	/* pre-image bytes held (KMERGE_PRE_MAX at most) */
	struct kmerge_queue *queues;
	size_t nqueues, queues_cap;
	bool refused;
	char refusal[512];
};

/** Refusals known at a call's exit, from its @result: a name made or
 * removed, a file cut, a shared writable file mapping, bytes moved into a
 * file, a connection accepted (undo.c). */
void kmerge_note_exit(struct kmerge_epoch *e, pid_t tid, long nr, const uint64_t args[6], int64_t result);

/** Whether descriptor @name of the /proc/PID/fd directory @dirfd (its
 * st_mode @mode) is an anonymous inode whose description uprr keeps from a
 * checkpoint on, so that a re-run from it has it though the program closed
 * it since (memcached's epoll and eventfd, closed on its way out after
 * SIGTERM): an epoll instance, an eventfd, a timerfd or a signalfd (@s's
 * flag of its kind set), none of which a second holder changes for the
 * program (a closed file leaves an epoll instance whoever holds it:
 * epoll(7)). Not a userfaultfd, whose ranges would stay registered, nor a
 * pidfd or an io_uring (anon.c). */
bool kmerge_anon_kept(int dirfd, const char *name, mode_t mode, struct kmerge_fd_saved *s);

/** @s's state at the checkpoint, by the kind kmerge_anon_kept() found,
 * read from process @pid's fdinfo (proc(5)): an epoll instance's interest
 * list, an eventfd's counter, a timerfd's setting, a signalfd's mask; the
 * kind's flag cleared when it cannot be read (anon.c). */
void kmerge_anon_read(pid_t pid, struct kmerge_fd_saved *s);

/** Free the queues of consumed input (redeliver.c). */
void kmerge_inputs_free(struct kmerge_epoch *e);
