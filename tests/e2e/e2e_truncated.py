# SPDX-License-Identifier: MIT
"""End-to-end cases of traces their recorder did not finish (issue 15: "a
killed recorder leaves a trace that replays up to its last verified
epoch"), made from a whole recording by tests/e2e/trace-craft: its events
stream written anew, cut where a killed recorder might have left it, and,
for a tp trace, with the TRACE_EV_EPOCH events an EP run writes once it has
checked an epoch (doc/trace-format.md, "How a trace ends").

The killed recorders themselves are e2e.py's killed-recorder and
killed-recorder-tree. e2e.py imports this module after its own cases.
"""

import os
import re
import shutil

from e2e import Fail, case, check_incomplete, compare, log, replay_cut_result, run


def need_craft(h):
    if not h.craft or not os.access(h.craft, os.X_OK):
        raise Fail('tests/e2e/trace-craft is not built')


def craft(h, trace, *args):
    """trace-craft rewrite @trace @args; returns what it says, as a dict."""
    r = run([h.craft, 'rewrite', trace] + list(args), timeout=60, what='trace-craft')
    if r.status != 0:
        raise Fail('trace-craft rewrite failed\n  ' + r.explain())
    said = dict(line.split(' ', 1) for line in r.stdout.decode().splitlines())
    return {k: int(v) for k, v in said.items()}


def copy_of(h, trace, name):
    path = h.path(name)
    shutil.copytree(trace, path, symlinks=True)
    return path


def recording(h):
    """A whole recording of tick_lines, 3 threads of 40 lines, a line every
    millisecond: its output spread over its events. Returns (trace, Result,
    its event count)."""
    trace, rec = h.record([h.prog('tick_lines'), '3', '40', '1'], name='whole')
    dump = run([h.uprr, 'dump', trace], timeout=60, what='uprr dump')
    events = dump.stdout.count(b'\n')
    if dump.status != 0 or dump.stderr or not dump.stdout.endswith(b'\tend 0\n'):
        raise Fail('the whole recording does not end with its end event\n  ' + dump.explain())
    return trace, rec, events


@case('truncated-no-end')
def c_truncated_no_end(h):
    """A trace that holds every event but its end (the recorder was killed
    after the program ended, before it wrote the end event) is not taken
    for a complete one: replay shows the whole output, then says the
    recording was cut short at the last event (exit 123, not the program's
    0); info, dump and ps say it is incomplete. Its whole copy replays
    with exit 0."""
    need_craft(h)
    trace, rec, events = recording(h)
    cut = copy_of(h, trace, 'no-end')
    said = craft(h, cut, '--cut', str(events - 1))
    if said['events'] != events - 1:
        raise Fail(f'trace-craft wrote {said["events"]} events, not {events - 1}')
    rep = h.replay(cut)
    m = replay_cut_result(rep, rec, 'replay of a trace without its end')
    if int(m.group(1)) != events - 1 or rep.stdout != rec.stdout:
        raise Fail(f'the replay of a trace without its end stopped at event {m.group(1)} '
                   f'with {len(rep.stdout)} of {len(rec.stdout)} bytes; expected event '
                   f'{events - 1} and the whole output')
    check_incomplete(h, cut, f'event {events - 1}')
    compare(rec, h.replay(trace))


@case('truncated-tp')
def c_truncated_tp(h):
    """A tp trace (an EP run's) replays like an up trace, passing over the
    TRACE_EV_EPOCH events that say which epochs the EP run verified. Cut
    short (no end), it replays to its last verified epoch, not to its last
    frame: the epochs after it (diverged, not checked) and the events after
    them are never run, and the output stops there. With no epoch verified,
    nothing runs. The same cut trace as an up trace runs to its last frame."""
    need_craft(h)
    trace, rec, events = recording(h)
    every = events // 9
    # epochs 0-7: verified, verified, diverged, not checked, verified,
    # diverged, not checked, not checked
    pattern = f'{every}:11021022'
    whole = copy_of(h, trace, 'tp-whole')
    said = craft(h, whole, '--mode', 'tp', '--epochs', pattern)
    if said['epochs'] < 8:
        raise Fail(f'trace-craft wrote {said["epochs"]} epochs; the test needs 8')
    info = run([h.uprr, 'info', whole], timeout=60, what='uprr info')
    if not re.search(rb'^mode: +tp,', info.stdout, re.M) or \
            not re.search(rb'^end: +exit status 0$', info.stdout, re.M):
        raise Fail('uprr info of the whole tp trace does not say mode tp, exit status 0:\n'
                   + info.stdout.decode(errors='replace'))
    compare(rec, h.replay(whole))
    log(f'  the whole tp trace with {said["epochs"]} epoch events replayed as recorded')

    # cut in epoch 7: its last verified epoch is 4, ended by the epoch
    # event after 5 * every original events (and 4 epoch events)
    cut = copy_of(h, trace, 'tp-cut')
    said = craft(h, cut, '--mode', 'tp', '--epochs', pattern, '--cut', str(7 * every + every // 2))
    if said['last-verified'] != 4 or said['verified-end'] != 5 * every + 5:
        raise Fail(f'trace-craft: {said}; expected epoch 4 verified last, its end at event '
                   f'{5 * every + 5}')
    rep = h.replay(cut)
    m = replay_cut_result(rep, rec, 'replay of a cut tp trace')
    if int(m.group(1)) != said['verified-end'] or \
            m.group(2) != b'a tp trace replays to its last verified epoch, 4':
        raise Fail(f'the cut tp trace replayed to event {m.group(1).decode()} ({m.group(2)}); '
                   f'its last verified epoch, 4, ends at event {said["verified-end"]}')
    check_incomplete(h, cut, f'event {said["verified-end"]}, the end of epoch 4')
    # the same stream as an up trace: every whole frame, so more output
    up = copy_of(h, cut, 'up-cut')
    craft(h, up, '--mode', 'up')
    rep_up = h.replay(up)
    m_up = replay_cut_result(rep_up, rec, 'replay of the cut trace as an up trace')
    if int(m_up.group(1)) != said['events'] or len(rep_up.stdout) <= len(rep.stdout):
        raise Fail(f'as an up trace the cut trace replayed to event {m_up.group(1).decode()} '
                   f'({len(rep_up.stdout)} bytes of output), as a tp trace to '
                   f'{m.group(1).decode()} ({len(rep.stdout)} bytes): expected event '
                   f'{said["events"]} and more output')
    log(f'  cut in epoch 7: {len(rep.stdout)} bytes of output to epoch 4, '
        f'{len(rep_up.stdout)} to the last frame')

    # cut in epoch 0: nothing verified, nothing runs
    none = copy_of(h, trace, 'tp-none')
    said = craft(h, none, '--mode', 'tp', '--epochs', pattern, '--cut', str(every // 2))
    if said['epochs'] != 0:
        raise Fail(f'trace-craft: {said}; expected no epoch')
    rep = h.replay(none)
    m = replay_cut_result(rep, rec, 'replay of a tp trace cut in epoch 0')
    if int(m.group(1)) != 0 or rep.stdout or b'none was' not in m.group(2):
        raise Fail(f'the tp trace cut in its first epoch replayed to event '
                   f'{m.group(1).decode()} with {len(rep.stdout)} bytes of output')
    check_incomplete(h, none, 'event 0')
