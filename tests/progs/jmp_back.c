/* SPDX-License-Identifier: MIT */
/*
 * Two threads compute at once, so that a recorder must preempt them in user
 * code, in functions whose only backward jmp has no room for a counting stub
 * (it follows a call, and nothing comes after it):
 *  1. step_asm(): a counted inner loop, then `call note_call; jmp epilogue`,
 *     the shape of sort's comparison function (`call xmemcoll0; jmp .Lret`):
 *     the jmp goes back in the address space but closes no loop. It is
 *     called CALLS times by each thread.
 *  2. loop_asm(): TURNS turns of a loop whose head is `sub; js` and whose
 *     way back is `call note_call; jmp head`: a real loop closed by a jmp.
 * Counting either jmp with an int3 (a trap site) costs the recorder a ptrace
 * stop per call or per turn; e2e's jmp-back checks that `uprr record -v`
 * counts few ticks at trap sites. Each thread checks its results against
 * the same computation in C and counts note_call()'s calls.
 */
#include <pthread.h>
#include <stdint.h>

#include "progs.h"

#define CALLS 40000
#define TURNS 40000
#define ROUNDS 300
#define MUL 0x2545f491

/* Called from the asm: counts every call (both threads). */
__attribute__((used, noinline)) void jmp_back_note_call(void);

static uint64_t g_calls;

void
jmp_back_note_call(void)
{
	__atomic_fetch_add(&g_calls, 1, __ATOMIC_RELAXED);
}

/* uint64_t step_asm(uint64_t x, long rounds): ROUNDS of x = x * MUL + c
 * (c = rounds down to 1), then a call and a jmp back to the epilogue.
 * uint64_t loop_asm(uint64_t x, long turns, long rounds): turns times the
 * same rounds and a call, in a loop closed by a jmp after the call. Symbols
 * with sizes: uprr finds their extents in .symtab. */
__asm__(".text\n"
	".type step_asm, @function\n"
	"step_asm:\n\t"
	"push %rbx\n\t"
	"mov %rdi, %rbx\n\t"
	"test %rsi, %rsi\n\t"
	"jne 2f\n"
	"1:\n\t"
	"mov %rbx, %rax\n\t"
	"pop %rbx\n\t"
	"ret\n"
	"2:\n\t"
	"mov %rsi, %rcx\n"
	"3:\n\t"
	"imul $0x2545f491, %rbx, %rbx\n\t"
	"add %rcx, %rbx\n\t"
	"dec %rcx\n\t"
	"jnz 3b\n\t"
	"call jmp_back_note_call\n\t"
	"jmp 1b\n"
	".size step_asm, .-step_asm\n"
	".type loop_asm, @function\n"
	"loop_asm:\n\t"
	"push %rbx\n\t"
	"push %r12\n\t"
	"push %r13\n\t"
	"mov %rdi, %r12\n\t"
	"mov %rsi, %rbx\n\t"
	"mov %rdx, %r13\n"
	"4:\n\t"
	"sub $1, %rbx\n\t"
	"js 6f\n\t"
	"mov %r13, %rcx\n"
	"5:\n\t"
	"imul $0x2545f491, %r12, %r12\n\t"
	"add %rcx, %r12\n\t"
	"dec %rcx\n\t"
	"jnz 5b\n\t"
	"call jmp_back_note_call\n\t"
	"jmp 4b\n"
	"6:\n\t"
	"mov %r12, %rax\n\t"
	"pop %r13\n\t"
	"pop %r12\n\t"
	"pop %rbx\n\t"
	"ret\n"
	".size loop_asm, .-loop_asm\n");

uint64_t step_asm(uint64_t x, long rounds);
uint64_t loop_asm(uint64_t x, long turns, long rounds);

static uint64_t
rounds_c(uint64_t x, long rounds)
{
	for (long c = rounds; c > 0; c--)
		x = x * MUL + (uint64_t)c;
	return x;
}

struct job {
	uint64_t seed, step, loop;
	int bad;
};

static void *
run(void *arg)
{
	struct job *j = arg;
	uint64_t x = j->seed, want = j->seed;

	/* the asm first: a thread must run out of time in it, not in C */
	for (long i = 0; i < CALLS; i++)
		x = step_asm(x, ROUNDS);
	j->step = x;
	j->loop = loop_asm(x, TURNS, ROUNDS);
	for (long i = 0; i < CALLS; i++)
		want = rounds_c(want, ROUNDS);
	j->bad |= j->step != want;
	for (long i = 0; i < TURNS; i++)
		want = rounds_c(want, ROUNDS);
	j->bad |= (j->loop != want) << 1;
	return NULL;
}

int
main(void)
{
	uint64_t seed = random_seed();
	struct job jobs[2] = { { .seed = seed }, { .seed = seed ^ 0x5bd1e995 } };
	pthread_t t;

	say("jmp_back: two threads in functions whose backward jmp follows a call\n");
	if (pthread_create(&t, NULL, run, &jobs[1]))
		die("jmp_back: pthread_create failed");
	run(&jobs[0]);
	pthread_join(t, NULL);
	for (int k = 0; k < 2; k++)
		say("thread %d: seed %016llx, after the calls %016llx (%s), after the loop %016llx "
		    "(%s)\n",
		    k, (unsigned long long)jobs[k].seed, (unsigned long long)jobs[k].step,
		    jobs[k].bad & 1 ? "WRONG" : "right", (unsigned long long)jobs[k].loop,
		    jobs[k].bad & 2 ? "WRONG" : "right");
	say("calls counted: %llu of %d\n", (unsigned long long)g_calls, 2 * (CALLS + TURNS));
	if (jobs[0].bad || jobs[1].bad || g_calls != 2 * (CALLS + TURNS)) {
		say("jmp_back: WRONG\n");
		return 1;
	}
	say("jmp_back: ok\n");
	return 0;
}
