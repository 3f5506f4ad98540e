# SPDX-License-Identifier: MIT
"""End-to-end cases of traces their recorder did not finish (issue 15: "a
killed recorder leaves a trace that replays up to its last verified
epoch"), made from a whole recording by tests/e2e/trace-craft: its events
stream written anew, cut where a killed recorder might have left it, and,
for a tp trace, with the TRACE_EV_EPOCH events an EP run writes once it has
checked an epoch (doc/trace-format.md, "How a trace ends").

The killed recorders themselves are e2e.py's killed-recorder and
killed-recorder-tree, and tp-killed-recorder here. e2e.py imports this
module after its own cases.
"""

import os
import re
import shutil
import signal
import subprocess
import time

from e2e import (Fail, _descendants, _is_zombie, case, check_incomplete, compare,
                 compare_bytes, finish_group, kill_group, log, one_uprr_line, read, read_some,
                 replay_cut_result, run, start, time_left)


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


# An epoch's verdict in `uprr dump`: "epoch K VERDICT 0 0" (doc/trace-format.md)
EPOCH_RE = re.compile(rb'\tepoch (0x[0-9a-f]+|0) (0x[0-9a-f]+|0) 0 0$', re.M)
LAST_VERIFIED_RE = re.compile(rb'^a tp trace replays to its last verified epoch, (\d+)$')


def verified_epochs(h, trace):
    """The epochs the EP run has verified so far in @trace (its whole
    frames, read by uprr dump while it is written), [] before it exists."""
    if not os.path.exists(os.path.join(trace, 'events')):
        return []
    d = run([h.uprr, 'dump', trace], timeout=60, what='uprr dump')
    return [int(k, 16) for k, v in EPOCH_RE.findall(d.stdout) if int(v, 16) == 1]


def kill_tp_when(h, name, argv, ready, pipe):
    """Record @argv with --mode=tp --epoch=20 (stdout a pipe read here if
    @pipe, else a file) and SIGKILL uprr record once ready(trace, output so
    far) says so. No process of the recording may be left. Returns (trace,
    the program's output as written (@pipe: as the pipe's reader saw it))."""
    trace = h.new_trace_path(name)
    out_path = h.path(name + '.out')
    seen = bytearray()
    with open(out_path, 'wb') as out:
        p = start([h.uprr, 'record', '-o', trace, '--mode=tp', '--epoch=20', '--'] + argv,
                  stdout=subprocess.PIPE if pipe else out, stderr=subprocess.DEVNULL, cwd=h.tmp)
    try:
        deadline = time.monotonic() + time_left(120)
        while not ready(trace, bytes(seen) if pipe else read(out_path)):
            if pipe:
                chunk = read_some(p.stdout, time.monotonic() + 0.05)
                seen += chunk or b''
            else:
                time.sleep(0.05)
            if p.poll() is not None:
                raise Fail(f'uprr record of {name} ended ({p.returncode}) before it was killed')
            if time.monotonic() > deadline:
                raise Fail(f'{name} did not get far enough under uprr record in time')
        procs = _descendants(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        log(f'  killed uprr record of {name} with {len(procs)} processes under it')
        if pipe:
            # what is left in the pipe was written before the kill
            end = time.monotonic() + 10
            while (chunk := read_some(p.stdout, end)):
                seen += chunk
    finally:
        if p.poll() is None:
            kill_group(p.pid, p.pid)
            p.wait()
        if pipe:
            p.stdout.close()
    finish_group(p, 'uprr record --mode=tp killed with SIGKILL')
    for pid in procs:
        if os.path.exists(f'/proc/{pid}') and not _is_zombie(pid):
            raise Fail(f'process {pid} of the recording outlived uprr record')
    return trace, bytes(seen) if pipe else read(out_path)


def replay_killed_tp(h, trace, out, least):
    """Replay @trace, a tp trace whose recorder was killed, twice: it stops
    at the end of its last verified epoch (at least @least), exit 123, one
    line that says so, the same output both times, a prefix of @out (what
    the program wrote). uprr info, dump and ps say it is incomplete.
    Returns (the replay, that epoch)."""
    rep = h.replay(trace)
    m = replay_cut_result(rep, out, 'replay of a killed tp recording')
    last = LAST_VERIFIED_RE.match(m.group(2) or b'')
    if not last or int(last.group(1)) < least:
        raise Fail(f'the replay of the killed tp recording ended at event {m.group(1).decode()} '
                   f'({(m.group(2) or b"").decode()}); epoch {least} was verified before the kill')
    check_incomplete(h, trace, f'event {m.group(1).decode()}, the end of epoch {last.group(1).decode()}')
    again = h.replay(trace)
    compare_bytes(rep.stdout, again.stdout, 'stdout', 'the first replay', 'the second')
    log(f'  replayed to epoch {last.group(1).decode()} (event {m.group(1).decode()}): '
        f'{len(rep.stdout)} bytes of output')
    return rep, int(last.group(1))


@case('tp-killed-recorder')
def c_tp_killed_recorder(h):
    """SIGKILL to uprr record --mode=tp --epoch=20 of tick_lines (2
    threads, 400 lines, each after ~2 ms of computation and a 3 ms sleep):
    (1) once the trace says the EP run verified epoch 2: the trace replays
    to its last verified epoch (at least 2), exit 123, its output a prefix
    of what the program wrote, the same twice, and uprr info, dump and ps
    say it is incomplete; (2) the same with the program's stdout a pipe:
    what output commit let through to the reader is a prefix of the replay
    (nothing shown that the trace cannot replay); (3) early, in the TP run's
    first epochs: nothing leaks, and the trace, if there is one, replays to
    its last verified epoch or says none was. No process of the recording
    outlives uprr record, and nothing crashes."""
    argv = [h.prog('tick_lines'), '2', '400', '3', '1000']

    # the verdict on epoch N is TRACE_EV_EPOCH's values[0] = N + 1
    # (doc/trace-format.md): epoch 2's is 3. With the EP run going along
    # (lock-step) verdicts come one an epoch, and the kill may come right
    # after checkpoint 2's (epoch 1's)
    def after_epoch_2(trace, out):
        return any(k >= 3 for k in verified_epochs(h, trace))

    for pipe in (False, True):
        name = 'pipe' if pipe else 'file'
        trace, out = kill_tp_when(h, name, argv, after_epoch_2, pipe)
        if not pipe:
            replay_killed_tp(h, trace, out, 2)
            continue
        rep = h.replay(trace)
        m = replay_cut_result(rep, rep.stdout, 'replay of a killed tp recording')
        if not rep.stdout.startswith(out):
            compare_bytes(out, rep.stdout[:len(out)], 'stdout', 'what output commit let out',
                          'the replay of the trace')
        if not LAST_VERIFIED_RE.match(m.group(2) or b''):
            raise Fail(f'the replay ended at event {m.group(1).decode()} '
                       f'({(m.group(2) or b"").decode()}); epoch 2 was verified before the kill')
        log(f'  the reader saw {len(out)} bytes of output; the replay shows {len(rep.stdout)}')

    # (3) in the TP run's first epochs: the TP log has frames, the program
    # printed its first lines
    def early(trace, out):
        return out.count(b'\n') >= 20 and os.path.exists(trace + '.tp')

    trace, out = kill_tp_when(h, 'early', argv, early, False)
    if os.path.exists(trace):
        rep = h.replay(trace)
        m = replay_cut_result(rep, out, 'replay of a tp recording killed early')
        if not (LAST_VERIFIED_RE.match(m.group(2) or b'') or b'none was' in (m.group(2) or b'')):
            raise Fail(f'the replay of a tp recording killed early says {m.group(2)!r}')
        check_incomplete(h, trace)
        log(f'  killed early: replays to event {m.group(1).decode()}, {len(rep.stdout)} bytes')
    else:
        # the EP run, which writes the trace, had not started (it follows
        # the TP run): nothing was verified, and there is no trace to
        # replay; the TP log stays beside it, and replay says so in a line
        if not os.path.exists(os.path.join(trace + '.tp', 'log', 'header')):
            raise Fail(f'uprr record killed in its TP run left neither {trace} nor its TP log')
        rep = h.replay(trace)
        one_uprr_line(rep, re.compile(rb"^uprr: replay: '.*': no such trace directory$"),
                      'replay of a trace never written')
        if rep.status != 125:
            raise Fail(f'replay of a trace never written: {rep.explain()}')
        log('  killed early: no epoch verified, no trace written (the EP run had not started)')
