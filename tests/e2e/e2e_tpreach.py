# SPDX-License-Identifier: MIT
"""End-to-end cases of `uprr record --mode=tp` on more of issue 15's
CPU-bound parallel programs (doc/uniparallel.md, "Reach"): a TP run, then
the EP run that records the trace from its log, one epoch for the whole
program. Each case checks what e2e_tpmode.py's do (mode tp, the EP run
verified, the TP log in the trace, the replay byte for byte with the inputs
gone) and that the output equals a native run's.

Programs that do not record in tp mode yet have no case here; why is in
doc/uniparallel.md.

e2e.py imports this module after its own cases.
"""

import os
import re
import shutil
import subprocess
import time

from e2e import (Fail, case, compare, compare_bytes, kill_group, log, native_run, read, run, start,
                 tail, time_left)
from e2e import MP_SCRIPT, make_env, make_project, need, python_script
from e2e_tpmode import real_program, text_input, tp_record_replay


def xz_case(h, name, extra, size):
    """xz -T2 @extra of @size bytes of text: its output as natively, byte for
    byte (xz's threaded output does not depend on which thread compressed
    which block); the replay, with the input gone, equals the recording."""
    xz = real_program('xz')
    path = text_input(h, name + '-input', size)
    argv = [xz, '-T2'] + extra + ['-c', path]
    native = native_run(argv, name, cwd=h.tmp)
    _, rec, _ = tp_record_replay(h, argv, name, remove=[path])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


@case('tp-reach-xz')
def c_tp_reach_xz(h):
    """xz -T2 with 1 MiB blocks: a main thread that reads and writes, 2
    workers compressing blocks, handed over under a mutex and condition
    variables."""
    xz_case(h, 'xz', ['--block-size=1MiB'], 2 << 20)


@case('tp-reach-xz-idle')
def c_tp_reach_xz_idle(h):
    """xz -T2 with its default block size (24 MiB at -6) of 1 MB: one
    worker does it all while the main thread waits; the worker is still
    blocked in a condition wait when the process exits, past the end of
    its synchronization log in the EP run (the interposer blocks it in a
    futex wait, which an EP run does not match against the TP log: pause(2)
    made the EP run diverge)."""
    xz_case(h, 'xz-idle', [], 1 << 20)


@case('tp-reach-child-exit')
def c_tp_reach_child_exit(h):
    """tp_child_exit: SIGCHLD, which the parent leaves at SIG_DFL (python3
    multiprocessing's parent does), comes while the parent computes in user
    code, while its main thread waits in pthread_join, and while it is
    blocked in a read of a pipe (restarted). The TP run lets
    such a signal go unlogged, as the kernel drops it: logged, the EP run
    could not find its point (the log reader refused the log). Output as
    natively; the replay, the program removed, equals the recording."""
    prog = h.prog('tp_child_exit')
    copy = h.path('tp_child_exit')
    shutil.copy(prog, copy)
    native = native_run([copy], 'tp_child_exit', cwd=h.tmp)
    _, rec, _ = tp_record_replay(h, [copy], 'tp_child_exit', remove=[copy], replays=2)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


def python_mp_record(h, argv, name, remove=(), env=None):
    """Record @argv (python3 multiprocessing) with --mode=tp in one epoch
    (--epoch=0: the case is about a re-run from the program's start; with
    epochs, output goes out before the end and a re-run from a later
    checkpoint is refused for the files sem_open(3) made, README "Not
    yet"): it must end as the program does (exit 0), its EP run verified,
    or diverged and re-run from the program's start (a divergence refused,
    exit 124, fails, named); the trace replays as recorded (@remove gone).
    Returns (recording, info text, the re-run line or None)."""
    trace, rec = h.record(argv, name=name, options=['--mode=tp', '--epoch=0'], timeout=600,
                          env=env, expect_status=None)
    if rec.status != 0:
        err = rec.stderr.decode(errors='replace')
        m = re.search(r'not re-run: .*', err)
        raise Fail(f'{name}: expected exit 0 (verified, or diverged and re-run), got '
                   f'{rec.status}' + (f': {m.group(0)[:400]}' if m else '') +
                   f'\n  {rec.explain()}')
    text = run([h.uprr, 'info', trace], timeout=60,
               what='uprr info').stdout.decode(errors='replace')
    m = re.search(r'^re-run: +(.*)$', text, re.M)
    if not m and 'ep run verified: no divergence' not in text:
        raise Fail(f'{name}: neither verified nor re-run:\n' + text)
    if not re.search(r'^threads: .* in 3 processes', text, re.M):
        raise Fail('uprr info does not count the parent and its 2 workers:\n' + text)
    for path in remove:
        if os.path.exists(path):
            os.unlink(path)
    compare(rec, h.replay(trace))
    return rec, text, m.group(1) if m else None


@case('tp-reach-python-mp')
def c_tp_reach_python_mp(h):
    """python3 multiprocessing, Pool(2).map of 1000 tasks: two forked
    workers take the result queue's lock, a POSIX semaphore in a /dev/shm
    page (process-shared), in turns. libuprr-sync logs the forked workers
    (a slot per process) and orders the semaphore across processes (its
    clock in the interposer's shared table); without that, the EP run took
    the lock in another order and diverged at a worker's write of a result
    (`it is number 103 of the log's order of shared-state calls, and 105
    went already`: 10 of 10 recordings with main's uprr). CPython's GIL
    hands over where a racy read of its drop request says (no sync
    operation), so an EP run follows another order in ~1 recording of 6
    (doc/uniparallel.md, Reach (3)): such a divergence is re-run from the
    program's start, the semaphores' files the TP run made (sem_open(3):
    O_EXCL in /dev/shm, linked, unlinked, sem_unlink(3)ed) being no change
    outside (it was refused for them, exit 124, before). Four recordings,
    each verified or re-run and replayed (the last with the script gone),
    the third's EP run made to diverge (UPRR_EP_DIVERGE=0:syscall): re-run,
    never refused; the results of each as natively (the pids aside)."""
    argv, script = python_script(h, 'pool.py', MP_SCRIPT)
    native = native_run(argv, 'pool', cwd=h.tmp)
    pattern = rb'^(results|digest|\d+ \d+ )'
    want = [ln for ln in native.stdout.splitlines() if re.search(pattern, ln)]
    if len(want) < 12:
        raise Fail('the native run printed too little:\n' + tail(native.stdout))
    forced = dict(os.environ, UPRR_EP_DIVERGE='0:syscall')
    reruns = 0
    for i, env in enumerate([None, None, forced, None]):
        rec, _, rerun = python_mp_record(h, argv, f'pool-{i}', env=env,
                                         remove=[script] if i == 3 else ())
        if env is forced and not rerun:
            raise Fail('the forced divergence was not re-run')
        if rerun:
            reruns += 1
            log(f'  recording {i}: re-run: {rerun[:160]}')
        got = [ln for ln in rec.stdout.splitlines() if re.search(pattern, ln)]
        compare_bytes(b'\n'.join(want), b'\n'.join(got), 'the results', 'the native run',
                      f'recording {i}')
    log(f'  {reruns} of 4 recordings re-run (1 forced), the others verified')


@case('tp-reach-detached')
def c_tp_reach_detached(h):
    """tp_detached: 60 detached threads started while earlier ones end.
    The TP run must end: an ending detached thread frees its TLS holding
    glibc's stack cache lock, which pthread_create takes under the
    interposer's heap turn; the interposer took that turn in those frees
    too, and the TP run deadlocked (3 runs of 6 with 200 threads). The EP
    run is not this case's subject: which cached stack a pthread_create
    reuses is a race nothing orders yet, so it diverges (exit 124) or
    verifies; it must end within 60 s either way (it once did not, in
    about half the runs: doc/uniparallel.md, Reach). Each TP run's log
    must end with the program's exit, and a recording must print the
    native total."""
    argv = [h.prog('tp_detached')]
    native = native_run(argv, 'tp_detached', cwd=h.tmp)
    for i in range(3):
        trace = h.new_trace_path('tp_detached')
        out_path, err_path = h.path(f'detached-{i}.out'), h.path(f'detached-{i}.err')
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            p = start([h.uprr, 'record', '-o', trace, '--mode=tp', '--'] + argv, stdout=out,
                      stderr=err, cwd=h.tmp)
        try:
            # the EP run makes the trace once the TP run has ended
            deadline = time.monotonic() + time_left(60)
            while p.poll() is None and not os.path.isdir(trace):
                if time.monotonic() > deadline:
                    raise Fail('the TP run did not end in 60 s')
                time.sleep(0.1)
            try:
                p.wait(timeout=time_left(60))
            except subprocess.TimeoutExpired:
                # uprr never hangs: an EP run that neither follows nor
                # diverges is a defect (it did in about half the runs once)
                raise Fail('the EP run did not end in 60 s')
        finally:
            kill_group(p.pid, p.pid)
            p.wait()
        tp_log = os.path.join(trace, 'tp', 'log')
        if not os.path.isdir(tp_log):
            tp_log = trace + '.tp/log'
        dump = run([h.uprr, 'dump', tp_log], timeout=60, what='uprr dump')
        if not re.search(rb'\tend 0\n$', dump.stdout):
            raise Fail('the TP log does not end with the program\'s exit:\n' + tail(dump.stdout))
        err = read(err_path).decode(errors='replace')
        if p.returncode in (0, 124):
            if p.returncode == 124:
                if 'the EP run diverged' not in err:
                    raise Fail('uprr record exited 124 without a divergence:\n' + err)
                log('  the EP run diverged: ' + err.strip().splitlines()[-1][:200])
            compare_bytes(native.stdout, read(out_path), 'stdout', 'the native run',
                          'the recording')
        else:
            raise Fail(f'uprr record ended with {p.returncode}:\n{err}')


@case('tp-reach-detached-verify')
def c_tp_reach_detached_verify(h):
    """tp_detached's EP run verifies: a thread's end is an operation of the
    heap's order in libuprr-sync, and the heap's next operation (the next
    pthread_create's included) waits for the ended thread's exit to be over,
    so which cached stack, which arena and which freed blocks the next
    thread gets is the same in the EP run. Before, 0 of 20 recordings
    verified (`syscall mmap: the log has rt_sigprocmask there`, or a heap
    call's other result); with it 39 of 40. Three recordings, at least two
    verified, replayed and printing the native total (a recording may still
    diverge: doc/uniparallel.md, Reach). One epoch (`--epoch=0`): the
    subject is the heap's order, and with epochs the end at the program's
    exit_group holds a detached thread on its way out, which the EP run
    then cannot follow (the program is recorded again from its start, 2-4
    recordings in 30-40 here, 2 of 3 in one fresh-clone CI: doc/
    uniparallel.md, "a stall's progress")."""
    argv = [h.prog('tp_detached')]
    native = native_run(argv, 'tp_detached', cwd=h.tmp)
    verified, why = 0, []
    for i in range(3):
        try:
            _, rec, _ = tp_record_replay(h, argv, f'tp_detached-{i}', options=['--epoch=0'])
        except Fail as e:
            why.append(str(e).splitlines()[0][:300])
            log(f'  recording {i} not verified: {why[-1]}')
            continue
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', f'recording {i}')
        verified += 1
    if verified < 2:
        raise Fail(f'{verified} of 3 recordings verified:\n' + '\n'.join(why))


def make_case(h, options):
    """make -j2 on the make-j2 project with @options: output as natively
    (the compiles in either order); the replay, the project and gcc's
    temporaries removed, equals the recording."""
    make = need('make')
    need('gcc')
    native_proj, proj, cctmp = h.path('native'), h.path('project'), h.path('cc-tmp')
    make_project(native_proj)
    make_project(proj)
    env = make_env(cctmp)
    native = native_run([make, '-j2', '-C', native_proj], 'make', cwd=h.tmp, env=env)
    _, rec, _ = tp_record_replay(h, [make, '-j2', '-C', proj], 'make', remove=[proj, cctmp],
                                 options=options, env=env)
    # -j2 prints the compiles in either order; the directory's name differs
    want = sorted(native.stdout.decode().replace(native_proj, 'DIR').splitlines())
    got = sorted(rec.stdout.decode().replace(proj, 'DIR').splitlines())
    if want != got:
        raise Fail('the recording printed other lines than the native run:\n' + tail(rec.stdout, 30))


@case('tp-reach-make')
def c_tp_reach_make(h):
    """make -j2 on the make-j2 project, without the syscall buffer: make
    waits in pselect6 with a mask that lets SIGCHLD in (its own blocks it),
    and its children exec ./demo by a path relative to the directory make
    -C went to. The EP run raises the log's SIGCHLD under the wait's mask
    (its own put back in the handler's frame, as replay does), and execs
    the log's kept copy of each executable by its absolute path (make's
    chdir is answered from the log). A vfork parent's clone is not held for
    its child's lower order numbers."""
    make_case(h, ['--no-syscall-buffer'])


@case('tp-reach-make-sb')
def c_tp_reach_make_sb(h):
    """make -j2 with the syscall buffer (the default): make's vfork
    children close descriptors, buffered, in the buffer they share with
    make (CLONE_VM, the same FS base). The EP run had put make's next
    records there when it took the vfork, and the child consumed them
    (`its buffer holds 64 bytes of calls the log did not answer`)."""
    make_case(h, [])


@case('tp-reach-vfork')
def c_tp_reach_vfork(h):
    """tests/progs/vfork_buffered: vfork and posix_spawn children make
    buffered calls on their parent's memory, then exec or _exit; the
    parent's own buffered calls before and after. Output as natively; the
    replay, the program removed, equals the recording (twice); recorded
    and replayed in UP mode too."""
    prog = h.prog('vfork_buffered')
    copy = h.path('vfork_buffered')
    shutil.copy(prog, copy)
    native = native_run([copy], 'vfork_buffered', cwd=h.tmp)
    # the same rule in UP recording: the child's calls buffered, taken as
    # its own at its next event
    _, up = h.record_replay([copy], name='vfork_buffered-up')
    compare_bytes(native.stdout, up.stdout, 'stdout', 'the native run', 'the UP recording')
    _, rec, _ = tp_record_replay(h, [copy], 'vfork_buffered', remove=[copy], replays=2)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


@case('tp-reach-wait-mask')
def c_tp_reach_wait_mask(h):
    """tests/progs/wait_mask in --mode=tp: signals that interrupt
    sigsuspend, ppoll, pselect6 and epoll_pwait run their handlers under
    the wait's mask and the thread's own mask comes back after. The EP run
    answers the waits from the log and raises the log's signals: under the
    thread's own mask they stayed blocked and the run never ended. It says
    what it checked as natively (its children's ids and how many waits a
    signal interrupted, a matter of timing, differ); the replay,
    the program removed, equals the recording."""
    prog = h.prog('wait_mask')
    copy = h.path('wait_mask')
    shutil.copy(prog, copy)
    native = native_run([copy], 'wait_mask', cwd=h.tmp)
    # one epoch: its subject is the masks. With epochs (its output held
    # in a pipe: 12-40 of them), 1 recording in 2 diverged at an end at a
    # stack byte under printf's live frame that a dead signal frame left
    # ("0x00 in A, 0x0b in B"; a20fc727 as well), found after the TP run
    # went on, and a process that forks has no re-run from a checkpoint
    _, rec, _ = tp_record_replay(h, [copy], 'wait_mask', remove=[copy], options=['--epoch=0'])
    strip = lambda out: re.sub(rb'(child|interrupted waits:) \d+', rb'\1 N', out)
    compare_bytes(strip(native.stdout), strip(rec.stdout), 'stdout', 'the native run',
                  'the recording')


WITH_POOL_SCRIPT = """\
import hashlib, multiprocessing

def work(x):
    return x, hashlib.sha256(str(x).encode()).hexdigest()[:8]

if __name__ == '__main__':
    with multiprocessing.get_context('fork').Pool(2) as pool:
        results = pool.map(work, range(400), chunksize=10)
    print('results', len(results))
    print('digest', hashlib.sha256(repr(results).encode()).hexdigest())
"""


@case('tp-reach-python-with-pool')
def c_tp_reach_python_with_pool(h):
    """python3's `with Pool(2) as pool:`, whose exit calls terminate():
    SIGTERM to each worker still alive, most often waiting in a futex for
    its next task (1 recording in 4 here), which made the log reader refuse
    the log (exit 125, no trace). 6 recordings in one epoch, each verified
    or re-run (the GIL's races, as for tp-reach-python-mp) and replayed;
    the results as natively. Which recordings had a worker killed is
    counted (tp-reach-kill-waiter makes that point every time)."""
    argv, _ = python_script(h, 'with_pool.py', WITH_POOL_SCRIPT)
    native = native_run(argv, 'with_pool', cwd=h.tmp)
    killed = 0
    for i in range(6):
        trace, rec = h.record(argv, name=f'with_pool-{i}', options=['--mode=tp', '--epoch=0'],
                              timeout=600)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
        compare(rec, h.replay(trace))
        dump = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump').stdout
        killed += b'process-exit 0xf ' in dump
    log(f'  {killed} of 6 recordings had a worker killed by SIGTERM')


def signals_after_futex(h, trace):
    """The asynchronous signals of @trace's TP log taken right after a futex
    call's exit of their thread (a wait they interrupted): (signal, count)."""
    r = run([h.uprr, 'dump', os.path.join(trace, 'tp', 'log')], timeout=120, what='uprr dump')
    last, found = {}, {}
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split('\t')
        if len(f) < 3:
            continue
        m = re.match(r'signal (0x[0-9a-f]+) ', f[2])
        if m and last.get(f[1], '').startswith('syscall-exit 0xca '):
            found[int(m.group(1), 16)] = found.get(int(m.group(1), 16), 0) + 1
        last[f[1]] = f[2]
    return found


@case('tp-reach-kill-waiter')
def c_tp_reach_kill_waiter(h):
    """tests/progs/kill_waiter: a signal from the parent reaches a child
    blocked in sem_wait(3)'s futex wait (python3's `with Pool(...)`, whose
    terminate() sends SIGTERM to workers waiting for a task): SIGUSR1 to a
    handler, then SIGTERM, which kills the child. The TP log has each right
    after the futex call's exit (-ERESTARTSYS), a call left out of the EP
    run's matching: the log reader refused the log (exit 125, no trace:
    "took asynchronous signal 15 after an event other than a syscall's
    exit"); the EP run now delivers it at the child's next syscall entry
    past its last matched call (its own futex wait). 4 recordings in one
    epoch: each verified, its output a native run's, its replay the
    recording; in at least one both signals came after a futex exit."""
    argv = [h.prog('kill_waiter')]
    native = native_run(argv, 'kill_waiter', cwd=h.tmp)
    seen = 0
    for i in range(4):
        trace, rec, _ = tp_record_replay(h, argv, f'kill_waiter-{i}', options=['--epoch=0'])
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
        found = signals_after_futex(h, trace)
        seen += found.get(10, 0) > 0 and found.get(15, 0) > 0
    if not seen:
        raise Fail('in 4 recordings no signal came right after a futex wait: the case did not '
                   'test what it is about')
    log(f'  {seen} of 4 recordings took both signals right after a futex wait')


@case('tp-reach-script')
def c_tp_reach_script(h):
    """Scripts and shells recorded with --mode=tp: `#!/bin/sh` and
    `#!/usr/bin/env bash` scripts (pyenv's shims are such scripts), and
    `bash -c` running a program in its place (exec, no fork) and a
    pipeline. The kernel runs the interpreter: the EP run compared the
    script's bytes with the log's executable and refused (exit 125, "is not
    the program the log ran"), and after env's exec of bash its mmap of a
    kept copy used a descriptor the exec had closed (EBADF). bash defines
    its own unsetenv(3), which libuprr-sync's call took before bash's main
    ran: UPRR_SYNC_MODE stayed in the environment, and the programs bash
    executed took the order's file as another process's and diverged in the
    TP run itself (`uprr-sync: follow: divergence in thread 0 at operation
    0`, exit 125, no output). And nproc, and sort in the pipeline (its
    buffer's size follows its thread count): uprr had pinned itself to the
    EP run's CPU before the EP run read its own affinity as the program's
    native one, so the EP run's sched_getaffinity(2) said 1 CPU where the
    log said 2 (nproc's output, sort's mmap diverged). And `xargs -P2`,
    whose forks a child's SIGCHLD interrupts in the EP run (the kernel
    restarts them, -ERESTARTNOINTR: "clone: it failed here (Unknown error
    513)", then its number in the order taken again). Output as natively;
    the replay, the scripts gone, equals the recording."""
    prog = h.prog('tp_parallel')
    runs = []
    for name, line in (('sh', '#!/bin/sh'), ('env-bash', '#!/usr/bin/env bash')):
        path = h.path(f'script-{name}')
        with open(path, 'w') as f:
            f.write(f'{line}\necho "script {name}: start"\n{prog}\necho "script {name}: end"\n')
        os.chmod(path, 0o755)
        runs.append(([path], f'script-{name}', [path]))
    runs.append((['/bin/bash', '-c', prog], 'bash-exec', []))
    runs.append((['/bin/bash', '-c', f'{prog} | sort | head -3'], 'bash-pipeline', []))
    runs.append(([real_program('nproc')], 'nproc', []))
    runs.append((['/bin/bash', '-c', 'seq 1 4000 | xargs -P2 -n100 echo | wc -l'], 'bash-xargs', []))
    for argv, name, remove in runs:
        native = native_run(argv, name, cwd=h.tmp)
        _, rec, _ = tp_record_replay(h, argv, name, remove=remove)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
