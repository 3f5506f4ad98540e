# SPDX-License-Identifier: MIT
"""End-to-end cases of the recorder going on in a respawn of its program
(recorder/record-respawn.c, doc/uniparallel.md "Order of work" 9): at the
Nth syscall entry (test switch UPRR_RESPAWN_AT=N) the program's process is
copied, killed and respawned with its ids, and the recording goes on in the
respawn. The program must not see it: its output equals a native run's
where that is deterministic, and the trace replays byte for byte with the
inputs gone. Each recording must say that the respawn happened (a point
where it cannot be, a thread in the kernel, waits for the next entry).

e2e.py imports this module after its own cases.
"""

import os

from e2e import Fail, case, compare, compare_bytes, native_run, remove_input, tail
from e2e_tpmode import real_program, text_input

RESPAWNED = b'the program was respawned'


def respawn_record_replay(h, argv, name, at, *, remove=()):
    """Record @argv with UPRR_RESPAWN_AT=@at, replay it with @remove gone.
    The respawn must have happened. Returns the recording."""
    env = dict(os.environ, UPRR_RESPAWN_AT=str(at))
    trace, rec = h.record(argv, name=f'{name}-{at}', env=env, options=('-v',), expect_status=None)
    if RESPAWNED not in rec.stderr:
        raise Fail(f'{name}: no respawn at syscall {at} or later\n  {rec.explain()}')
    if rec.status != 0:
        raise Fail(f'{name}: the respawned program ended with status {rec.status}\n'
                   f'  {rec.explain()}')
    for path in remove:
        if os.path.exists(path):
            remove_input(path)
    compare(rec, h.replay(trace))
    return rec


@case('respawn-threads_mutex')
def c_respawn_threads_mutex(h):
    """4 threads under a mutex: respawned at the loader's first calls, in
    main, and while the workers run (every thread at an entry or preempted),
    the total right."""
    argv = [h.prog('threads_mutex')]
    for at in (1, 10, 40, 80):
        rec = respawn_record_replay(h, argv, 'threads_mutex', at)
        if b'total 20000, counter 20000' not in rec.stdout:
            raise Fail(f'threads_mutex respawned at {at}: a wrong total\n' + tail(rec.stdout))


@case('respawn-signal_async')
def c_respawn_signal_async(h):
    """A periodic ITIMER_REAL, alarm(2), signals between threads: a fork
    does not carry interval timers, nor signals pending (one that came
    while the copy was made): both are given to the respawn again. Without
    that, the program waited for its next SIGALRM for good."""
    argv = [h.prog('signal_async')]
    for at in (3, 40, 100):
        rec = respawn_record_replay(h, argv, 'signal_async', at)
        if b'signal_async: ok' not in rec.stdout:
            raise Fail(f'signal_async respawned at {at}: signals lost\n' + tail(rec.stdout))


@case('respawn-cond_idle')
def c_respawn_cond_idle(h):
    """Threads in condition waits (futex waits: in the kernel, so the
    respawn waits for a point where none is) while two workers compute."""
    argv = [h.prog('cond_idle'), '120']
    native = native_run(argv, 'cond_idle')
    for at in (5, 30):
        rec = respawn_record_replay(h, argv, 'cond_idle', at)
        # whether the sleeper was woken at the end depends on timing
        last = native.stdout.strip().split(b'\n')[-1].split(b', sleeper')[0]
        if last not in rec.stdout:
            raise Fail(f'cond_idle respawned at {at}: no line {last!r}\n' + tail(rec.stdout))


@case('respawn-real')
def c_respawn_real(h):
    """Real programs from Debian: sort --parallel=2 of 1.4 MB (two threads),
    python3 with three threads hashing; their outputs as natively; the
    replay with sort's input gone."""
    path = text_input(h, 'respawn-sort-input', 1400000)
    argv = [real_program('sort'), '--parallel=2', '-S', '8M', path]
    native = native_run(argv, 'sort')
    rec = respawn_record_replay(h, argv, 'sort', 50, remove=[path])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    script = ('import threading, hashlib\n'
              'def w(i):\n'
              '    h = hashlib.sha256()\n'
              '    for k in range(20000):\n'
              '        h.update(str(k * i).encode())\n'
              '    print(i, h.hexdigest()[:16], flush=True)\n'
              'ts = [threading.Thread(target=w, args=(i,)) for i in range(3)]\n'
              '[t.start() for t in ts]\n'
              '[t.join() for t in ts]\n')
    path = h.path('respawn-threads.py')
    with open(path, 'w') as f:
        f.write(script)
    argv = ['/usr/bin/python3', path]
    native = native_run(argv, 'python3')
    # from its threads' start on, one stands in a futex wait for the GIL
    # (in the kernel) at nearly every entry: respawned before
    for at in (100, 200):
        rec = respawn_record_replay(h, argv, 'python3', at)
        if sorted(rec.stdout.split(b'\n')) != sorted(native.stdout.split(b'\n')):
            raise Fail(f'python3 respawned at {at}: other output than natively\n' +
                       tail(rec.stdout))
