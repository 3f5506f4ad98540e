# SPDX-License-Identifier: MIT
"""End-to-end cases of the EP run following the synchronization order
(doc/sync-order.md, issue 15): what happens when it cannot follow it, and
what a followed hand-off costs.

e2e.py imports this module after its own cases.
"""

import os

from e2e import Fail, case, compare_bytes, log, native_run
from e2e_tpmode import record_diverging


@case('tp-sync-diverge-epochs')
def c_tp_sync_diverge_epochs(h):
    """An EP run that diverges from the sync-order log while the TP run's
    checkpoint copies are kept for its checks (--epoch=10) ends, saying so
    in one line (exit 124). tests/progs/tp_race with "branch" locks one
    mutex if its racy counter lost no increment, another if it did: the TP
    run loses some, its EP run (one thread at a time) none. uprr waited for
    every child of its own when it killed the EP run's processes, and the
    copies, stopped tracees, report nothing: it hung for ever (sort
    --parallel=2 -S 64M with --epoch=100 did, 3 runs in 4, its merge tree's
    race; the last thing `-vv` showed was the two threads' futex calls in
    libuprr-sync, by turns). Up to 30 recordings, as the TP run may lose no
    increment; each must end within 60 s. With rollback turned off
    (UPRR_EP_ROLLBACK=0): an epoch's end check would roll the TP run's lost
    increments back to the EP run's count, and the branch would agree."""
    r = record_diverging(h, [h.prog('tp_race'), '2000', '0', 'branch'], 'tp_race-branch-epochs', 30,
                         options=['--epoch=10'], env=dict(os.environ, UPRR_EP_ROLLBACK='0'),
                         timeout=60)
    err = r.stderr.decode(errors='replace')
    # one line names it (lock-step adds that the epoch's output went out
    # unverified, which names no operation)
    lines = [ln for ln in err.splitlines() if 'synchronization order' in ln]
    if (len(lines) != 1 or 'its synchronization order: follow: divergence in thread 0' not in
            lines[0] or 'another operation (the log has kind 1' not in lines[0]):
        raise Fail('uprr did not say in one line that the EP run diverged from the '
                   'sync-order log:\n' + err)
    log('  ' + lines[0][:200])


@case('tp-sync-stuck')
def c_tp_sync_stuck(h):
    """An EP run whose threads all end up waiting for one another ends, as
    a divergence said in one line (exit 124). tests/progs/tp_sync_stuck:
    its main thread locks a mutex only if its two adders lost an increment
    (they do in a TP run, not in an EP run), then a third thread locks it.
    The EP run's third thread waits in libuprr-sync's FOLLOW for the turn
    the log gives the main thread's lock, which this run does not make (its
    last operation: nothing the interposer could find different), while
    the main thread waits in pthread_join(3). uprr waited in waitpid(2) for
    ever (every thread blocked in the kernel: no event to come); now, every
    thread waiting 2 s in such a wait with no event, it stops. Up to 30
    recordings, as the TP run may lose no increment (then the EP run
    follows it); each must end within 60 s."""
    argv = [h.prog('tp_sync_stuck')]
    native = native_run(argv, 'tp_sync_stuck', cwd=h.tmp)
    # one epoch: its subject (with epochs, FOLLOW may meet the order's
    # difference as another operation first: a divergence said otherwise)
    for attempt in range(5):
        r = record_diverging(h, argv, f'tp_sync_stuck-{attempt}', 30, options=['--epoch=0'],
                             timeout=60,
                             each=lambda r: compare_bytes(native.stdout, r.stdout, 'stdout',
                                                          'the native run', 'the TP run'))
        err = r.stderr.decode(errors='replace')
        lines = [ln for ln in err.splitlines() if 'diverged' in ln]
        # the other way round: the EP run's adders lost an increment (a
        # preemption between a load and its store), its main thread locked
        # where the TP run's did not: a divergence found, not this case's
        if len(lines) == 1 and 'another operation (the log has kind 28' in lines[0]:
            log(f'  attempt {attempt + 1}: the EP run lost an increment, the TP run none; '
                'recording again')
            continue
        break
    if len(lines) != 1 or 'the run cannot follow the log' not in lines[0]:
        raise Fail('uprr did not say in one line that the EP run could not follow the '
                   'log:\n' + err)
    log('  ' + lines[0][:240])
