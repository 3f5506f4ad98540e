/* SPDX-License-Identifier: MIT */
/*
 * Producer and consumer threads on a pipe: the consumer blocks in read(2)
 * while the producer writes 10,000 messages with random payloads (seeded by
 * getrandom), pausing now and then so that the consumer really waits in the
 * kernel. Both sides checksum the messages; the consumer also counts its
 * read() calls, which depends on the schedule.
 *
 * Exits 1 if a message is lost, reordered or corrupted.
 */
#include <pthread.h>

#include "progs.h"

#define NMESSAGES 10000
#define MSG_SIZE 64

struct message {
	uint32_t seq;
	unsigned char payload[MSG_SIZE - sizeof(uint32_t)];
};

static int g_pipe[2];
static uint64_t g_seed;

static void *
producer(void *arg)
{
	uint64_t rng = g_seed, sum = FNV1A_INIT;
	struct message m;

	(void)arg;
	for (uint32_t seq = 0; seq < NMESSAGES; seq++) {
		size_t off = 0;

		m.seq = seq;
		for (size_t i = 0; i < sizeof(m.payload); i++)
			m.payload[i] = (unsigned char)rng_next(&rng);
		sum = fnv1a(sum, &m, sizeof(m));
		while (off < sizeof(m)) {
			ssize_t n = write(g_pipe[1], (char *)&m + off, sizeof(m) - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				die("pipe_threads: write: %s", strerror(errno));
			off += n;
		}
		if (seq % 1000 == 999)
			sleep_us(500);
	}
	close(g_pipe[1]);
	return (void *)(uintptr_t)sum;
}

static void *
consumer(void *arg)
{
	static unsigned char buf[4096 + MSG_SIZE];
	uint64_t sum = FNV1A_INIT;
	uint32_t expect = 0;
	size_t have = 0;
	long reads = 0;

	(void)arg;
	for (;;) {
		ssize_t n = read(g_pipe[0], buf + have, 4096);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("pipe_threads: read: %s", strerror(errno));
		if (n == 0)
			break;
		reads++;
		have += n;
		while (have - off >= MSG_SIZE) {
			struct message m;

			memcpy(&m, buf + off, sizeof(m));
			if (m.seq != expect)
				die("pipe_threads: message %u arrived, expected %u", m.seq, expect);
			expect++;
			sum = fnv1a(sum, &m, sizeof(m));
			off += MSG_SIZE;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	say("consumer: %u messages in %ld reads\n", expect, reads);
	if (expect != NMESSAGES || have != 0)
		die("pipe_threads: %u messages and %zu stray bytes", expect, have);
	return (void *)(uintptr_t)sum;
}

int
main(void)
{
	pthread_t prod, cons;
	void *psum, *csum;

	g_seed = random_seed();
	if (pipe(g_pipe) < 0)
		die("pipe_threads: pipe: %s", strerror(errno));
	/* The consumer starts first, so it blocks in read() on an empty pipe. */
	if (pthread_create(&cons, NULL, consumer, NULL))
		die("pipe_threads: pthread_create failed");
	sleep_us(1000);
	if (pthread_create(&prod, NULL, producer, NULL))
		die("pipe_threads: pthread_create failed");
	pthread_join(prod, &psum);
	pthread_join(cons, &csum);
	say("producer checksum %016llx\n", (unsigned long long)(uintptr_t)psum);
	say("consumer checksum %016llx\n", (unsigned long long)(uintptr_t)csum);
	if (psum != csum) {
		say("pipe_threads: CHECKSUM MISMATCH\n");
		return 1;
	}
	say("pipe_threads: ok\n");
	return 0;
}
