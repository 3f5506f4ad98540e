#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of uprr: record, take the inputs away, replay, compare.

Each case records a program into a fresh trace directory (uprr record -o),
keeps its stdout, stderr and exit status, removes what the program read
(input files, the server's port), replays the trace and compares the replay's
stdout and exit status with the recording's, byte for byte (rr's
compare_test). A replay that exits 125 (divergence, bad trace) fails the
case; so does any uprr that dies of a signal, times out or leaves processes
behind.

Usage:
  e2e.py --uprr PATH --progs DIR [--craft PATH] CASE   run one case
  e2e.py --list                                         list the cases
  e2e.py memcached-client PORT OUT [--requests N]       the load client alone
                                                        (bench/bench.sh uses it)

Exit status: 0 passed, 1 failed, 77 skipped (meson's convention).
Set UPRR_E2E_KEEP=1 to keep the temporary directory (traces, inputs).
Only the Python standard library is used; run it with /usr/bin/python3.
"""

import argparse
import collections
import ctypes
import contextlib
import difflib
import gzip
import hashlib
import os
import pty
import random
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# Run as a script, this module is __main__: make `import e2e` (in the
# modules of more cases, below) give this very module, not a second copy.
sys.modules.setdefault('e2e', sys.modules[__name__])

SKIP = 77
UPRR_FAILURE = 125
# uprr replay of a trace the recorder did not finish (killed, disk full):
# it replayed to where the trace is good (doc/trace-format.md)
CUT_SHORT = 123
COMMAND_NOT_FOUND = 127

# The line record and replay print when the tracee dies of a signal.
CRASH_RE = re.compile(
    rb'^uprr: process killed by (SIG[A-Z0-9]+)( at 0x[0-9a-f]+ \(thread [0-9]+\))?$')

RECORD_TIMEOUT = 240
REPLAY_TIMEOUT = 240


class Fail(Exception):
    """The case failed; the message says why."""


class Skip(Exception):
    """The case cannot run here; the message says why."""


def log(msg):
    print(msg, flush=True)


def signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return f'signal {n}'


def describe_status(status):
    if status < 0:
        return f'died of {signame(-status)}'
    if status > 128 and status - 128 < 65:
        return f'exit {status} (= 128 + {signame(status - 128)})'
    return f'exit {status}'


def tail(data, lines=15):
    text = data.decode('utf-8', 'replace').rstrip('\n').split('\n')
    return '\n'.join('    | ' + t for t in text[-lines:]) if data else '    | (empty)'


# ---------------------------------------------------------------------------
# Processes: every process a case starts gets its own process group, so that
# the whole tree (uprr, its tracees) can be killed even after reparenting, and
# so that a process left behind is noticed.

_groups = set()


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f'/proc/{p}/task')
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f'/proc/{p}/task/{t}/children') as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _group_members(pgid):
    members = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                st = f.read()
            fields = st[st.rindex(')') + 2:].split()
            if int(fields[2]) == pgid and fields[0] != 'Z':
                members.append(f'{d} ({st[st.index("(") + 1:st.rindex(")")]})')
        except (OSError, ValueError, IndexError):
            continue
    return members


def kill_group(pgid, pid=None):
    pids = _descendants(pid) if pid else []
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def cleanup_all():
    for pgid in list(_groups):
        kill_group(pgid, pgid)
        _groups.discard(pgid)


_workdir = None  # the case's temporary directory, removed on the way out


def remove_workdir():
    if _workdir and not os.environ.get('UPRR_E2E_KEEP'):
        shutil.rmtree(_workdir, ignore_errors=True)


def _on_signal(signum, frame):
    cleanup_all()
    remove_workdir()
    log(f'e2e: interrupted by {signame(signum)}; killed the processes it started')
    os._exit(1)


class Result:
    def __init__(self, argv, status, stdout, stderr, seconds):
        self.argv, self.status = argv, status
        self.stdout, self.stderr, self.seconds = stdout, stderr, seconds

    def uprr_lines(self):
        return [line for line in self.stderr.split(b'\n') if line.startswith(b'uprr:')]

    def program_stderr(self):
        return b'\n'.join(line for line in self.stderr.split(b'\n')
                          if not line.startswith(b'uprr:'))

    def crash_lines(self):
        return [line for line in self.uprr_lines() if CRASH_RE.match(line)]

    def explain(self):
        return (f'{shlex.join(self.argv)}: {describe_status(self.status)} '
                f'in {self.seconds:.1f}s\n  stderr:\n{tail(self.stderr)}')


def start(argv, *, stdin=None, stdout=None, stderr=None, env=None, cwd=None):
    log(f'$ {shlex.join(argv)}')
    p = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                         stdout=stdout, stderr=stderr, env=env, cwd=cwd,
                         start_new_session=True)
    _groups.add(p.pid)
    return p


def finish_group(p, what):
    """After @p has exited, wait briefly for its group to empty; fail if not."""
    deadline = time.monotonic() + 10
    while _group_alive(p.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _group_members(p.pid)
    kill_group(p.pid)
    _groups.discard(p.pid)
    if left:
        raise Fail(f'{what}: processes left behind after it exited: {", ".join(left)}')


# When the case must be over (time.monotonic()); meson kills it then, so
# every command gets at most what is left, minus a margin for the report.
_deadline = None


def time_left(timeout):
    if _deadline is None:
        return timeout
    return max(1.0, min(timeout, _deadline - time.monotonic()))


def run(argv, *, timeout, what=None, stdin=None, env=None, cwd=None):
    what = what or os.path.basename(argv[0])
    timeout = time_left(timeout)
    t0 = time.monotonic()
    p = start(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              env=env, cwd=cwd)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(p.pid, p.pid)
        out, err = p.communicate()
        _groups.discard(p.pid)
        raise Fail(f'{what}: timed out after {timeout:.0f}s and was killed\n'
                   f'  stderr:\n{tail(err)}')
    r = Result(argv, p.returncode, out, err, time.monotonic() - t0)
    log(f'  -> {describe_status(r.status)} in {r.seconds:.2f}s, '
        f'{len(out)} bytes of stdout, {len(err)} bytes of stderr')
    finish_group(p, what)
    return r


# ---------------------------------------------------------------------------
# Record, replay, compare.

class Harness:
    def __init__(self, uprr, progs, craft, tmp):
        self.uprr, self.progs, self.craft, self.tmp = uprr, progs, craft, tmp
        self.ntraces = 0

    def prog(self, name):
        path = os.path.join(self.progs, name)
        if not os.access(path, os.X_OK):
            raise Fail(f'test program {path} is not built')
        return path

    def path(self, name):
        return os.path.join(self.tmp, name)

    def new_trace_path(self, name):
        self.ntraces += 1
        return self.path(f'trace-{self.ntraces}-{name}')

    def record(self, argv, *, name=None, expect_status=0, env=None, cwd=None,
               timeout=None, stdin=None, options=()):
        """Record @argv into a new trace; check that uprr did its job.

        @expect_status: the program's expected status (None: any status but
        uprr's own 125/127 and a crash of uprr itself).
        @options: more options of uprr record (--chaos, --ticks=soft)."""
        trace = self.new_trace_path(name or os.path.basename(argv[0]))
        r = run([self.uprr, 'record', '-o', trace] + list(options) + ['--'] + argv,
                timeout=timeout or RECORD_TIMEOUT,
                what='uprr record', env=env, cwd=cwd or self.tmp, stdin=stdin)
        check_record(r, trace, expect_status)
        return trace, r

    def replay(self, trace, *, quiet=False, dump_sent=None, wrap=(), timeout=None, env=None,
               stop_pid=None):
        argv = list(wrap) + [self.uprr, 'replay']
        if quiet:
            argv.append('-q')
        if stop_pid:
            argv += ['-p', str(stop_pid)]
        if dump_sent:
            argv += ['--dump-sent', dump_sent]
        argv.append(trace)
        return run(argv, timeout=timeout or REPLAY_TIMEOUT, what='uprr replay', env=env,
                   cwd=self.tmp)

    def record_replay(self, argv, *, name=None, expect_status=0, remove=(), env=None,
                      replays=1, quiet_replay=False, options=()):
        """The common case: record, remove @remove, replay @replays times and
        compare each replay with the recording. Returns (trace, recording)."""
        trace, rec = self.record(argv, name=name, expect_status=expect_status, env=env,
                                 options=options)
        for path in remove:
            remove_input(path)
        for _ in range(replays):
            compare(rec, self.replay(trace))
        if quiet_replay:
            compare(rec, self.replay(trace, quiet=True), quiet=True)
        return trace, rec


def check_not_broken(r, what):
    if r.status < 0:
        raise Fail(f'{what}: uprr itself died of {signame(-r.status)}\n  {r.explain()}')
    if r.status == UPRR_FAILURE:
        raise Fail(f'{what}: uprr failed (exit 125)\n  {r.explain()}')


def check_record(r, trace, expect_status):
    check_not_broken(r, 'record')
    if r.status == COMMAND_NOT_FOUND:
        raise Fail(f'record: exit 127 (program not found?)\n  {r.explain()}')
    if expect_status is not None and r.status != expect_status:
        raise Fail(f'record: expected the program to {describe_status(expect_status)}, '
                   f'got {describe_status(r.status)}\n  {r.explain()}\n'
                   f'  stdout:\n{tail(r.stdout)}')
    try:
        st = os.lstat(trace)
    except FileNotFoundError:
        raise Fail(f'record: no trace directory at {trace}\n  {r.explain()}')
    if not stat.S_ISDIR(st.st_mode):
        raise Fail(f'record: {trace} is not a directory')
    if stat.S_IMODE(st.st_mode) != 0o700:
        raise Fail(f'record: trace directory mode is {stat.S_IMODE(st.st_mode):o}, '
                   'expected 700 (a trace holds everything the program read)')
    check_crash_line(r, 'record')


def check_crash_line(r, what):
    """A tracee killed by signal N: exit 128+N and exactly one crash line
    naming that signal. Otherwise: no crash line."""
    crashes = r.crash_lines()
    if 128 < r.status < 128 + 65:
        want = signame(r.status - 128).encode()
        if len(crashes) != 1:
            raise Fail(f'{what}: the program died of {want.decode()} but stderr has '
                       f'{len(crashes)} lines "uprr: process killed by ..." (expected 1)\n'
                       f'  {r.explain()}')
        if CRASH_RE.match(crashes[0]).group(1) != want:
            raise Fail(f'{what}: exit {r.status} but the crash line says '
                       f'{crashes[0].decode()!r}')
    elif crashes:
        raise Fail(f'{what}: {describe_status(r.status)} but stderr says '
                   f'{crashes[0].decode()!r}')


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def diff_text(a, b, what, a_name='the recording', b_name='the replay'):
    la = a.decode('utf-8', 'replace').splitlines()
    lb = b.decode('utf-8', 'replace').splitlines()
    d = list(difflib.unified_diff(la, lb, f'{what} of {a_name}', f'{what} of {b_name}',
                                  n=2, lineterm=''))
    if len(d) > 40:
        d = d[:40] + [f'... ({len(d) - 40} more diff lines)']
    return '\n'.join('    ' + line for line in d)


def compare_bytes(expected, got, what, exp_name='the recording', got_name='the replay'):
    if expected == got:
        return
    off = first_difference(expected, got)
    msg = (f'{what} differs: {exp_name} has {len(expected)} bytes, {got_name} '
           f'{len(got)}; first difference at byte {off}')
    if b'\0' not in expected[:65536] and b'\0' not in got[:65536]:
        msg += '\n' + diff_text(expected, got, what, exp_name, got_name)
    raise Fail(msg)


def compare(rec, rep, *, quiet=False):
    """Check a replay against its recording."""
    check_not_broken(rep, 'replay')
    if rep.status != rec.status:
        raise Fail(f'replay ended with {describe_status(rep.status)}, the recording with '
                   f'{describe_status(rec.status)}\n  {rep.explain()}')
    check_crash_line(rep, 'replay')
    if rep.crash_lines() != rec.crash_lines():
        raise Fail(f'replay crash line {rep.crash_lines()} differs from the recording\'s '
                   f'{rec.crash_lines()}')
    others = [line for line in rep.uprr_lines() if not CRASH_RE.match(line)]
    if others:
        raise Fail(f'replay printed uprr messages: {[o.decode() for o in others]}\n'
                   f'  {rep.explain()}')
    if quiet:
        if rep.stdout or rep.program_stderr().strip(b'\n'):
            raise Fail(f'replay -q printed program output: {len(rep.stdout)} bytes of stdout'
                       f'\n  {rep.explain()}')
        return
    compare_bytes(rec.stdout, rep.stdout, 'stdout')
    compare_bytes(rec.program_stderr(), rep.program_stderr(), 'stderr (uprr lines aside)')


def check_uprr_error(r, what, must_mention=None):
    """A refused input: exit 125 and one line "uprr: ..." on stderr."""
    if r.status < 0 or r.status >= 128:
        raise Fail(f'{what}: uprr crashed ({describe_status(r.status)}) instead of '
                   f'refusing the input\n  {r.explain()}')
    if r.status != UPRR_FAILURE:
        raise Fail(f'{what}: expected exit 125, got {describe_status(r.status)}\n'
                   f'  {r.explain()}')
    lines = r.stderr.rstrip(b'\n').split(b'\n')
    if len(lines) != 1 or not lines[0].startswith(b'uprr: ') or not r.stderr.endswith(b'\n'):
        raise Fail(f'{what}: expected exactly one line "uprr: ..." on stderr\n  {r.explain()}')
    if must_mention and must_mention.encode() not in lines[0]:
        raise Fail(f'{what}: the message does not mention {must_mention!r}: '
                   f'{lines[0].decode()!r}')
    if b'divergence' in lines[0]:
        raise Fail(f'{what}: a bad trace was reported as a divergence: {lines[0].decode()!r}')
    log(f'  ok: {lines[0].decode()}')


def remove_input(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    log(f'  removed input {path}')


def need(program):
    path = shutil.which(program, path='/usr/bin:/bin:/usr/sbin:/sbin')
    if not path:
        raise Skip(f'{program} is not installed (scripts/setup.sh installs it)')
    return path


# ---------------------------------------------------------------------------
# Inputs, made deterministically from a seed.

WORDS_SEED = 1234


def make_text(path, size, seed):
    """Write about @size bytes of compressible text: lines of words from a
    small vocabulary mixed with numbers, all from a seeded PRNG."""
    rng = random.Random(seed)
    vocab = [''.join(rng.choices('abcdefghijklmnopqrstuvwxyz', k=rng.randint(2, 9)))
             for _ in range(3000)]
    out, n = [], 0
    while n < size:
        words = rng.choices(vocab, k=4000)
        nums = [str(rng.getrandbits(20)) for _ in range(400)]
        chunk = []
        for i in range(400):
            chunk.append(' '.join(words[i * 10:i * 10 + 10]) + ' ' + nums[i] + '\n')
        s = ''.join(chunk)
        out.append(s)
        n += len(s)
    data = ''.join(out).encode()[:size]
    data = data[:data.rindex(b'\n') + 1]
    with open(path, 'wb') as f:
        f.write(data)
    return data


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The memcached load client: one connection, batches of set/get requests with
# random keys and values, every byte received kept.

class ProtocolError(Exception):
    pass


class McConn:
    def __init__(self, port, timeout):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = bytearray()
        self.received = bytearray()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ProtocolError('connection closed by memcached')
        self.buf += data
        self.received += data

    def line(self):
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def take(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def expect_end(self):
        """Read a get or stats reply up to END; returns the values seen."""
        values = {}
        while True:
            line = self.line()
            if line == b'END':
                return values
            parts = line.split()
            if parts and parts[0] == b'VALUE' and len(parts) >= 4:
                data = self.take(int(parts[3]) + 2)
                if data[-2:] != b'\r\n':
                    raise ProtocolError(f'value of {parts[1]!r} not followed by CRLF')
                values[parts[1]] = data[:-2]
            elif parts and parts[0] == b'STAT':
                continue
            else:
                raise ProtocolError(f'unexpected reply line {line!r}')


def memcached_load(port, requests, seed=7, timeout=60):
    """Send @requests set/get requests (plus stats at both ends and quit) over
    one connection; check the replies; return every byte received."""
    rng = random.Random(seed)
    c = McConn(port, timeout)
    keys = [f'key:{i}'.encode() for i in range(300)]
    model = {}
    alphabet = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'
    c.sock.sendall(b'stats\r\n')
    c.expect_end()
    sent = 0
    while sent < requests:
        batch = min(rng.randint(1, 40), requests - sent)
        out, expect = [], []
        for _ in range(batch):
            key = rng.choice(keys)
            if rng.random() < 0.5:
                value = bytes(rng.choices(alphabet, k=rng.randint(1, 1500)))
                out.append(b'set %s %d 0 %d\r\n%s\r\n' % (key, rng.randint(0, 65535),
                                                          len(value), value))
                expect.append(('set', key, value))
            else:
                out.append(b'get %s\r\n' % key)
                expect.append(('get', key, None))
        c.sock.sendall(b''.join(out))
        for kind, key, value in expect:
            if kind == 'set':
                reply = c.line()
                if reply != b'STORED':
                    raise ProtocolError(f'set {key!r}: {reply!r}')
                model[key] = value
            else:
                got = c.expect_end().get(key)
                if got != model.get(key):
                    raise ProtocolError(f'get {key!r}: wrong value')
        sent += batch
    c.sock.sendall(b'stats\r\n')
    c.expect_end()
    c.sock.sendall(b'quit\r\n')
    while True:
        data = c.sock.recv(65536)
        if not data:
            break
        c.received += data
    c.sock.close()
    return bytes(c.received)


def find_tracee(root_pid, comm):
    for pid in _descendants(root_pid):
        try:
            with open(f'/proc/{pid}/comm') as f:
                if f.read().strip() == comm:
                    return pid
        except OSError:
            continue
    return None


# ---------------------------------------------------------------------------
# Cases. Each takes the harness; raises Fail or Skip.

CASES = {}


def case(name, slow=False):
    def deco(fn):
        CASES[name] = (fn, slow)
        return fn
    return deco


def prog_case(name):
    return case('prog-' + name)


@prog_case('threads_mutex')
def c_threads_mutex(h):
    _, rec = h.record_replay([h.prog('threads_mutex')], quiet_replay=True)
    if b'total 20000, counter 20000' not in rec.stdout:
        raise Fail('the recorded run computed a wrong total:\n' + tail(rec.stdout))


@prog_case('pipe_threads')
def c_pipe_threads(h):
    _, rec = h.record_replay([h.prog('pipe_threads')])
    if b'pipe_threads: ok' not in rec.stdout:
        raise Fail('the recorded run lost or corrupted messages:\n' + tail(rec.stdout))


@prog_case('rdtsc')
def c_rdtsc(h):
    _, rec = h.record_replay([h.prog('rdtsc')], replays=2)
    values = re.findall(rb'rdtsc (\d+) rdtscp (\d+)', rec.stdout)
    if len(values) != 10 or len({v for pair in values for v in pair}) < 2:
        raise Fail('the recorded run shows no changing counter:\n' + tail(rec.stdout))


@prog_case('time_random')
def c_time_random(h):
    t0 = time.time()
    _, rec = h.record_replay([h.prog('time_random')], replays=2)
    m = re.search(rb'^clock_gettime REALTIME (\d+)\.', rec.stdout, re.M)
    if not m or abs(int(m.group(1)) - t0) > 600:
        raise Fail('the recorded run did not see the real time:\n' + tail(rec.stdout))


@prog_case('signal_async')
def c_signal_async(h):
    _, rec = h.record_replay([h.prog('signal_async')])
    if b'signal_async: ok' not in rec.stdout:
        raise Fail('signals were not delivered right in the recording:\n' + tail(rec.stdout))


@prog_case('mmap_file')
def c_mmap_file(h):
    path = h.path('mapped-input.txt')
    data = make_text(path, 2 << 20, seed=os.urandom(8))
    _, rec = h.record_replay([h.prog('mmap_file'), path], remove=[path])
    fnv = 0xcbf29ce484222325
    # FNV-1a of 2 MB in Python takes a second; good enough for a test.
    for b in data:
        fnv = ((fnv ^ b) * 0x100000001b3) & 0xffffffffffffffff
    if f'checksum {fnv:016x}'.encode() not in rec.stdout:
        raise Fail('the recorded run read wrong bytes through the mapping:\n' +
                   tail(rec.stdout))


@prog_case('exit_code')
def c_exit_code(h):
    prog = h.prog('exit_code')
    _, rec = h.record_replay([prog, '3'], name='exit3', expect_status=3)
    if b'exit_code: a line on stderr' not in rec.stderr:
        raise Fail('record did not pass the program\'s stderr through\n  ' + rec.explain())
    h.record_replay([prog, 'raise', str(int(signal.SIGTERM))], name='sigterm',
                    expect_status=128 + signal.SIGTERM)
    h.record_replay([prog, 'raise', str(int(signal.SIGABRT))], name='sigabrt',
                    expect_status=128 + signal.SIGABRT)
    h.record_replay([prog, 'segv'], name='segv', expect_status=128 + signal.SIGSEGV)


RACY_TRIES = 50


def record_racy_until_crash(h, tries=RACY_TRIES):
    prog = h.prog('racy_crash')
    survivors = 0
    for i in range(1, tries + 1):
        trace, rec = h.record([prog], name=f'racy{i}', expect_status=None)
        if rec.status == 128 + signal.SIGSEGV:
            log(f'  crashed on try {i}: {rec.crash_lines()[0].decode()}')
            return trace, rec, survivors
        if rec.status != 0:
            raise Fail(f'racy_crash ended neither with 0 nor with SIGSEGV\n  {rec.explain()}')
        if survivors == 0:
            # Replays of the runs that survive must match too.
            compare(rec, h.replay(trace))
        survivors += 1
        shutil.rmtree(trace)
    raise Fail(f'racy_crash did not crash in {tries} recordings '
               '(natively it crashes in about a third of the runs)')


@prog_case('racy_crash')
def c_racy_crash(h):
    trace, rec, _ = record_racy_until_crash(h)
    for i in range(5):
        rep = h.replay(trace)
        compare(rec, rep)
        log(f'  replay {i + 1}: {rep.crash_lines()[0].decode()}')


# Threads that spin or compute without a syscall, and signals that land in
# such code: uprr must preempt a thread at a counted point (ticks) and deliver
# an asynchronous signal at the point where it arrived, in the recording and
# in the replay. A uprr that switches threads only at syscalls never gets out
# of a spin wait: the programs give up after about a second of spinning
# (exit 1), or the case's timeout ends it.

def expect_output(rec, line, why):
    if line not in rec.stdout:
        raise Fail(f'the recorded run {why}:\n' + tail(rec.stdout))


# Test programs that print "NAME: ok" when they saw what they should:
# name, replays, what the recording did wrong if not.
OK_PROGS = [
    ('spin_flag', 2, 'did not get through its spin waits'),
    ('spsc_queue', 1, 'lost or corrupted items'),
    ('alarm_flag', 2, 'did not see every signal'),
    # signal handlers run under the mask of the sigsuspend, ppoll, pselect
    # or epoll_pwait they interrupt; the program's own mask comes back
    ('wait_mask', 1, 'saw a wrong signal mask'),
    # SIGALRM every 50 us, faster than uprr delivers it: a rollback to a
    # handler's entry restores the mask its rt_sigreturn changed
    ('timer_flood', 2, 'did not get through its timer signals'),
    # a thread whose syscalls may block but never do gives the CPU up too
    ('read_loop', 1, 'did not end'),
    # spin waits in a child and a grandchild, which reap only their own
    # children: their restore points are no processes of the program's
    ('spin_child', 2, 'did not get through the spin waits of its child and grandchild'),
    # two threads spinning on a ring of 64 slots: a spinning thread gives
    # the CPU to the other at once (minutes with whole timeslices)
    ('ring_small', 2, 'lost or corrupted items'),
    # round trips with a child while a thread computes: a completed read
    # preempts the computing thread (tens of seconds at each timeslice's end)
    ('wake_busy', 2, 'did not get through its round trips'),
    # a FIFO's open waits in the kernel for another thread's open of the
    # other end: the others run meanwhile (hung when opens ran to their end)
    ('fifo_open', 1, 'did not get through its FIFO opens'),
    # heap and mmap memory that runs rolled back had written: restore
    # points track it without a fork, and a rollback puts its zeros back
    ('grow_compute', 2, 'computed wrong sums over memory it had just mapped'),
]


def ok_prog_case(name, replays, why):
    @prog_case(name)
    def c(h):
        _, rec = h.record_replay([h.prog(name)], replays=replays)
        expect_output(rec, f'{name}: ok\n'.encode(), why)
    return c


for _name, _replays, _why in OK_PROGS:
    ok_prog_case(_name, _replays, _why)


@prog_case('store_rollback')
def c_store_rollback(h):
    """Rollbacks over pages the restore points copied into uprr's store
    (checkpoint/store.c): the rolled-back runs find them as the runs before
    wrote them. uprr record -v says how many rollbacks there were."""
    _, rec = h.record_replay([h.prog('store_rollback')], replays=2, options=('-v',))
    expect_output(rec, b'store_rollback: ok\n', 'computed wrong sums after its rollbacks')
    m = re.search(rb'(\d+) rollbacks \((\d+) pages', rec.stderr)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise Fail('the recording rolled no run back (uprr record -v):\n' + tail(rec.stderr))


@prog_case('stack_reuse')
def c_stack_reuse(h):
    """Rollbacks over thread stacks: a new stack, then dropped at its
    thread's exit and given to the next thread (checkpoint_discard(), which
    protects the dropped pages again): the rolled-back runs find their stack
    as the runs before wrote it (uprr record -v counts the rollbacks)."""
    _, rec = h.record_replay([h.prog('stack_reuse')], replays=2, options=('-v',))
    expect_output(rec, b'stack_reuse: ok\n', 'computed wrong sums after its rollbacks')
    m = re.search(rb'(\d+) rollbacks \((\d+) pages', rec.stderr)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise Fail('the recording rolled no run back (uprr record -v):\n' + tail(rec.stderr))


def check_spinlock(rec, preempted=True):
    expect_output(rec, b'counter 80000 (expected 80000)\n', 'computed a wrong counter')
    if not preempted:
        return
    # Each thread computes for several timeslices in all: 4 handoffs (one
    # per thread) mean that each ran alone to its end, never preempted.
    m = re.search(rb', (\d+) handoffs,', rec.stdout)
    if not m or int(m.group(1)) <= 4:
        raise Fail('the recorded run shows no preemption of the spinning threads:\n' +
                   tail(rec.stdout))


@prog_case('spinlock')
def c_spinlock(h):
    _, rec = h.record_replay([h.prog('spinlock')], replays=2)
    check_spinlock(rec)


@prog_case('racy_compute')
def c_racy_compute(h):
    _, rec = h.record_replay([h.prog('racy_compute')])
    expect_output(rec, b'racy_compute: ok\n', 'did not finish')
    # Each thread computes for tens of milliseconds without a syscall, many
    # timeslices: a recording in which one thread ran all its chunks before
    # the other (one switch) was not preempted.
    m = re.search(rb'^(\d+) switches between the threads', rec.stdout, re.M)
    if not m or int(m.group(1)) < 2:
        raise Fail('the recorded run shows no preemption of the computing threads:\n' +
                   tail(rec.stdout))


@prog_case('spin_jmp')
def c_spin_jmp(h):
    """Loops closed by an unconditional jmp (`for (;;);`, a flag wait whose
    only conditional branch leaves the loop) and a recursion without loops:
    soft ticks count the jmp (a trap site) and the function entries. Without
    them the program hangs. Its output is deterministic: as natively."""
    argv = [h.prog('spin_jmp')]
    native = run(argv, timeout=60, what='spin_jmp (native)', cwd=h.tmp)
    _, rec = h.record_replay(argv, replays=2, options=['--ticks=soft'])
    expect_output(rec, b'spin_jmp: ok\n', 'did not get through its jmp loops and recursion')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


# A TRACE_EV_PATCH edit of one byte in `uprr dump`: the int3 of a trap site.
TRAP_SITE_EDIT_RE = re.compile(rb'\[(0x[0-9a-f]+)\+1\]')


@prog_case('jmp_back')
def c_jmp_back(h):
    """Two threads computing in functions whose only backward jmp follows a
    call: one to a shared epilogue (sort's comparison function), which closes
    no loop, and one that closes a loop whose head has room for a stub.
    Neither may become a trap site (an int3 that costs a ptrace stop at every
    call or turn: sort recorded in 90-400 s instead of 4 one time in 5):
    `uprr dump` shows no one-byte patch, and `uprr record -v` few ticks at
    trap sites (160,000 with them)."""
    trace, rec = h.record_replay([h.prog('jmp_back')], replays=2, options=['-v', '--ticks=soft'])
    expect_output(rec, b'jmp_back: ok\n', 'computed wrong results in its patched functions')
    d = run([h.uprr, 'dump', trace], timeout=60, what='uprr dump')
    check_not_broken(d, 'dump')
    traps = [m.group(1).decode() for line in d.stdout.splitlines() if b'\tpatch ' in line
             for m in TRAP_SITE_EDIT_RE.finditer(line)]
    if traps:
        raise Fail('trap sites (int3 on a jmp) at ' + ', '.join(traps) + ':\n' +
                   tail(b'\n'.join(l for l in d.stdout.splitlines() if b'\tpatch ' in l)))
    m = re.search(rb'(\d+) code patches .*?(\d+) ticks at trap sites', rec.stderr)
    trap_ticks = int(m.group(2)) if m else 0
    if not m:
        raise Fail('uprr record -v does not count the ticks at trap sites:\n' + tail(rec.stderr))
    if int(m.group(1)) == 0:
        raise Fail('the recording installed no counting code (uprr record -v):\n' +
                   tail(rec.stderr))
    if trap_ticks > 1000:
        raise Fail(f'{trap_ticks} ticks at trap sites, a ptrace stop each:\n' +
                   tail(rec.stderr))
    log(f'  ok: no trap site, {trap_ticks} ticks at trap sites')


# `uprr info` names the tick source in its "mode:" line: "ticks soft".
TICKS_RE = re.compile(rb'\bticks ([a-z]+)\b')


def check_tick_source(h, trace, want):
    r = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    check_not_broken(r, 'info')
    m = TICKS_RE.search(r.stdout)
    if r.status != 0 or not m:
        raise Fail('uprr info does not show the tick source ("ticks NAME")\n  ' +
                   r.explain() + '\n  stdout:\n' + tail(r.stdout))
    if m.group(1) != want.encode():
        raise Fail(f'uprr info shows "ticks {m.group(1).decode()}", expected "ticks {want}"\n'
                   + tail(r.stdout))
    log(f'  ok: uprr info shows "ticks {want}"')


@case('ticks-soft')
def c_ticks_soft(h):
    trace, rec = h.record_replay([h.prog('spin_flag')], options=['--ticks=soft'])
    expect_output(rec, b'spin_flag: ok\n', 'did not get through its spin waits')
    check_tick_source(h, trace, 'soft')


PERF_EVENT_OPEN = 298  # x86-64
PERF_TYPE_HARDWARE = 0
PERF_COUNT_HW_BRANCH_INSTRUCTIONS = 4


def probe_pmu():
    """Whether this process can count hardware branches with perf_event_open(2)
    (user space only, as perf_event_paranoid 2 allows): without that, no
    tick source can be "pmu". Returns (bool, what happened)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type, size,
    # config, sample_period, sample_type, read_format, flags (disabled,
    # exclude_kernel, exclude_hv), wakeup_events, bp_type, config1.
    flags = (1 << 0) | (1 << 5) | (1 << 6)
    attr = struct.pack('=IIQQQQQIIQ', PERF_TYPE_HARDWARE, 64,
                       PERF_COUNT_HW_BRANCH_INSTRUCTIONS, 0, 0, 0, flags, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = libc.syscall(ctypes.c_long(PERF_EVENT_OPEN), buf, ctypes.c_int(0), ctypes.c_int(-1),
                      ctypes.c_int(-1), ctypes.c_ulong(0))
    if fd < 0:
        err = ctypes.get_errno()
        return False, f'refused: {os.strerror(err)} (errno {err})'
    os.close(fd)
    return True, 'a hardware branch counter opened'


@case('ticks-pmu')
def c_ticks_pmu(h):
    """--ticks=pmu records with the performance counters if the machine has
    them; without them it is refused before the program runs: exit 125 and
    one line that says the performance counters are missing. Whichever
    happens, --ticks=auto must agree (pmu if accepted, soft if refused), and a
    machine where perf_event_open gives no hardware counter must refuse."""
    has_pmu, why = probe_pmu()
    log(f'  perf_event_open of a hardware branch counter: {why}')
    echo = need('echo')
    marker = 'uprr-e2e-the-program-ran'
    trace = h.new_trace_path('pmu')
    r = run([h.uprr, 'record', '-o', trace, '--ticks=pmu', '--', echo, marker],
            timeout=RECORD_TIMEOUT, what='uprr record --ticks=pmu', cwd=h.tmp)
    if r.status == UPRR_FAILURE:
        check_uprr_error(r, 'uprr record --ticks=pmu')
        if b'performance counter' not in r.stderr.lower():
            raise Fail('the refusal of --ticks=pmu does not mention the performance '
                       f'counters: {r.stderr.decode("utf-8", "replace").strip()!r}')
        if marker.encode() in r.stdout:
            raise Fail('uprr record --ticks=pmu ran the program before refusing')
        if has_pmu:
            log('  perf_event_open gives a hardware counter, but uprr refused pmu ticks '
                '(the retired-conditional-branch event may be missing): accepted')
        expect_auto = 'soft'
    elif r.status == 0:
        check_record(r, trace, 0)
        if not has_pmu:
            raise Fail('uprr record --ticks=pmu succeeded on a machine where '
                       f'perf_event_open gives no hardware counter ({why})')
        if r.stdout != (marker + '\n').encode():
            raise Fail(f'the program printed {r.stdout!r} under --ticks=pmu')
        compare(r, h.replay(trace))
        check_tick_source(h, trace, 'pmu')
        trace, rec = h.record_replay([h.prog('spin_flag')], options=['--ticks=pmu'])
        expect_output(rec, b'spin_flag: ok\n', 'did not get through its spin waits')
        expect_auto = 'pmu'
    else:
        raise Fail('uprr record --ticks=pmu neither recorded (exit 0) nor refused '
                   f'(exit 125)\n  {r.explain()}')
    for options in (['--ticks=auto'], []):
        trace, _ = h.record_replay([echo, marker], name='auto', options=options)
        check_tick_source(h, trace, expect_auto)


CHAOS_TRIES = 20
ORDER_BUG = b'order_violation: BUG: the worker read the configuration before main published it\n'


@case('chaos-order-violation')
def c_chaos_order_violation(h):
    """uprr record --chaos brings out a bug that native runs almost never hit
    (order_violation failed in none of 1,400 native runs on the reference
    machine); the recording of the failure replays it every time."""
    prog = h.prog('order_violation')
    for i in range(1, CHAOS_TRIES + 1):
        trace, rec = h.record([prog], name=f'chaos{i}', expect_status=None,
                              options=['--chaos'])
        if rec.status == 1:
            break
        if rec.status != 0 or not rec.stdout.endswith(b'order_violation: ok\n'):
            raise Fail('order_violation neither passed nor hit its bug\n  '
                       f'{rec.explain()}\n  stdout:\n{tail(rec.stdout)}')
        if i == 1:
            compare(rec, h.replay(trace))  # runs that pass replay too
        shutil.rmtree(trace)
    else:
        raise Fail(f'none of {CHAOS_TRIES} chaos recordings of order_violation hit the bug '
                   '(the new worker, drawn a higher priority, should run first about '
                   'half the time)')
    log(f'  the bug showed in chaos recording {i} (of at most {CHAOS_TRIES})')
    if not rec.stdout.endswith(ORDER_BUG):
        raise Fail('order_violation exited 1 without reporting the bug:\n' + tail(rec.stdout))
    for k in range(1, 6):
        compare(rec, h.replay(trace))
        log(f'  replay {k} of 5 reproduced the failure')


@case('chaos-replay')
def c_chaos_replay(h):
    _, rec = h.record_replay([h.prog('spinlock')], options=['--chaos'], replays=2)
    # chaos priorities may starve the others until one thread is done (as
    # rr's chaos mode does): a chaos run need not show preemption
    check_spinlock(rec, preempted=False)


EP_DIVERGED = 124  # uprr record --syscalls-from: the run diverged from its log
EP_SEEDS = (1, 2, 3)


def thread_order(h, trace):
    """The order in which threads made their events in @trace (`uprr dump`:
    the thread of each line, runs of one thread as one)."""
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    check_not_broken(r, 'dump')
    order = []
    for line in r.stdout.split(b'\n'):
        fields = line.split(b'\t')
        if len(fields) > 2 and (not order or order[-1] != fields[1]):
            order.append(fields[1])
    return order


def ep_record(h, log_trace, argv, seed, name):
    """An EP run of @argv: every syscall answered from @log_trace's, under
    chaos seed @seed (uprr record --syscalls-from)."""
    return h.record(argv, name=name, expect_status=None,
                    options=['--no-syscall-buffer', f'--chaos={seed}',
                             f'--syscalls-from={log_trace}'])


@case('ep-syscalls-from')
def c_ep_syscalls_from(h):
    """The EP knob of the recorder (issue 15, doc/uniparallel.md): ep_threads
    (a file, a pipe, the clock, getrandom, 3 threads taking turns under a
    mutex and a condition variable) recorded (trace A), then re-recorded
    with every syscall answered from A's, per thread, with the input file
    deleted, under 3 chaos seeds: each new trace replays, with A's output
    byte for byte (the file's bytes, the random bytes and the times are
    A's), and the seeds run the threads in orders of their own."""
    path = h.path('ep-input.txt')
    make_text(path, 5000, seed=os.urandom(8))
    prog = h.prog('ep_threads')
    trace_a, rec_a = h.record_replay([prog, path], name='ep-log',
                                     options=['--no-syscall-buffer'])
    expect_output(rec_a, b'ep_threads: 12 turns\n', 'did not finish its turns')
    remove_input(path)
    orders = {tuple(thread_order(h, trace_a))}
    for seed in EP_SEEDS:
        trace, rec = ep_record(h, trace_a, [prog, path], seed, f'ep-{seed}')
        if rec.status != 0:
            raise Fail(f'the EP run of seed {seed} did not end as the log did\n  {rec.explain()}')
        for k in range(2):
            rep = h.replay(trace)
            compare(rec_a, rep)
        log(f'  seed {seed}: the new trace replays with the log\'s output, twice')
        orders.add(tuple(thread_order(h, trace)))
    if len(orders) < 2:
        raise Fail(f'the {len(EP_SEEDS)} chaos seeds ran the threads in the log\'s order: '
                   'the test shows nothing about a schedule of the EP run\'s own')
    log(f'  {len(orders)} different thread orders among the log and its {len(EP_SEEDS)} EP runs')
    # a thread still in a read when the process exits: the log has its
    # entry and no exit; the EP run's thread waits there too, until the end
    make_text(path, 100, seed=b'stuck')
    trace_s, rec_s = h.record_replay([prog, path, 'stuck'], name='ep-stuck-log',
                                     options=['--no-syscall-buffer'])
    stuck_seen = 0
    for seed in EP_SEEDS:
        trace, rec = ep_record(h, trace_s, [prog, path, 'stuck'], seed, f'ep-stuck-{seed}')
        if rec.status != 0:
            raise Fail(f'the EP run of seed {seed} with a thread stuck in a read did not end '
                       f'as the log did\n  {rec.explain()}')
        compare(rec_s, h.replay(trace))
        r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
        lines = [line.split(b'\t') for line in r.stdout.split(b'\n') if line]
        stuck_seen += any(f[1] != lines[0][1] and f[2].startswith(b'syscall-entry 0 ')
                          for f in lines if len(f) > 2)
    if not stuck_seen:
        raise Fail('no EP run reached the stuck read before the process ended')
    log(f'  {stuck_seen} of {len(EP_SEEDS)} EP runs reached the read the log never returned from')
    # another program than the log's: refused before it runs
    other = h.new_trace_path('ep-other')
    r = run([h.uprr, 'record', '-o', other, f'--syscalls-from={trace_a}', '--',
             h.prog('time_random')], timeout=60, what='uprr record (another program)')
    check_uprr_error(r, 'an EP run of another program', 'is not the program the log ran')
    if os.path.exists(other):
        raise Fail('a refused EP run left a trace behind')


@case('ep-divergence')
def c_ep_divergence(h):
    """A race decides which thread of ep_threads makes a write: an EP run
    whose chaos schedule lets another thread win diverges from the log, and
    says so in one line (exit 124), instead of making a wrong trace; a run
    that does not diverge makes a trace that replays with the log's output."""
    path = h.path('ep-input.txt')
    make_text(path, 1000, seed=b'race')
    prog = h.prog('ep_threads')
    trace_a, rec_a = h.record_replay([prog, path, 'race'], name='ep-race-log',
                                     options=['--no-syscall-buffer'])
    diverged = 0
    for seed in range(1, 11):
        trace, rec = ep_record(h, trace_a, [prog, path, 'race'], seed, f'ep-race-{seed}')
        if rec.status == EP_DIVERGED:
            lines = rec.stderr.rstrip(b'\n').split(b'\n')
            if len(lines) != 1 or not re.match(rb'uprr: record: divergence from the log: '
                                               rb'thread \d+ \(the log\'s \d+\), syscall \w+: ',
                                               lines[0]):
                raise Fail(f'seed {seed}: a divergence without its one line\n  {rec.explain()}')
            log(f'  seed {seed}: {lines[0].decode()}')
            diverged += 1
        elif rec.status == 0:
            compare(rec_a, h.replay(trace))
            log(f'  seed {seed}: the same winner; the new trace replays with the log\'s output')
        else:
            raise Fail(f'seed {seed}: neither a divergence nor the log\'s end\n  {rec.explain()}')
    if not diverged:
        raise Fail('no chaos seed of 10 let another thread win the race')


EP_LOG_KINDS = (('up', ['--no-syscall-buffer']),
                ('tp', ['--mode=tp-log', '--no-syscall-buffer']))


def signal_events(h, trace):
    """The asynchronous signals (kind != sync) in @trace's dump."""
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    return [line for line in r.stdout.split(b'\n')
            if re.match(rb'\d+\t\d+\tsignal 0x[0-9a-f]+ 0x[1-9]', line)]




def ep_follow(h, argv, name, *, remove=(), native=True, expect_status=0):
    """Log @argv with each kind of log (a UP recording, the TP knob's
    --mode=tp-log), both without the syscall buffer; re-record it from each
    log under the chaos seeds (with @remove gone): every new trace replays
    with the log's output, and delivers as many asynchronous signals as its
    log did. Returns the number of signals of the last log."""
    if native:
        expected = native_run(argv, name, cwd=h.tmp).stdout
    nsigs = 0
    for kind, options in EP_LOG_KINDS:
        log_trace, rec = h.record(argv, name=f'{name}-{kind}-log', options=options,
                                  expect_status=expect_status)
        if native:
            compare_bytes(expected, rec.stdout, 'stdout', 'the native run', f'the {kind} log')
        nsigs = len(signal_events(h, log_trace))
        if not nsigs:
            raise Fail(f'the {kind} log of {name} took no asynchronous signal: the test '
                       'shows nothing')
        saved = []
        for path in remove:
            with open(path, 'rb') as f:
                saved.append((path, f.read()))
            remove_input(path)
        followed = 0
        for seed in EP_SEEDS:
            trace, ep = ep_record(h, log_trace, argv, seed, f'{name}-{kind}-ep-{seed}')
            if ep.status != rec.status:
                raise Fail(f'the EP run of seed {seed} from the {kind} log did not end as the '
                           f'log did\n  {ep.explain()}')
            compare(rec, h.replay(trace))
            got = len(signal_events(h, trace))
            if got != nsigs:
                raise Fail(f'the EP run of seed {seed} delivered {got} asynchronous signals, '
                           f'its {kind} log {nsigs}')
            followed += 1
        if not followed:
            raise Fail(f'no EP run followed the {kind} log of {name}')
        log(f'  {kind} log ({nsigs} signals): {followed} of {len(EP_SEEDS)} EP runs replay '
            'with its output')
        for path, data in saved:
            with open(path, 'wb') as f:
                f.write(data)
    return nsigs


@case('ep-signals')
def c_ep_signals(h):
    """The EP knob follows logs with asynchronous signals, restarted calls
    and processes (issue 15): ep_signals (SIGALRM from setitimer interrupting
    a blocking read, restarted with SA_RESTART and failing with EINTR
    without it; a child waited for, with its SIGCHLD handled), and sh
    running a pipeline (fork, exec, wait4 of real children, SIGCHLD), the
    pipeline's input deleted before the EP runs: each logged by a UP
    recording and by --mode=tp-log, re-recorded from the log, the new trace
    replays with the log's output (the native run's too). An exec'ed child
    prints its AT_RANDOM bytes: the EP run gives it the log's. A signal
    raised while blocked is delivered where rt_sigreturn unblocks it."""
    ep_follow(h, [h.prog('ep_signals')], 'ep_signals')
    # a child's exec starts from the log's image: its AT_RANDOM bytes are
    # the log's (natively they differ from run to run)
    ep_follow(h, [h.prog('ep_signals'), 'exec'], 'ep_signals-exec', native=False)
    # GNU sort's SIGPIPE handler: raise() of the signal it handles, pending
    # and blocked until the handler's rt_sigreturn lets it in (AT_UNBLOCK);
    # the process dies of it
    ep_follow(h, [h.prog('sig_unblock'), 'die'], 'sig_unblock-die', native=False,
              expect_status=None)
    # raised while blocked and caught: two pending at once, delivered at
    # one rt_sigreturn, the second at the first's handler
    ep_follow(h, [h.prog('sig_unblock'), 'catch'], 'sig_unblock-catch')
    # another thread's signal, blocked by the main thread's handler (its
    # tgkill answered from the log: the log's signal is raised in its stead)
    ep_follow(h, [h.prog('sig_unblock'), 'thread'], 'sig_unblock-thread')
    path = h.path('ep-lines.txt')
    make_text(path, 3000, seed=b'pipeline')
    sh = need('sh')
    ep_follow(h, [sh, '-c', f'sort {path} | head -5; wc -l < {path}'], 'sh-pipeline',
              remove=[path])


@case('ep-buffered')
def c_ep_buffered(h):
    """The EP knob answers the syscall buffer's records of a TP log
    (ep/syscall-log-sb.c): ep_buffered (calls that wait after the buffer's
    attempt, partial writes to a pipe, recvmsg and readv over iovecs,
    writes to a file kept as hashes), read_ref (reads of a system file kept
    by reference), ep_threads and ep_signals (signals at reads of a pipe,
    which a TP run traces), each logged by --mode=tp-log with the
    buffer, re-recorded from the log without it under the chaos seeds: the
    new trace replays with the log's output, which is the native run's."""
    from e2e_tpmode import buffered_records
    system = system_file(128 * 1024)
    if not system:
        raise Skip('no package-managed file of 128 KiB or more under /usr')
    other = h.path('ep-other.bin')
    with open(other, 'wb') as f:
        f.write(os.urandom(40000))
    text = h.path('ep-input.txt')
    make_text(text, 5000, seed=os.urandom(8))
    for name, argv in (('ep_buffered', [h.prog('ep_buffered'), h.tmp]),
                       ('read_ref', [h.prog('read_ref'), system, other]),
                       ('ep_threads', [h.prog('ep_threads'), text]),
                       ('ep_signals', [h.prog('ep_signals')])):
        native = native_run(argv, name, cwd=h.tmp)
        log_trace, rec = h.record(argv, name=f'{name}-log', options=['--mode=tp-log'])
        if name != 'ep_threads':
            compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the log')
        n = buffered_records(h, log_trace)
        # ep_signals reads a pipe and writes: in a TP run both take the
        # traced way (UPRR_CTL_ORDER_READS, UPRR_CTL_NO_WRITES), numbered
        # in the order of shared-state calls; it has no buffered call left
        if n < 2 and name != 'ep_signals':
            raise Fail(f'the log of {name} holds {n} buffered calls: the test shows nothing')
        # ep_signals: SIGALRM interrupts a read of a pipe (traced in a TP
        # run: it used to be the buffer's attempt first), SIGCHLD of a child
        nsigs = len(signal_events(h, log_trace))
        if name == 'ep_signals' and not nsigs:
            raise Fail('the log of ep_signals took no asynchronous signal: it shows nothing')
        for seed in EP_SEEDS:
            trace, ep = ep_record(h, log_trace, argv, seed, f'{name}-ep-{seed}')
            if ep.status != 0:
                raise Fail(f'the EP run of seed {seed} did not follow the log of {name}\n'
                           f'  {ep.explain()}')
            compare(rec, h.replay(trace))
            if len(signal_events(h, trace)) != nsigs:
                raise Fail(f'the EP run of seed {seed} of {name} delivered '
                           f'{len(signal_events(h, trace))} asynchronous signals, its log {nsigs}')
        log(f'  {name}: {n} buffered calls; {len(EP_SEEDS)} EP runs replay with its output')
        if name != 'read_ref':
            continue
        # its reads of the system file are kept by reference: a log whose
        # kept file changed since is refused in one line naming it (a copy
        # in the link's stead: never write the system's own file)
        link = kept_link(log_trace, system)
        if not link:
            raise Fail(f'the log should keep {system} by a hard link (reads by reference)')
        with open(link, 'rb') as f:
            data = bytearray(f.read())
        os.unlink(link)
        data[2000] ^= 0x20
        with open(link, 'wb') as f:
            f.write(data)
        r = run([h.uprr, 'record', '-o', h.new_trace_path('ep-changed'), '--no-syscall-buffer',
                 f'--syscalls-from={log_trace}', '--'] + argv, timeout=60,
                what='uprr record (a log whose kept file changed)')
        check_uprr_error(r, 'an EP run from a log whose kept file changed',
                         'changed since it was recorded')
        if system.encode() not in r.stderr:
            raise Fail(f'the refusal does not name {system}: {r.stderr.decode()!r}')
    # logs with 2 ms epochs: each thread's epoch end counts its traced exits
    # and buffered records so far (and, standing in the buffer's library,
    # the records its buffer holds then: never fewer), as the log reader
    # counts them (ep_call.logged)
    for name, argv in (('pipe_threads', [h.prog('pipe_threads')]),
                       ('ep_buffered', [h.prog('ep_buffered'), h.tmp])):
        log_trace, rec = h.record(argv, name=f'{name}-epochs-log', options=['--mode=tp-log', '--epoch=2'])
        r = run([h.uprr, 'dump', log_trace], timeout=120, what='uprr dump')
        count, same, in_place = collections.Counter(), 0, 0
        for line in r.stdout.decode(errors='replace').splitlines():
            f = line.split('\t')
            if len(f) < 3:
                continue
            ev = f[2].split()
            if ev[0] == 'syscall-exit':
                count[f[1]] += 1
            elif ev[0] == 'syscallbuf':
                count[f[1]] += int(ev[1], 16)
            elif ev[0] == 'epoch':
                n = int(ev[2], 16)
                if n < count[f[1]]:
                    raise Fail(f'{name}: an epoch end counts {n} syscalls of thread {f[1]}, '
                               f'the log holds {count[f[1]]} before it: {line}')
                same += n == count[f[1]]
                in_place += n > count[f[1]]
        if not same + in_place or not buffered_records(h, log_trace):
            raise Fail(f'the log of {name} has no epoch end or no buffered call: it shows nothing')
        for seed in EP_SEEDS[:2]:
            trace, ep = ep_record(h, log_trace, argv, seed, f'{name}-epochs-ep-{seed}')
            if ep.status != 0:
                raise Fail(f'the EP run of seed {seed} did not follow the log of {name} with '
                           f'epochs\n  {ep.explain()}')
            compare(rec, h.replay(trace))
        log(f'  {name} with epochs: {same + in_place} ends ({in_place} in the buffer\'s library); '
            '2 EP runs replay with its output')


SQLITE_SCRIPT = """\
CREATE TABLE t(id INTEGER PRIMARY KEY, r INTEGER, at TEXT, b BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
  INSERT INTO t(r, at, b) SELECT random(), datetime('now'), randomblob(8) FROM c;
CREATE INDEX t_r ON t(r);
SELECT count(*), count(DISTINCT r), min(at) <= max(at) FROM t;
SELECT id, r, hex(b) FROM t ORDER BY r LIMIT 25;
SELECT datetime('now'), strftime('%s', 'now'), julianday('now') > 2451545, random();
UPDATE t SET r = abs(random()) % 100 WHERE id % 3 = 0;
SELECT r, count(*) FROM t WHERE id % 3 = 0 GROUP BY r ORDER BY count(*) DESC, r LIMIT 10;
DELETE FROM t WHERE r < 0;
VACUUM;
SELECT count(*) FROM t;
"""


@case('sqlite3')
def c_sqlite3(h):
    sqlite3 = need('sqlite3')
    db, script = h.path('test.db'), h.path('script.sql')
    with open(script, 'w') as f:
        f.write(SQLITE_SCRIPT)
    _, rec = h.record_replay([sqlite3, '-batch', '-bail', db, '.read ' + script],
                             remove=[db, script])
    if not rec.stdout.startswith(b'3000|'):
        raise Fail('sqlite3 did not insert 3000 rows in the recording:\n' + tail(rec.stdout))
    # Replay emulates the writes: the database must not come back.
    if os.path.exists(db):
        raise Fail(f'replay created {db}: it wrote to the file system')


SQLITE_WAL_WRITERS = 2
SQLITE_WAL_ROWS = 300


@case('sqlite3-wal')
def c_sqlite3_wal(h):
    """Two sqlite3 processes write one WAL database at once: each maps the
    WAL index (db-shm) MAP_SHARED on its own and sqlite changes it with
    ftruncate and write too; in replay they must share it as they did."""
    sqlite3 = need('sqlite3')
    db = h.path('wal.db')
    inputs = [db]
    for w in range(1, SQLITE_WAL_WRITERS + 1):
        script = h.path(f'ins{w}.sql')
        with open(script, 'w') as f:
            for i in range(SQLITE_WAL_ROWS):
                f.write(f'INSERT INTO t VALUES ({w}, {i}, randomblob(50));\n')
        inputs.append(script)
    q = shlex.quote
    writers = ' '.join(f'{q(sqlite3)} -cmd ".timeout 30000" {q(db)} ".read {q(s)}" &'
                       for s in inputs[1:])
    cmd = (f'{q(sqlite3)} {q(db)} "PRAGMA journal_mode=WAL; CREATE TABLE t(w, i, b);"'
           f' >/dev/null; {writers} wait; {q(sqlite3)} {q(db)} "SELECT w, count(*), sum(i)'
           f' FROM t GROUP BY w; PRAGMA integrity_check; SELECT count(DISTINCT b) FROM t;"')
    _, rec = h.record_replay(['/bin/sh', '-c', cmd], remove=inputs)
    total = sum(range(SQLITE_WAL_ROWS))
    want = ''.join(f'{w}|{SQLITE_WAL_ROWS}|{total}\n' for w in range(1, SQLITE_WAL_WRITERS + 1))
    want += f'ok\n{SQLITE_WAL_WRITERS * SQLITE_WAL_ROWS}\n'
    expect_output(rec, want.encode(), 'lost or mangled rows')


PY_SCRIPT = """\
import os, threading, time, hashlib
shared = []
lock = threading.Lock()
def work(n):
    for i in range(150):
        t = time.time()
        r = os.urandom(4).hex()
        with lock:
            shared.append((n, i, t, r))
        if i % 10 == 0:
            time.sleep(0.001)
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
order = ''.join(str(n) for n, _, _, _ in shared)
print('items', len(shared))
print('order', order)
print('digest', hashlib.sha256(repr(shared).encode()).hexdigest())
for item in shared[::25]:
    print('%d %3d %.6f %s' % item)
print('monotonic', all(a[2] <= b[2] for a, b in zip(shared, shared[1:])))
"""


def python_script(h, name, text):
    """Write @text to script @name in the work dir; return the argv that
    runs it with Debian's python3 (isolated: no user site, no .pyc) and its path."""
    python = '/usr/bin/python3'
    if not os.access(python, os.X_OK):
        raise Skip('/usr/bin/python3 is not installed')
    script = h.path(name)
    with open(script, 'w') as f:
        f.write(text)
    return [python, '-B', '-I', script], script


@case('python3')
def c_python3(h):
    argv, script = python_script(h, 'threads.py', PY_SCRIPT)
    _, rec = h.record_replay(argv, remove=[script])
    if b'items 600\n' not in rec.stdout:
        raise Fail('the recorded run did not collect 600 items:\n' + tail(rec.stdout))


PY_TIMER_SCRIPT = r"""
import hashlib, os, signal, threading
alarms = 0
def on_alarm(sig, frame):
    global alarms
    alarms += 1
signal.signal(signal.SIGALRM, on_alarm)
r, w = os.pipe()
reader = threading.Thread(target=lambda: os.read(r, 1))
reader.start()
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
digest = b''
for i in range(20000):
    digest = hashlib.sha256(digest + str(i).encode()).digest()
signal.setitimer(signal.ITIMER_REAL, 0)
os.write(w, b'x')
reader.join()
print(digest.hex(), 'alarms', 'some' if alarms else 'none')
"""
PY_TIMER_DIGEST = b'7d6888aadd29147a6dc83f66cafb7aecb5b1a8ddd9051b5b00964626b3dd4658'


@case('python3-timer')
def c_python3_timer(h):
    # A 500 us interval timer interrupts the interpreter while a second
    # thread waits in read(2): each signal is delivered at an execution
    # point, found by the tick budget or a rollback that must restore all
    # the thread wrote but the reader's 1-byte buffer (90-270 signals at
    # execution points, 1-2 s). With 200 us, each signal's run, which takes
    # a restore point (~130 us of sync and its stops), outlasted the period:
    # 500,000 signals, 21 s to 425 s from run to run on this 2-CPU VM, near
    # the guard (README, Not yet). A hang guard of 600 s, not a time
    # asserted.
    argv, script = python_script(h, 'timer.py', PY_TIMER_SCRIPT)
    trace, rec = h.record(argv, timeout=600)
    remove_input(script)
    compare(rec, h.replay(trace))
    if not rec.stdout.startswith(PY_TIMER_DIGEST + b' alarms some'):
        raise Fail('the recorded run computed something else, or took no signal:\n' +
                   tail(rec.stdout))


@case('pigz')
def c_pigz(h):
    pigz = need('pigz')
    path = h.path('input-20M.txt')
    data = make_text(path, 20 << 20, seed=WORDS_SEED)
    _, rec = h.record_replay([pigz, '-p', '2', '-c', path], remove=[path])
    try:
        ok = gzip.decompress(rec.stdout) == data
    except (OSError, EOFError, gzip.BadGzipFile):
        ok = False
    if not ok:
        raise Fail(f'the recorded pigz output ({len(rec.stdout)} bytes) does not '
                   'decompress to the input')


@case('sort')
def c_sort(h):
    sort = need('sort')
    path = h.path('input-10M.txt')
    data = make_text(path, 10 << 20, seed=WORDS_SEED + 1)
    tmpdir = h.path('sort-tmp')
    os.mkdir(tmpdir)
    env = dict(os.environ, LC_ALL='C')
    _, rec = h.record_replay([sort, '--parallel=2', '-S', '64M', '-T', tmpdir, path],
                             remove=[path, tmpdir], env=env)
    if rec.stdout != b''.join(sorted(data.splitlines(keepends=True))):
        raise Fail('the recorded sort output is not the sorted input')


@case('od-urandom')
def c_od(h):
    need('od')
    # By name: record finds the program through PATH, as a shell would.
    _, rec = h.record_replay(['od', '-An', '-N16', '-tx1', '/dev/urandom'], replays=2)
    if not re.fullmatch(rb'( [0-9a-f]{2}){16}\n', rec.stdout):
        raise Fail(f'unexpected od output {rec.stdout!r}')


@case('date')
def c_date(h):
    date = need('date')
    t0 = time.time()
    trace, rec = h.record([date, '+%s%N'])
    if not re.fullmatch(rb'\d{19}\n', rec.stdout) or abs(int(rec.stdout) / 1e9 - t0) > 600:
        raise Fail(f'the recorded date is not the real time: {rec.stdout!r}')
    time.sleep(1.1)  # the real clock has moved on; the replay must not see it
    for _ in range(2):
        compare(rec, h.replay(trace))


def record_server(h, name, argv, port, drive, stop=None, wait=120):
    """Record server @argv under uprr until it listens on 127.0.0.1:@port,
    run drive(port) against it from outside the recording, then stop(p) (None:
    drive itself makes the server end) and wait for uprr to end. Returns the
    recording's Result, the trace path and what drive returned."""
    trace = h.new_trace_path(name)
    out_path, err_path = h.path(name + '.out'), h.path(name + '.err')
    t0 = time.monotonic()
    with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
        p = start([h.uprr, 'record', '-o', trace, '--'] + argv, stdout=out, stderr=err,
                  cwd=h.tmp)
    try:
        deadline = time.monotonic() + time_left(120)
        while not port_open(port):
            if p.poll() is not None:
                raise Fail(f'uprr record of {name} ended ({describe_status(p.returncode)}) '
                           f'before it listened\n  stderr:\n{tail(read(err_path))}')
            if time.monotonic() > deadline:
                raise Fail(f'{name} did not listen in time under uprr record\n'
                           f'  stderr:\n{tail(read(err_path))}')
            time.sleep(0.1)
        log(f'  {name} listens on 127.0.0.1:{port} after {time.monotonic() - t0:.1f}s')
        try:
            data = drive(port)
        except (OSError, ProtocolError) as e:
            raise Fail(f'the client failed against the recorded {name}: {e}\n'
                       f'  stderr:\n{tail(read(err_path))}')
        if stop:
            stop(p)
        try:
            p.wait(timeout=time_left(wait))
        except subprocess.TimeoutExpired:
            raise Fail(f'uprr record did not end in time after {name} was told to stop\n'
                       f'  stderr:\n{tail(read(err_path))}')
    finally:
        if p.poll() is None:
            kill_group(p.pid, p.pid)
            p.wait()
    rec = Result(p.args, p.returncode, read(out_path), read(err_path), time.monotonic() - t0)
    log(f'  -> record {describe_status(rec.status)}')
    finish_group(p, 'uprr record')
    return rec, trace, data


def replay_offline(h, trace, port, dump_sent=None):
    """Replay a server's trace with its port taken by someone else and, where
    possible, in a network namespace of its own: the replay must not touch
    the network."""
    wrap = []
    if subprocess.run(['unshare', '-n', 'true'], stderr=subprocess.DEVNULL).returncode == 0:
        wrap = ['unshare', '-n']
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        # SO_REUSEADDR: the server's side of a connection may be in
        # TIME_WAIT; listening makes a real bind by the replay fail.
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(('127.0.0.1', port))
        blocker.listen(1)
        return h.replay(trace, dump_sent=dump_sent, wrap=wrap)


@case('memcached')
def c_memcached(h, requests=10000, stop_via_uprr=False):
    memcached = need('memcached')
    port = free_port()
    argv = [memcached, '-t', '2', '-l', '127.0.0.1', '-p', str(port), '-U', '0',
            '-c', '64', '-m', '64']
    if os.geteuid() == 0:
        argv += ['-u', 'root']  # memcached refuses to run as root without -u

    def drive(port):
        t1 = time.monotonic()
        received = memcached_load(port, requests)
        log(f'  client: {requests} requests, {len(received)} bytes received in '
            f'{time.monotonic() - t1:.1f}s')
        return received

    def stop(p):
        pid = p.pid if stop_via_uprr else find_tracee(p.pid, 'memcached')
        if pid is None:
            raise Fail('cannot find the memcached process under uprr record')
        # uprr record forwards SIGTERM to the program
        os.kill(pid, signal.SIGTERM)

    rec, trace, received = record_server(h, 'memcached', argv, port, drive, stop)
    check_record(rec, trace, 0)  # memcached exits 0 on SIGTERM
    if port_open(port):
        raise Fail(f'port {port} still open after memcached ended')
    sent = h.path('sent.bin')
    rep = replay_offline(h, trace, port, dump_sent=sent)
    compare(rec, rep)
    if not os.path.exists(sent):
        raise Fail('uprr replay --dump-sent did not write the file')
    compare_bytes(received, read(sent), 'bytes memcached sent', 'the client received',
                  'the replay sent')
    log(f'  replay reproduced all {len(received)} bytes the client received')


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  client_body_temp_path {dir}/tmp;
  proxy_temp_path {dir}/tmp;
  fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp;
  scgi_temp_path {dir}/tmp;
  server {{ listen 127.0.0.1:{port}; root {dir}/html; }}
}}
"""


def http_get(port, path):
    """The raw bytes of the answer to GET @path (headers and body)."""
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        s.sendall(f'GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'.encode())
        out = bytearray()
        while chunk := s.recv(65536):
            out += chunk
    return bytes(out)


@case('nginx-dump-sent')
def c_nginx_dump_sent(h):
    """nginx (one process) answers with writev (headers, a 404 page) and
    sendfile (a 1 MB file, removed before the replay): `uprr replay
    --dump-sent`, with no network, holds every byte the client received."""
    nginx = need('nginx')
    port = free_port()
    top = h.path('nginx')
    os.makedirs(os.path.join(top, 'html'))
    os.makedirs(os.path.join(top, 'tmp'))
    with open(os.path.join(top, 'nginx.conf'), 'w') as f:
        f.write(NGINX_CONF.format(dir=top, port=port))
    with open(os.path.join(top, 'html', 'index.html'), 'w') as f:
        f.write('<p>hello from nginx</p>\n')
    make_text(os.path.join(top, 'html', 'big.txt'), 1 << 20, seed=b'nginx')

    def drive(port):
        got = b''
        for path in ('/', '/big.txt', '/missing', '/big.txt'):
            answer = http_get(port, path)
            status = answer.split(b'\r\n', 1)[0].decode()
            log(f'  GET {path}: {len(answer)} bytes, {status}')
            got += answer
        return got

    def stop(p):
        pid = find_tracee(p.pid, 'nginx')
        if pid is None:
            raise Fail('cannot find the nginx process under uprr record')
        os.kill(pid, signal.SIGQUIT)  # graceful shutdown

    rec, trace, received = record_server(h, 'nginx', [nginx, '-p', top, '-c',
                                                      os.path.join(top, 'nginx.conf')],
                                         port, drive, stop)
    check_record(rec, trace, 0)
    if received.count(b'HTTP/1.1 200 OK') != 3 or b'HTTP/1.1 404' not in received:
        raise Fail('nginx answered wrongly under uprr record:\n' + tail(received[:2000]))
    remove_input(top)
    sent = h.path('sent.bin')
    compare(rec, replay_offline(h, trace, port, dump_sent=sent))
    compare_bytes(received, read(sent), 'bytes nginx sent', 'the client received',
                  'the replay sent')
    log(f'  replay reproduced all {len(received)} bytes the client received')


def read(path):
    with open(path, 'rb') as f:
        return f.read()


# ---------------------------------------------------------------------------
# Process trees: fork, vfork and exec in any thread. Every process of the
# tree is recorded; the replay must print what all of them printed.

SH_PIPELINE = 'seq 1 200000 | sort -r | head -5; echo $$'


def record_sh_pipeline(h, replay=True):
    """sh forks seq, sort and head (each execs) and waits for them; the
    last line is the shell's own pid. Returns (trace, recording, argv)."""
    sh = need('sh')
    argv = [sh, '-c', SH_PIPELINE]
    env = dict(os.environ, LC_ALL='C')
    if replay:
        trace, rec = h.record_replay(argv, name='sh-pipeline', env=env)
    else:
        trace, rec = h.record(argv, name='sh-pipeline', env=env)
    lines = rec.stdout.decode('utf-8', 'replace').split('\n')
    if lines[:5] != ['99999', '99998', '99997', '99996', '99995'] or \
            len(lines) != 7 or not lines[5].isdigit() or lines[6] != '':
        raise Fail('the recorded pipeline printed the wrong lines:\n' + tail(rec.stdout))
    return trace, rec, argv


@case('sh-pipeline')
def c_sh_pipeline(h):
    record_sh_pipeline(h)


MAKE_FILES = {
    'calc.h': """\
long alpha(long n);
long beta(long n);
long gamma_sum(long n);
""",
    'alpha.c': """\
#include "calc.h"
long alpha(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i; return s; }
""",
    'beta.c': """\
#include "calc.h"
long beta(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i * i; return s; }
""",
    'gamma.c': """\
#include "calc.h"
long gamma_sum(long n) { long s = 0; for (long i = 1; i <= n; i++) s += i % 7; return s; }
""",
    'main.c': """\
#include <stdio.h>
#include "calc.h"
int main(void)
{
\tprintf("demo: alpha %ld beta %ld gamma %ld\\n", alpha(1000), beta(1000), gamma_sum(1000));
\treturn 0;
}
""",
    'Makefile': """\
CC = gcc
CFLAGS = -O1 -Wall
OBJS = main.o alpha.o beta.o gamma.o

all: demo
\t./demo

demo: $(OBJS)
\t$(CC) -o $@ $(OBJS)

%.o: %.c calc.h
\t$(CC) $(CFLAGS) -c -o $@ $<

.PHONY: all
""",
}
MAKE_DEMO_LINE = 'demo: alpha %d beta %d gamma %d' % (
    sum(range(1, 1001)), sum(i * i for i in range(1, 1001)), sum(i % 7 for i in range(1, 1001)))



def make_project(proj):
    """MAKE_FILES written into a new directory @proj."""
    os.mkdir(proj)
    for name, text in MAKE_FILES.items():
        with open(os.path.join(proj, name), 'w') as f:
            f.write(text)


def make_env(cctmp):
    """The environment of a recorded make: no jobserver or flags of an outer
    make, LC_ALL=C, gcc's temporary files in the new directory @cctmp
    (removed with the project before the replay)."""
    os.mkdir(cctmp)
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKE_TERMOUT', 'MAKE_TERMERR')}
    env.update(LC_ALL='C', TMPDIR=cctmp)
    return env


@case('make-j2')
def c_make_j2(h):
    """make -j2 runs two gcc at a time; each gcc vforks cc1 and as, the
    link runs collect2 and ld: a tree of a few dozen processes."""
    make = need('make')
    need('gcc')
    proj, cctmp = h.path('project'), h.path('cc-tmp')
    make_project(proj)
    env = make_env(cctmp)
    _, rec = h.record_replay([make, '-j2', '-C', proj], name='make', env=env,
                             remove=[proj, cctmp])
    lines = rec.stdout.decode('utf-8', 'replace').split('\n')
    want = [f'gcc -O1 -Wall -c -o {u}.o {u}.c' for u in ('main', 'alpha', 'beta', 'gamma')]
    want += ['gcc -o demo main.o alpha.o beta.o gamma.o', './demo', MAKE_DEMO_LINE]
    missing = [w for w in want if w not in lines]
    if missing:
        raise Fail(f'the recorded make output lacks {missing}:\n' + tail(rec.stdout, 30))
    if lines.index('./demo') < lines.index('gcc -o demo main.o alpha.o beta.o gamma.o'):
        raise Fail('make ran ./demo before linking it:\n' + tail(rec.stdout, 30))


MP_SCRIPT = """\
import hashlib, multiprocessing, os

def work(x):
    return x, x * x + 1, hashlib.sha256(str(x).encode()).hexdigest()[:8], os.getpid()

if __name__ == '__main__':
    print('parent pid', os.getpid(), flush=True)
    pool = multiprocessing.get_context('fork').Pool(2)
    results = pool.map(work, range(1000), chunksize=10)
    pool.close()
    pool.join()
    values = [r[:3] for r in results]
    print('results', len(values))
    print('digest', hashlib.sha256(repr(values).encode()).hexdigest())
    for v in values[::100]:
        print(*v)
    pids = sorted({r[3] for r in results})
    print('worker pids', *pids)
    print('workers', len(pids))
"""


@case('python-multiprocessing')
def c_python_multiprocessing(h):
    """A Pool(2) forks two workers from a parent that then starts threads
    of its own; tasks and results go through pipes, under a semaphore in
    shared memory."""
    argv, script = python_script(h, 'pool.py', MP_SCRIPT)
    _, rec = h.record_replay(argv, name='multiprocessing',
                             remove=[script])
    values = [(x, x * x + 1, hashlib.sha256(str(x).encode()).hexdigest()[:8])
              for x in range(1000)]
    digest = hashlib.sha256(repr(values).encode()).hexdigest()
    out = rec.stdout.decode('utf-8', 'replace')
    for line in ('results 1000', 'digest ' + digest, '500 250001 ' + values[500][2]):
        if f'\n{line}\n' not in out:
            raise Fail(f'the recorded run did not print {line!r}:\n' + tail(rec.stdout))
    parent = re.search(r'^parent pid (\d+)$', out, re.M)
    pids = re.search(r'^worker pids ((?:\d+ ?)+)$', out, re.M)
    count = re.search(r'^workers (\d+)$', out, re.M)
    if not (parent and pids and count):
        raise Fail('the recorded run did not print its pids:\n' + tail(rec.stdout))
    pids = pids.group(1).split()
    if not 1 <= len(pids) <= 2 or int(count.group(1)) != len(pids) or parent.group(1) in pids:
        raise Fail(f'the recorded run shows wrong worker pids {pids} (parent '
                   f'{parent.group(1)}):\n' + tail(rec.stdout))
    log(f'  parent {parent.group(1)}, workers {" ".join(pids)}')


@prog_case('fork_thread')
def c_fork_thread(h):
    _, rec = h.record_replay([h.prog('fork_thread')])
    check_fork_thread(rec)


def check_fork_thread(rec):
    """What fork_thread printed about itself: (parent pid, child pid)."""
    out = rec.stdout.decode('utf-8', 'replace')
    expect_output(rec, b'fork_thread: ok\n', 'did not fork, reap or count right')
    expect_output(rec, b'\nchild sum of squares below 100000: %d\n'
                  % sum(i * i for i in range(100000)), 'computed a wrong sum in the child')
    parent = re.search(r'^parent pid (\d+)$', out, re.M)
    child = re.search(r'^child pid (\d+) ppid (\d+)$', out, re.M)
    reaped = re.search(r'^thread 1: child (\d+) exited with status 42$', out, re.M)
    forked = re.search(r'^thread 1 forks at counter (\d+)$', out, re.M)
    seen = re.search(r'^child sees counter (\d+)$', out, re.M)
    if not (parent and child and reaped and forked and seen):
        raise Fail('the recorded run lacks lines about the fork:\n' + tail(rec.stdout))
    if child.group(2) != parent.group(1) or reaped.group(1) != child.group(1):
        raise Fail('the recorded child\'s pids do not match the parent\'s:\n' +
                   tail(rec.stdout))
    # The child's copy of memory is taken at the fork, after the forker read
    # the counter: it cannot have fewer increments.
    if int(seen.group(1)) < int(forked.group(1)):
        raise Fail('the child saw a counter older than the one before the fork:\n' +
                   tail(rec.stdout))
    return parent.group(1), child.group(1)


@prog_case('shared_file')
def c_shared_file(h):
    """Two processes map one file MAP_SHARED on their own while it changes
    through pwrite and ftruncate: in replay they share one file too."""
    path = h.path('shared-file.dat')
    _, rec = h.record_replay([h.prog('shared_file'), path])
    expect_output(rec, b'shared_file: ok\n', 'did not see one shared file')


@prog_case('exec_thread')
def c_exec_thread(h):
    _, rec = h.record_replay([h.prog('exec_thread')], expect_status=3)
    check_exec_thread(rec)


def check_exec_thread(rec):
    """What exec_thread printed about itself: its pid."""
    out = rec.stdout.decode('utf-8', 'replace')
    before = re.search(r'^before exec pid (\d+)$', out, re.M)
    execer = re.search(r'^thread tid (\d+) of pid (\d+) calls execv$', out, re.M)
    after = re.search(r'^after exec pid (\d+) tid (\d+)$', out, re.M)
    if not (before and execer and after):
        raise Fail('the recorded run lacks lines about the exec:\n' + tail(rec.stdout))
    pid = before.group(1)
    if execer.group(2) != pid or execer.group(1) == pid:
        raise Fail('the exec\'ing thread is not a second thread of the process:\n' +
                   tail(rec.stdout))
    # de_thread(): the exec'ing thread takes over the leader's pid.
    if after.group(1) != pid or after.group(2) != pid:
        raise Fail('after the exec, pid and tid should both be the pid from before:\n' +
                   tail(rec.stdout))
    return pid


# The pre-forking server's client: THREADS threads at once, each CONNS
# connections one after the other, each PER_CONN requests waiting for each
# reply; then one connection says "quit".
PREFORK_THREADS, PREFORK_CONNS, PREFORK_PER_CONN = 2, 5, 20
PREFORK_REQUESTS = PREFORK_THREADS * PREFORK_CONNS * PREFORK_PER_CONN


def prefork_load(port, timeout=60):
    """Returns the replies as (request, counter, pid); raises ProtocolError
    or OSError."""
    replies, errors = [], []

    def client(t):
        try:
            for c in range(PREFORK_CONNS):
                with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
                    f = s.makefile('rwb')
                    for i in range(PREFORK_PER_CONN):
                        req = f'req-{t}-{c}-{i}'
                        f.write(req.encode() + b'\n')
                        f.flush()
                        line = f.readline().decode('ascii', 'replace')
                        parts = line.split()
                        if not line.endswith('\n') or len(parts) != 3 or parts[0] != req \
                                or not parts[1].isdigit() or not parts[2].isdigit():
                            raise ProtocolError(f'request {req}: reply {line!r}')
                        replies.append((req, int(parts[1]), parts[2]))
                    f.close()
        except (OSError, ProtocolError) as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(PREFORK_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(b'quit\n')
        bye = s.makefile('rb').readline()
    if bye != b'bye\n':
        raise ProtocolError(f'quit: reply {bye!r}')
    return replies


def check_prefork_output(rec, replies):
    out = rec.stdout.decode('utf-8', 'replace')
    parent = re.search(r'^parent pid (\d+)$', out, re.M)
    started = re.findall(r'^worker pid (\d+) ppid (\d+)$', out, re.M)
    reaped = re.findall(r'^worker (\d) pid (\d+): (\d+) requests, exit (\d+)$', out, re.M)
    counter = re.search(r'^counter (\d+), (\d+) requests, (\d+) lost updates$', out, re.M)
    if not (parent and counter) or len(started) != 2 or len(reaped) != 2 or \
            not out.endswith('prefork_server: ok\n'):
        raise Fail('the recorded server did not print the expected lines:\n' + tail(rec.stdout))
    if any(ppid != parent.group(1) for _, ppid in started):
        raise Fail('a worker names another parent than the server:\n' + tail(rec.stdout))
    workers = {pid: int(n) for _, pid, n, _ in reaped}
    if set(workers) != {pid for pid, _ in started} or [w for w, _, _, _ in reaped] != ['0', '1']:
        raise Fail('the workers the parent reaped are not the ones that started:\n' +
                   tail(rec.stdout))
    seen = {}
    for _, _, pid in replies:
        seen[pid] = seen.get(pid, 0) + 1
    if any(seen.get(pid, 0) != n for pid, n in workers.items()) or set(seen) - set(workers):
        raise Fail(f'the client got replies from {seen}, the server counts {workers}')
    value, total, lost = (int(g) for g in counter.groups())
    if total != PREFORK_REQUESTS or lost != total - value or not 0 < value <= total or \
            max(r[1] for r in replies) > total:
        raise Fail(f'the server counted wrong for {PREFORK_REQUESTS} requests:\n' +
                   tail(rec.stdout))
    log(f'  workers {workers}, counter {value}, {lost} updates lost to the race')


@case('prefork-server')
def c_prefork_server(h):
    """A parent and two forked workers accepting on one socket, sharing a
    counter in a MAP_SHARED page without a lock; driven by a client outside
    the recording, then stopped by a "quit" request."""
    port = free_port()

    def drive(port):
        replies = prefork_load(port)
        log(f'  client: {len(replies)} replies, then quit')
        return replies

    rec, trace, replies = record_server(h, 'prefork_server',
                                        [h.prog('prefork_server'), str(port)], port, drive,
                                        wait=90)
    check_record(rec, trace, 0)
    check_prefork_output(rec, replies)
    if port_open(port):
        raise Fail(f'port {port} still open after prefork_server ended')
    compare(rec, replay_offline(h, trace, port))


PS_HEADER = 'PID\tPPID\tEXIT\tCMD'


def uprr_ps(h, trace):
    """Runs uprr ps; returns its rows as (pid, ppid, exit, cmd) strings."""
    r = run([h.uprr, 'ps', trace], timeout=60, what='uprr ps')
    check_not_broken(r, 'ps')
    if r.status != 0 or r.uprr_lines():
        raise Fail('uprr ps failed\n  ' + r.explain())
    text = r.stdout.decode('utf-8', 'replace')
    lines = text.split('\n')
    if not text.endswith('\n') or lines[0] != PS_HEADER:
        raise Fail(f'uprr ps does not start with the header {PS_HEADER!r} or does not end '
                   'with a newline:\n' + tail(r.stdout))
    rows = [tuple(line.split('\t', 3)) for line in lines[1:-1]]
    if any(len(row) != 4 for row in rows):
        raise Fail('uprr ps printed a line without 4 tab-separated columns:\n' + tail(r.stdout))
    log(tail(r.stdout))
    return rows


def check_ps(rows, want, what):
    """@want: one (pid, ppid, exit, cmd) per process; a field may be a tuple
    of the values accepted."""
    def ok(row, w):
        return all(f in e if isinstance(e, tuple) else f == e for f, e in zip(row, w))
    if len(rows) != len(want) or not all(ok(r, w) for r, w in zip(rows, want)):
        raise Fail(f'uprr ps of the {what} trace shows\n    {rows}\n  the programs printed '
                   f'about themselves\n    {want}')


def run_to_files(h, argv, name, timeout):
    """Run @argv with stdout and stderr regular files of the case (not
    pipes: splice, tee, sendfile and copy_file_range behave otherwise)."""
    out_path, err_path = h.path(name + '.out'), h.path(name + '.err')
    t0 = time.monotonic()
    with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
        p = start(argv, stdout=out, stderr=err, cwd=h.tmp)
        try:
            p.wait(timeout=time_left(timeout))
        except subprocess.TimeoutExpired:
            kill_group(p.pid, p.pid)
            p.wait()
            raise Fail(f'{name}: timed out and was killed')
    finish_group(p, name)
    r = Result(argv, p.returncode, read(out_path), read(err_path), time.monotonic() - t0)
    log(f'  -> {name}: {describe_status(r.status)}, {len(r.stdout)} bytes of stdout (a file)')
    return r


def run_on_pty(h, argv, name, timeout):
    """Run @argv with stdout and stderr one terminal (a pty: one open file,
    as a shell gives them); returns what the terminal showed as stdout."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    try:
        p = start(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=h.tmp)
    finally:
        os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + time_left(timeout)
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                kill_group(p.pid, p.pid)
                raise Fail(f'{name}: timed out on a terminal')
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            out += chunk
        p.wait(timeout=time_left(30))
    finally:
        os.close(master)
    finish_group(p, name)
    r = Result(argv, p.returncode, bytes(out), b'', time.monotonic() - t0)
    log(f'  -> {name}: {describe_status(r.status)}, {len(out)} bytes on the terminal')
    return r


SEED_RE = re.compile(rb'seed ([0-9a-f]{8})')


def unseeded(out):
    """@out with the seed its first line names replaced by a constant."""
    m = SEED_RE.search(out)
    return out.replace(m.group(1), b'SEED') if m else out


@case('dup-output')
def c_dup_output(h):
    """Output through dup, dup2, dup3, F_DUPFD, an inherited fd, writev,
    /dev/stdout, sendfile from a removed file, splice, tee and
    copy_file_range reaches the replay's stdout and stderr, in the recorded
    order, with stdout a pipe and a regular file; the recording's output is
    the native run's (seed aside). A splice whose bytes came after its
    entry: replayed from a file as stdout, said to be missing with a pipe."""
    prog = h.prog('dup_output')
    for kind in ('pipe', 'file'):
        log(f'  stdout a {kind}')
        tmp = h.path('inputs-' + kind)
        os.mkdir(tmp)
        if kind == 'pipe':
            native = run([prog, tmp], timeout=60, what='dup_output (native)')
            trace, rec = h.record([prog, tmp], name='dup-output-pipe')
            remove_input(tmp)
            rep = h.replay(trace)
        else:
            native = run_to_files(h, [prog, tmp], 'native', 60)
            trace = h.new_trace_path('dup-output-file')
            rec = run_to_files(h, [h.uprr, 'record', '-o', trace, '--', prog, tmp], 'record',
                               RECORD_TIMEOUT)
            check_record(rec, trace, 0)
            remove_input(tmp)
            rep = run_to_files(h, [h.uprr, 'replay', trace], 'replay', REPLAY_TIMEOUT)
        if b'dup_output: done' not in rec.stdout or len(rec.stdout) < 1200000:
            raise Fail(f'the recorded run lost output ({len(rec.stdout)} bytes):\n'
                       + tail(rec.stdout))
        compare(rec, rep)
        compare_bytes(unseeded(native.stdout), unseeded(rec.stdout), 'stdout', 'the native run',
                      'the recording')
        compare_bytes(unseeded(native.stderr), unseeded(rec.program_stderr()), 'stderr',
                      'the native run', 'the recording')
    # A terminal as both stdout and stderr (one open file): what it shows
    # replays in the same order, as natively.
    log('  stdout and stderr a terminal')
    tmp = h.path('inputs-tty')
    os.mkdir(tmp)
    native = run_on_pty(h, [prog, tmp], 'native-tty', 60)
    trace = h.new_trace_path('dup-output-tty')
    rec = run_on_pty(h, [h.uprr, 'record', '-o', trace, '--', prog, tmp], 'record-tty',
                     RECORD_TIMEOUT)
    if rec.status != 0 or b'dup_output: done' not in rec.stdout or b'uprr:' in rec.stdout:
        raise Fail('the recording on a terminal went wrong:\n' + tail(rec.stdout))
    remove_input(tmp)
    rep = run_on_pty(h, [h.uprr, 'replay', trace], 'replay-tty', REPLAY_TIMEOUT)
    if rep.status != 0:
        raise Fail(f'the replay on a terminal ended with {describe_status(rep.status)}:\n'
                   + tail(rep.stdout))
    compare_bytes(rec.stdout, rep.stdout, 'the terminal', 'the recording', 'the replay')
    compare_bytes(unseeded(native.stdout), unseeded(rec.stdout), 'the terminal',
                  'the native run', 'the recording')
    # A splice from a pipe that is empty until a child writes: a file as
    # stdout holds what it moved; with a pipe as stdout the bytes are gone
    # before the recorder can look, and both record and replay say so.
    trace = h.new_trace_path('dup-output-wait-file')
    rec = run_to_files(h, [h.uprr, 'record', '-o', trace, '--', prog, h.tmp, 'wait'],
                       'record-wait', RECORD_TIMEOUT)
    check_record(rec, trace, 0)
    if b'spliced after a wait' not in rec.stdout or rec.uprr_lines():
        raise Fail('the recording of a waiting splice went wrong\n  ' + rec.explain())
    compare(rec, run_to_files(h, [h.uprr, 'replay', trace], 'replay-wait', REPLAY_TIMEOUT))
    trace, rec = h.record([prog, h.tmp, 'wait'], name='dup-output-wait-pipe')
    rep = h.replay(trace)
    if rep.status != 0 or b'spliced after a wait' in rep.stdout or \
            [line for line in rep.uprr_lines() if b'not in the trace' in line] == []:
        raise Fail('the replay of a splice the recorder could not capture does not say so\n  '
                   + rep.explain())


@case('output-devnull')
def c_output_devnull(h):
    """Recorded with stdout /dev/null, a program's own `> /dev/null` is not
    uprr's output: a replay to a pipe shows only what went to the stdout it
    was given."""
    sh = need('sh')
    trace = h.new_trace_path('devnull')
    with open(os.devnull, 'wb') as null:
        p = start([h.uprr, 'record', '-o', trace, '--', sh, '-c',
                   'echo shown; echo hidden > /dev/null; echo shown too >&2'],
                  stdout=null, stderr=subprocess.PIPE, cwd=h.tmp)
        _, err = p.communicate(timeout=time_left(RECORD_TIMEOUT))
    finish_group(p, 'uprr record')
    check_record(Result(p.args, p.returncode, b'', err, 0), trace, 0)
    rep = h.replay(trace)
    check_not_broken(rep, 'replay')
    if rep.stdout != b'shown\n' or rep.program_stderr().strip(b'\n') != b'shown too':
        raise Fail('the replay of a recording with stdout /dev/null shows\n  ' + rep.explain())


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


@case('dump-sent-kinds')
def c_dump_sent_kinds(h):
    """`uprr replay --dump-sent` holds every byte sent on a socket, whatever
    the syscall: write, writev, a dup, send, sendto, sendmsg, sendmmsg,
    sendfile from a removed file, splice."""
    tmp = h.path('inputs')
    os.mkdir(tmp)
    trace, rec = h.record([h.prog('send_kinds'), tmp])
    remove_input(tmp)
    sent = h.path('sent.bin')
    compare(rec, h.replay(trace, dump_sent=sent))
    m = re.search(rb'parent sent (\d+) bytes, fnv ([0-9a-f]{16})', rec.stdout)
    if not m or b'child received ' + m.group(1) + b' bytes, fnv ' + m.group(2) not in rec.stdout:
        raise Fail('the recorded run lost bytes:\n' + tail(rec.stdout))
    data = read(sent)
    if len(data) != int(m.group(1)) or fnv1a64(data) != int(m.group(2), 16):
        raise Fail(f'--dump-sent holds {len(data)} bytes, fnv {fnv1a64(data):016x}; the '
                   f'program sent {m.group(1).decode()}, fnv {m.group(2).decode()}')
    log(f'  --dump-sent holds the {len(data)} bytes the program sent')


@case('ps-control-chars')
def c_ps_control_chars(h):
    """uprr ps prints one line per process when an argument holds a newline,
    a tab or another control character: escaped as \\n, \\t, \\xHH."""
    sh = need('sh')
    arg = 'two\nlines\tand a \\ and \x01'
    trace, _ = h.record_replay([sh, '-c', ':', arg], name='ps-ctl')
    rows = uprr_ps(h, trace)
    want = sh + ' -c : ' + 'two\\nlines\\tand a \\\\ and \\x01'
    if len(rows) != 1 or rows[0][3] != want:
        raise Fail(f'uprr ps shows {rows}, expected one row with {want!r}')


@case('ps')
def c_ps(h):
    """uprr ps lists the recorded processes in creation order: pid, parent's
    pid, exit status, command line. Each is checked against what the
    programs printed about themselves."""
    prog = h.prog('fork_thread')
    trace, rec = h.record([prog])
    parent, child = check_fork_thread(rec)
    # The child forked without exec: it shows the command line it inherited.
    check_ps(uprr_ps(h, trace), [(parent, '--', '0', prog), (child, parent, '42', prog)],
             'fork_thread')

    prog = h.prog('exec_thread')
    trace, rec = h.record([prog], expect_status=3)
    pid = check_exec_thread(rec)
    # One process: the exec does not make a new one. Its command line: the
    # one of the first exec (rr's choice) or of the last.
    check_ps(uprr_ps(h, trace), [(pid, '--', '3', (prog, prog + ' --after'))], 'exec_thread')

    trace, rec, argv = record_sh_pipeline(h, replay=False)
    shell = rec.stdout.split(b'\n')[5].decode()
    rows = uprr_ps(h, trace)
    # seq ends after sort read everything; sort may die of SIGPIPE once
    # head has printed its 5 lines and exited.
    check_ps(rows, [(shell, '--', '0', ' '.join(argv)),
                    (rows[1][0] if len(rows) > 1 else '', shell, '0', 'seq 1 200000'),
                    (rows[2][0] if len(rows) > 2 else '', shell, ('0', '-13'), 'sort -r'),
                    (rows[3][0] if len(rows) > 3 else '', shell, '0', 'head -5')],
             'sh pipeline')
    if len({r[0] for r in rows}) != 4:
        raise Fail(f'uprr ps shows a pid twice: {rows}')


@case('replay-p')
def c_replay_p(h):
    """uprr replay -p PID stops where process PID execs, or where it is
    forked if it never does; what the tree printed until then is replayed,
    nothing after."""
    def stop_at(trace, rec, pid, what, before):
        r = h.replay(trace, stop_pid=pid)
        check_not_broken(r, f'replay -p {pid}')
        if r.status != 0:
            raise Fail(f'replay -p {pid}: exit {describe_status(r.status)}\n  {r.explain()}')
        want = f'uprr: replay: stopped at event '.encode()
        lines = r.stderr.rstrip(b'\n').split(b'\n')
        if len(lines) != 1 or not lines[0].startswith(want) or what.encode() not in lines[0]:
            raise Fail(f'replay -p {pid}: expected one line "{want.decode()}N ... {what} ..."'
                       f' on stderr\n  {r.explain()}')
        # the output printed before the stop and only that
        if not rec.stdout.startswith(r.stdout) or before not in r.stdout:
            raise Fail(f'replay -p {pid}: printed {r.stdout!r}, not the recording\'s output '
                       f'up to {before!r}\n  recorded:\n' + tail(rec.stdout))
        return r

    prog = h.prog('fork_thread')
    trace, rec = h.record([prog])
    parent, child = check_fork_thread(rec)
    r = stop_at(trace, rec, child, f'forks process {child}', b'forks at counter')
    if b'child pid' in r.stdout:
        raise Fail(f'replay -p {child} went past the fork:\n' + tail(r.stdout))
    stop_at(trace, rec, parent, f'process {parent} execs {prog}', b'')

    trace, rec, argv = record_sh_pipeline(h, replay=False)
    rows = uprr_ps(h, trace)
    if len(rows) != 4:
        raise Fail(f'uprr ps shows {len(rows)} processes for the pipeline: {rows}')
    # head execs before it prints: the stop comes before any output
    r = stop_at(trace, rec, rows[3][0], f'process {rows[3][0]} execs head -5', b'')
    if r.stdout:
        raise Fail(f'replay -p {rows[3][0]} printed past the exec of head:\n' + tail(r.stdout))
    check_uprr_error(h.replay(trace, stop_pid=999999999), 'replay -p of an unknown pid',
                     'not in the trace')


# Bad input: uprr must refuse with one line and exit 125, never crash.

@case('bad-missing-dir')
def c_bad_missing(h):
    r = h.replay(h.path('no-such-trace'), quiet=True)
    check_uprr_error(r, 'replay of a missing directory', 'no-such-trace')
    check_uprr_error(run([h.uprr, 'info', h.path('no-such-trace')], timeout=60,
                         what='uprr info'), 'info of a missing directory')


@case('bad-not-a-trace')
def c_bad_not_trace(h):
    empty = h.path('empty-dir')
    os.mkdir(empty)
    check_uprr_error(h.replay(empty, quiet=True), 'replay of an empty directory')
    junk = h.path('junk-dir')
    os.mkdir(junk)
    for name in ('header', 'events'):
        with open(os.path.join(junk, name), 'wb') as f:
            f.write(b'this is not a trace\n' * 10)
    check_uprr_error(h.replay(junk, quiet=True), 'replay of a directory of junk')
    plain = h.path('plain-file')
    with open(plain, 'w') as f:
        f.write('hello\n')
    check_uprr_error(h.replay(plain, quiet=True), 'replay of a regular file')


def small_trace(h, name):
    """A single-threaded recording whose events stream has several frames:
    cat of 3 MB of random bytes (the writer cuts a frame every ~1 MiB)."""
    data = h.path(f'random-{name}.bin')
    with open(data, 'wb') as f:
        f.write(os.urandom(3 << 20))
    trace, rec = h.record([need('cat'), data], name=name)
    os.unlink(data)
    return trace, rec


@case('bad-newer-version')
def c_bad_version(h):
    if not h.craft or not os.access(h.craft, os.X_OK):
        raise Fail('tests/e2e/trace-craft is not built')
    trace, rec = small_trace(h, 'version')
    r = run([h.craft, 'set-version', trace, '99'], timeout=60, what='trace-craft')
    if r.status != 0:
        raise Fail('trace-craft failed\n  ' + r.explain())
    check_uprr_error(h.replay(trace, quiet=True), 'replay of a newer format', 'version')
    check_uprr_error(run([h.uprr, 'info', trace], timeout=60, what='uprr info'),
                     'info of a newer format', 'version')


FRAME_MAGIC = b'UPRF'
FRAME_HEADER = 32


def frames(path):
    """(offset, total length) of each frame of a trace stream file, from the
    fixed 32-byte frame header (doc/trace-format.md): magic "UPRF" at 0, u32
    compressed length at 12."""
    data = read(path)
    out, off = [], 0
    while off < len(data):
        if data[off:off + 4] != FRAME_MAGIC or off + FRAME_HEADER > len(data):
            raise Fail(f'{path}: no frame at offset {off}; has the frame layout changed? '
                       'update frames() in tests/e2e/e2e.py')
        n = FRAME_HEADER + int.from_bytes(data[off + 12:off + 16], 'little')
        out.append((off, n))
        off += n
    if not out:
        raise Fail(f'{path} holds no frame')
    return out


def events_file(trace):
    path = os.path.join(trace, 'events')
    if not os.path.isfile(path):
        raise Fail(f'no events stream in {trace}: {sorted(os.listdir(trace))}')
    return path


def flip_byte(path, off):
    with open(path, 'r+b') as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x40]))
    log(f'  flipped the byte at offset {off} of {path}')


@case('bad-checksum')
def c_bad_checksum(h):
    # A payload byte of the first and of the last events frame, and of the
    # header frame: each must be caught by the frame checksum.
    for where in ('first', 'last', 'header'):
        trace, _ = small_trace(h, 'flip-' + where)
        path = os.path.join(trace, 'header') if where == 'header' else events_file(trace)
        fr = frames(path)
        if where == 'last' and len(fr) < 2:
            raise Fail(f'{path} has one frame only; the test needs several')
        off, n = fr[-1] if where == 'last' else fr[0]
        flip_byte(path, off + FRAME_HEADER + (n - FRAME_HEADER) // 2)
        check_uprr_error(h.replay(trace, quiet=True), f'replay with a flipped byte ({where})')


@case('bad-truncated')
def c_bad_truncated(h):
    for where in ('last', 'first-header', 'header'):
        trace, rec = small_trace(h, 'cut-' + where)
        path = os.path.join(trace, 'header') if where == 'header' else events_file(trace)
        fr = frames(path)
        if where == 'last' and len(fr) < 2:
            raise Fail(f'{path} has one frame only; the test needs several')
        off, n = fr[-1] if where == 'last' else fr[0]
        cut = off + (FRAME_HEADER // 2 if where == 'first-header' else n // 2)
        os.truncate(path, cut)
        log(f'  cut {path} at {cut} (frame at {off}, {n} bytes)')
        if where == 'header':
            check_uprr_error(h.replay(trace, quiet=True), 'replay of a trace cut in its header')
            continue
        # an events stream cut in a frame is what a killed recorder
        # leaves: replayed to the whole frames before it
        rep = h.replay(trace, quiet=True)
        replay_cut_result(rep, rec, f'replay of a trace cut in a frame ({where}), -q',
                          quiet=True)
        if where == 'last':
            # Without -q the replay shows the output of the whole frames:
            # a part of what the recording printed, from its start.
            rep = h.replay(trace)
            replay_cut_result(rep, rec, 'replay of a trace cut in its last frame, without -q')
            log(f'  replayed {len(rep.stdout)} of {len(rec.stdout)} bytes of stdout before the cut')


# The one line of a replay that stopped where a trace the recorder did not
# finish ends (killed, disk full): N = the events replayed; after the
# semicolon, why there (the reader's word on a last frame written in part,
# a tp trace's last verified epoch)
CUT_RE = re.compile(rb'^uprr: replay: the recording was cut short at event (\d+) '
                    rb'\(the recorder did not finish it(?:; (.*))?\)$')
# ... and of a replay of a recording that stopped (an unsupported call)
STOPPED_RE = re.compile(rb'^uprr: trace ends early at event (\d+) \(the recording stopped: '
                        rb'(.*)\)$')


def replay_cut_result(rep, recorded, what, quiet=False):
    """@rep, the replay of a trace the recorder did not finish, ended as
    one must: exit 123 (CUT_SHORT), one line matching CUT_RE, and (unless
    @quiet) its output a prefix of @recorded (the program's stdout, or a
    Result). Returns the match."""
    recorded = getattr(recorded, 'stdout', recorded)
    if rep.status != CUT_SHORT:
        raise Fail(f'{what}: expected exit {CUT_SHORT}, got {describe_status(rep.status)}\n'
                   f'  {rep.explain()}')
    m = one_uprr_line(rep, CUT_RE, what)
    if quiet and rep.stdout:
        raise Fail(f'{what}: replay -q showed output\n  {rep.explain()}')
    if not recorded.startswith(rep.stdout):
        compare_bytes(recorded[:len(rep.stdout)], rep.stdout, f'stdout of {what}')
    return m


def replay_cut(h, trace, rec, what):
    """Replay a trace cut short: exit 123, one line "uprr: replay: the
    recording was cut short at event N (the recorder did not finish it)",
    output a prefix of the recording's. Returns N."""
    return int(replay_cut_result(h.replay(trace), rec, what).group(1))


def dumped_events(h, trace):
    """How many events `uprr dump` reads from @trace (one line each)."""
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    return r.stdout.count(b'\n')


@case('cut-traces', slow=True)
def c_cut_traces(h):
    """Three real recordings (sort, pigz, and a shell pipeline of 4
    processes), their events stream cut at every frame boundary, inside every
    frame's header and in the middle of every frame: each replay runs the
    whole frames and stops with "uprr: replay: the recording was cut short at
    event N (the recorder did not finish it)", exit 123, where N
    is the number of events in the whole frames (what `uprr dump` reads) and
    the same for the three cuts after one boundary."""
    text = h.path('cut-input.txt')
    make_text(text, 4 << 20, seed=b'cut')
    recordings = [
        ('sort', [need('sort'), text]),
        ('pigz', [need('pigz'), '-c', '-p', '2', text]),
        ('pipeline', [need('sh'), '-c', SH_PIPELINE]),
    ]
    for name, argv in recordings:
        trace, rec = h.record(argv, name='cut-' + name)
        path = events_file(trace)
        whole = read(path)
        fr = frames(path)
        if len(fr) < 3:
            raise Fail(f'{name}: its events stream has {len(fr)} frames; the test needs 3 or more')
        previous = -1
        try:
            for k, (off, n) in enumerate(fr):
                # cuts that leave frames 0..k-1 whole: at the boundary, in
                # frame k's header, in the middle of its payload
                counts = set()
                for cut, where in ((off, 'at its start'), (off + FRAME_HEADER // 2, 'in its header'),
                                   (off + n // 2, 'in its middle')):
                    with open(path, 'wb') as f:
                        f.write(whole[:cut])
                    what = f'{name} cut at byte {cut} (frame {k} of {len(fr)}, {where})'
                    counts.add((replay_cut(h, trace, rec, what), dumped_events(h, trace)))
                if len(counts) != 1:
                    raise Fail(f'{name}: cuts around frame {k} stopped at different events '
                               f'(replay, dump): {sorted(counts)}')
                replayed, dumped = counts.pop()
                if replayed != dumped or replayed <= previous:
                    raise Fail(f'{name}: with {k} whole frames replay stopped at event '
                               f'{replayed}, dump read {dumped} events, and {previous} '
                               'with one frame fewer')
                previous = replayed
        finally:
            with open(path, 'wb') as f:
                f.write(whole)
        log(f'  {name}: {len(fr)} frames, {3 * len(fr)} cuts, each replayed to its last whole frame')


@case('replay-foreign-trace')
def c_replay_foreign_trace(h):
    """A trace chooses what code replay runs: replay of a trace that belongs
    to another user, or that others may write, warns first, before the
    program's first output (here a line on stderr), then replays it."""
    if os.geteuid() != 0:
        raise Skip('giving a trace to another user needs root')
    trace, rec = h.record([h.prog('exit_code'), '3'], name='foreign', expect_status=3)
    program_err = rec.program_stderr()
    checks = (('yours', None, 0o700, None),
              ('another user\'s', 65534, 0o700, b'belongs to'),
              ('group-writable', 0, 0o770, b'is writable by others'))
    for what, uid, mode, warning in checks:
        for d, _, names in os.walk(trace):
            for p in [d] + [os.path.join(d, n) for n in names]:
                if uid is not None:
                    os.chown(p, uid, -1)
        os.chmod(trace, mode)
        rep = h.replay(trace)
        if warning is None:
            compare(rec, rep)  # no uprr line either
            continue
        compare(rec, Result(rep.argv, rep.status, rep.stdout, rep.program_stderr(), rep.seconds))
        lines = rep.stderr.split(b'\n')
        if not (lines[0].startswith(b'uprr: ') and warning in lines[0] and
                rep.stderr[len(lines[0]) + 1:] == program_err):
            raise Fail(f'replay of a {what} trace: expected one warning line "{warning.decode()}" '
                       f'before the program\'s stderr\n  {rep.explain()}')
        log(f'  ok ({what}): {lines[0].decode()}')


@case('record-missing-program')
def c_record_missing(h):
    for prog in ('/nonexistent/prog', 'no-such-command-uprr-e2e'):
        r = run([h.uprr, 'record', '-o', h.new_trace_path('missing'), '--', prog],
                timeout=60, what='uprr record')
        if r.status != COMMAND_NOT_FOUND:
            raise Fail(f'record of {prog}: expected exit 127, got '
                       f'{describe_status(r.status)}\n  {r.explain()}')
        lines = r.stderr.rstrip(b'\n').split(b'\n')
        if len(lines) != 1 or not lines[0].startswith(b'uprr: ') or prog.encode() not in lines[0]:
            raise Fail(f'record of {prog}: expected one line "uprr: {prog}: ..." on stderr\n'
                       f'  {r.explain()}')
        log(f'  ok: {lines[0].decode()}')


@case('record-unsupported')
def c_record_unsupported(h):
    """A request uprr does not model runs in the kernel. If the kernel accepts
    it (io_uring_setup, else userfaultfd), the recording stops (exit 125)
    with one line that names it, before the program sees the result. If the
    kernel rejects it (an unknown ioctl: ENOTTY), the failure is recorded and
    replayed, and the program goes on as natively."""
    for what, name in (('io_uring', 'io_uring_setup'), ('userfaultfd', 'userfaultfd'),
                       ('int80', 'i386 syscall (number 20')):
        native = run([h.prog('unsupported'), what], timeout=60, what='unsupported (native)')
        if b'it returned a result' not in native.stdout:
            log(f'  {name} fails natively here: {native.stdout!r}')
            continue
        r = run([h.uprr, 'record', '-o', h.new_trace_path('unsupported-' + what), '--',
                 h.prog('unsupported'), what], timeout=60, what='uprr record')
        check_uprr_error(r, f'record of an unsupported {name}', name)
        if b'about to make' not in r.stdout or b'it returned' in r.stdout:
            raise Fail(f'record of an unsupported {name}: the program\'s output is wrong: '
                       f'{r.stdout!r}')
        trace = h.path(f'trace-{h.ntraces}-unsupported-{what}')
        info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
        ends = [line for line in info.stdout.split(b'\n') if line.startswith(b'end:')]
        if info.status != 0 or len(ends) != 1 or b'recording stopped' not in ends[0] or \
                name.encode() not in ends[0]:
            raise Fail(f'uprr info of the stopped recording does not say why:\n'
                       f'  {info.explain()}\n{tail(info.stdout)}')
        log(f'  ok: {ends[0].decode()}')
        rep = h.replay(trace)
        lines = rep.uprr_lines()
        if rep.status != UPRR_FAILURE or len(lines) != 1 or not STOPPED_RE.match(lines[0]) or \
                name.encode() not in lines[0]:
            raise Fail('the replay of a stopped recording does not say why it ends\n  '
                       + rep.explain())
        log(f'  ok: {lines[0].decode()}')
        break
    else:
        raise Skip('the kernel refuses both io_uring_setup and userfaultfd here: no unknown '
                   'call succeeds to stop a recording')
    with open(os.devnull, 'rb') as null:
        native = run([h.prog('unsupported'), 'ioctl'], timeout=60, what='unsupported (native)',
                     stdin=null)
    with open(os.devnull, 'rb') as null:
        trace, rec = h.record([h.prog('unsupported'), 'ioctl'], name='unsupported-ioctl',
                              stdin=null)
    compare(rec, h.replay(trace))
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    expect_output(rec, b'unsupported: it returned -1 (ENOTTY)\n', 'the ioctl did not fail')


@prog_case('unknown_calls')
def c_unknown_calls(h):
    """Calls the kernel rejects (syscall 500, unknown ioctl, fcntl, prctl,
    futex, keyctl and ptrace requests, io_uring_setup with no entries) are
    recorded as their failures and replayed; an unknown futex request that
    blocks lets the other thread run. Same output as a native run."""
    native = run([h.prog('unknown_calls')], timeout=60, what='unknown_calls (native)')
    _, rec = h.record_replay([h.prog('unknown_calls')])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    expect_output(rec, b'unknown_calls: ok\n', 'did not end')
    expect_output(rec, b'syscall 500: -1 ENOSYS\n', 'syscall 500 did not fail with ENOSYS')


def native_run(argv, name, **kw):
    """Run @argv natively; it must exit 0. Returns the run."""
    native = run(argv, timeout=60, what=f'{name} (native)', **kw)
    if native.status != 0:
        raise Fail(f'{name} fails natively\n  {native.explain()}')
    return native


def native_record_replay(h, argv, name, *, stdin_null=False, options=()):
    """Run @argv natively, record it (with uprr record @options), replay it:
    the three outputs match byte for byte. Returns the recording."""
    def null():
        return open(os.devnull, 'rb') if stdin_null else contextlib.nullcontext()
    with null() as f:
        native = native_run(argv, name, cwd=h.tmp, stdin=f)
    with null() as f:
        trace, rec = h.record(argv, name=name, stdin=f, options=list(options))
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare(rec, h.replay(trace))
    return rec


@prog_case('pty_ioctls')
def c_pty_ioctls(h):
    """The pty and terminal ioctls of script, expect and tmux (TIOCGPTN,
    TIOCSPTLCK, TIOCSWINSZ, TCGETS2, TCGETA, TIOCPKT, TIOCSCTTY, TIOCGSID,
    TIOCNOTTY...) record and replay, with the output of a native run."""
    rec = native_record_replay(h, [h.prog('pty_ioctls')], 'pty_ioctls')
    expect_output(rec, b'pty_ioctls: ok\n', 'did not end')


@prog_case('syscall_zoo')
def c_syscall_zoo(h):
    """One call of each syscall and request the model learnt for issue 13
    (pkeys, mmsg, splice, xattrs, mounts, keys, NUMA, prctl getters...):
    recorded, replayed with its directory gone, and the same as natively."""
    zoo = h.prog('syscall_zoo')
    native = run([zoo, h.path('zoo-native')], timeout=60, what='syscall_zoo (native)')
    trace, rec = h.record([zoo, h.path('zoo-rec')], name='syscall_zoo')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    remove_input(h.path('zoo-rec'))
    compare(rec, h.replay(trace))
    expect_output(rec, b'syscall_zoo: ok\n', 'did not end')


def buffered_calls(h, trace):
    """(records, flushes, traced syscall entries) in @trace, from `uprr dump`."""
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    records = flushes = traced = 0
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        if len(f) > 3 and f[2] == 'syscallbuf':
            records += int(f[3], 16)
            flushes += 1
        elif len(f) > 2 and f[2] == 'syscall-entry':
            traced += 1
    return records, flushes, traced


@case('yield-turns')
def c_yield_turns(h):
    """tests/progs/yield_turns: two threads take 400 turns each, waiting
    with sched_yield in a loop, then workers yield while they work. The
    buffer takes sched_yield, up to UPRR_YIELDS_PER_BATCH (16) in a batch:
    most yields are buffered, a waiter gives the CPU up at the next one
    (one traced yield per turn, no preemption at a timeslice's end), and
    the output is the native run's."""
    exe = h.prog('yield_turns')
    native = native_run([exe], 'yield_turns')
    trace, rec = h.record_replay([exe], name='yield_turns')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    expect_output(rec, b'yield_turns: ok\n', 'computed a wrong count')
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    yields = preempts = records = 0
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        if len(f) > 3 and f[2] == 'syscall-entry' and f[3] == '0x18':
            yields += 1
        elif len(f) > 2 and f[2] == 'preempt':
            preempts += 1
        elif len(f) > 3 and f[2] == 'syscallbuf':
            records += int(f[3], 16)
    # 800 turns in all: a traced yield ends each wait (fewer when a
    # waiter's turn came within its buffered ones)
    if records < 4000 or yields > 1200:
        raise Fail(f'yield_turns: {records} buffered calls, {yields} traced sched_yields: '
                   'the buffer did not take the yields')
    if preempts:
        raise Fail(f'yield_turns: {preempts} preemptions: a thread that yields in a loop '
                   'kept the CPU to the end of its timeslice')


@case('signal-self')
def c_signal_self(h):
    """tests/progs/signal_self: a thread signals itself (raise, tkill, an
    ignored signal, a blocked one, real-time ones, two pending at once) and
    another thread. uprr takes a self-signal's tgkill exit at the delivery
    stop that follows and delivers caught signals without a single step
    where the run takes no restore point; the order of handlers (two
    pending: the lower number's frame first, so the higher's handler runs
    first) and every count are the native run's, and replay agrees."""
    exe = h.prog('signal_self')
    rec = native_record_replay(h, [exe], 'signal_self', options=['-v'])
    expect_output(rec, b'signal_self: ok\n', 'counted wrong')
    m = re.search(rb'(\d+) syscall exits taken at their delivery; (\d+) caught signals delivered '
                  rb'without a single step', rec.stderr)
    # raise, tkill, kill and the ignored signal: 500 each
    if not m or int(m.group(1)) < 2000 or int(m.group(2)) < 1500:
        raise Fail('signal_self: the self-signals took the slow way (uprr record -v said: '
                   f'{m.group(0).decode() if m else "nothing"})')


@case('sig-unblock')
def c_sig_unblock(h):
    """tests/progs/sig_unblock: a signal sent while a handler's mask blocks
    it (raise() of the handler's own signal, as GNU sort's SIGPIPE handler
    does; one blocked by sa_mask; two at once; one from another thread) is
    delivered as the handler's rt_sigreturn unblocks it, before the
    interrupted write returns: uprr, which does not stop rt_sigreturn,
    delivers it there too (TRACE_SIGNAL_AT_UNBLOCK), with and without the
    syscall buffer. Mode forget takes such signals from a signalfd and by
    sigtimedwait, then gets one from another process: it checks that those
    behave as natively, not the forgetting of the blocked signal itself
    (record-signals.c forget_taken()), which only a sender outside the
    recording could make matter, and which this case cannot tell apart.
    stdout, stderr and status are the native run's (main: the write
    returned and `sort | head` said "write failed"), and replay agrees."""
    exe = h.prog('sig_unblock')
    for mode, status in (('die', 128 + signal.SIGPIPE), ('catch', 0), ('thread', 0),
                         ('forget', 0)):
        native = run([exe, mode], timeout=60, what=f'sig_unblock {mode} (native)')
        # a native death shows as -N, uprr's exit as 128 + N
        if (native.status if native.status >= 0 else 128 - native.status) != status:
            raise Fail(f'sig_unblock {mode} natively: {native.explain()}')
        for options in ([], ['--no-syscall-buffer']):
            trace, rec = h.record([exe, mode], name=f'sig_unblock-{mode}', expect_status=status,
                                  options=options)
            compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
            compare_bytes(native.stderr, rec.program_stderr(), 'stderr', 'the native run',
                          'the recording')
            for _ in range(2):
                compare(rec, h.replay(trace))


@case('sig-frames')
def c_sig_frames(h):
    """tests/progs/sig_frames: every handler hashes the frame the kernel
    built for it (siginfo, the interrupted registers, the saved mask, its
    stack): raise, sigqueue (si_value), an alternate stack, a handler that
    raises, ignored signals between caught ones, two pending at once, a
    fault (ud2), handlers preempted while they compute, a handler another
    thread switches. Replay lets a caught signal's delivery wait for its
    thread's next run (no single step to the handler) and steps it only when
    another event comes first (replay/signals.c, deliver()); the digests,
    and so stdout, must be the recording's, recorded plainly and with
    --chaos, and the counts the native run's. A replay with UPRR_LOG=debug
    says how many deliveries waited (a uprr that steps every one fails)."""
    exe = h.prog('sig_frames')
    native = native_run([exe], 'sig_frames')

    def counts(out):
        return [line for line in out.splitlines() if b' count ' in line]

    for options in ([], ['--chaos']):
        trace, rec = h.record([exe], name='sig_frames', options=options)
        expect_output(rec, b'sig_frames: ok\n', 'counted wrong')
        compare_bytes(b'\n'.join(counts(native.stdout)), b'\n'.join(counts(rec.stdout)),
                      'the count lines', 'the native run', 'the recording')
        for _ in range(2):
            compare(rec, h.replay(trace))
        dbg = h.replay(trace, quiet=True, env=dict(os.environ, UPRR_LOG='debug'))
        m = re.search(rb'signals delivered: (\d+) with a single step, (\d+) with the '
                      rb"thread's next run \((\d+) of them stepped", dbg.stderr)
        # 300 each: raise, sigqueue, altstack, nested (x2), ignored (x3),
        # two pending (x2), ud2; the first of two pending is stepped
        if dbg.status != 0 or not m or int(m.group(2)) < 3000 or int(m.group(3)) < 300:
            raise Fail('sig_frames: replay stepped into the handlers (UPRR_LOG=debug said: '
                       f'{m.group(0).decode() if m else "nothing"}; status {dbg.status})')


@case('spin-looks')
def c_spin_looks(h):
    """tests/progs/ring_small: two threads hand a 64-slot ring back and forth
    thousands of times, each spinning when it is full or empty. A thread back
    in the loop it was last seen spinning in is looked at once more, as far
    as the two looks that saw it spin there (record-sched.c,
    spin_loop_again()): about two looks per switch, not three."""
    trace, rec = h.record_replay([h.prog('ring_small')], options=['-v'])
    expect_output(rec, b'ring_small: ok\n', 'lost or corrupted items')
    m = re.search(rb'(\d+) looks at spinning threads, (\d+) found spinning', rec.stderr)
    if not m or int(m.group(2)) < 1000:
        raise Fail('ring_small: too few threads seen spinning (uprr record -v said: '
                   f'{m.group(0).decode() if m else "nothing"})')
    looks, spins = int(m.group(1)), int(m.group(2))
    if looks > 2.5 * spins:
        raise Fail(f'ring_small: {looks} looks for {spins} spins: a thread back in its spin '
                   'loop was not recognised at the second look')


@case('spin-handoff')
def c_spin_handoff(h):
    """tests/progs/spin_handoff: a dispatcher and three workers hand 150
    jobs around through per-thread mailboxes, all waiting by spinning. A
    thread preempted spinning is passed over while what its loop reads has
    not changed (record-sched.c, rec_spin_pick()): two preemptions per job,
    the dispatcher's and the worker's, not one per spinner in round robin
    (main: 594, its spinners' looks growing far apart)."""
    exe = h.prog('spin_handoff')
    rec = native_record_replay(h, [exe], 'spin_handoff', options=['-v'])
    expect_output(rec, b'spin_handoff: ok\n', 'computed a wrong sum')
    m = re.search(rb'(\d+) preemptions', rec.stderr)
    p = re.search(rb'(\d+) picks passed over', rec.stderr)
    if not m or not p or int(m.group(1)) > 420 or int(p.group(1)) == 0:
        raise Fail('spin_handoff: the CPU went to threads that only spun again (uprr record -v '
                   f'said: {m.group(0).decode() if m else "no preemptions"}, '
                   f'{p.group(0).decode() if p else "no picks passed over"})')


# the lines of tests/progs/syscallbuf whose words do not change between runs
SYSCALLBUF_FIXED = (b'dir: 7 entries, 5 empty files', b'reader got 7 bytes: hello 0', b'child: ok',
                    b'parent: child status 0', b'socket receiver got 4 bytes: ping',
                    b'sockets: 20 messages, 20 peeked', b'time of day: ok',
                    b'epoll waiter: 1 event', b'epoll: 40 of 40 with the event',
                    b'writev: to stdout', b'writev reader: 45000 bytes, sum f083a91128ca2415',
                    b'exec next', b"exec'd: ok")


def syscallbuf_case(h, prog):
    """tests/progs/syscallbuf (or its static build) recorded with the syscall
    buffer: thousands of calls go through it (more than one buffer holds, so
    it fills), the replay gives the same output from the trace, and the
    recording's output has the native run's shape."""
    exe = h.prog(prog)
    native = native_run([exe], prog)
    trace, rec = h.record_replay([exe], name=prog, options=['--syscall-buffer'], replays=2)
    records, flushes, traced = buffered_calls(h, trace)
    if records < 6000 or flushes < 3:
        raise Fail(f'{prog}: only {records} buffered calls in {flushes} flushes '
                   f'({traced} traced): the buffer was not used')
    for out in (native.stdout, rec.stdout):
        lines = out.splitlines()
        for fixed in SYSCALLBUF_FIXED:
            if fixed not in lines:
                raise Fail(f'{prog}: no line {fixed!r} in\n{out.decode(errors="replace")}')
    shape = [l.split(b':')[0] for l in native.stdout.splitlines()]
    if shape != [l.split(b':')[0] for l in rec.stdout.splitlines()]:
        raise Fail(f'{prog}: the recording printed other lines than the native run\n'
                   f'{native.stdout.decode(errors="replace")}---\n{rec.stdout.decode(errors="replace")}')
    trace, rec = h.record_replay([exe], name=prog + '-ptrace', options=['--no-syscall-buffer'])
    if buffered_calls(h, trace)[0]:
        raise Fail(f'{prog}: --no-syscall-buffer buffered calls')


@case('syscallbuf')
def c_syscallbuf(h):
    syscallbuf_case(h, 'syscallbuf')


@case('syscallbuf-static')
def c_syscallbuf_static(h):
    syscallbuf_case(h, 'syscallbuf_static')


def fdcalls_traced(h, trace):
    """{syscall number: traced entries from the preload library} in @trace."""
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    got = collections.Counter()
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        # rip= is followed by the memory a write passes ([addr+len]) if any
        if len(f) > 3 and f[2] == 'syscall-entry' and any(x.startswith('rip=0x6d') for x in f):
            got[int(f[3], 16)] += 1
    return got


@case('syscallbuf-fdcalls')
def c_syscallbuf_fdcalls(h):
    """tests/progs/fdcalls recorded with the syscall buffer: openat (for
    reading and for writing), close, fcntl, access, faccessat(2), statx,
    pread64, pwrite64 and write and writev to a regular file, readv, preadv,
    getrandom and accept4 through it; the replay, its directory gone, gives
    the same output, and so does a native run (but for the sum of random
    bytes). An fd that is uprr's stdout written, closed and reused by
    accept4 for a socket: what replay shows is what went to stdout."""
    exe = h.prog('fdcalls')
    os.mkdir(h.path('native'))
    native = native_run([exe, h.path('native')], 'fdcalls')
    os.mkdir(h.path('dir'))
    trace, rec = h.record_replay([exe, h.path('dir')], options=['--syscall-buffer'],
                                 remove=[h.path('dir')], replays=2)

    def fixed(out):
        return [l for l in out.splitlines() if not l.startswith(b'random: ')]
    if fixed(native.stdout) != fixed(rec.stdout):
        compare_bytes(b'\n'.join(fixed(native.stdout)), b'\n'.join(fixed(rec.stdout)), 'stdout',
                      'the native run', 'the recording')
    expect_output(rec, b'line 1: through a dup of stdout\n', 'lost a buffered write to stdout')
    for line in rec.stdout.splitlines():
        if line.startswith((b'line 2', b'line 4')):
            raise Fail(f'fdcalls: bytes sent on a socket shown as output: {line!r}')
    records = buffered_calls(h, trace)[0]
    traced = fdcalls_traced(h, trace)
    if records < 60:
        raise Fail(f'fdcalls: only {records} buffered calls: the buffer was not used')
    # traced from the library: the close of the dup of stdout that a
    # buffered write used; the access calls buffered (one may be the
    # thread's first call, before its slot)
    if traced[3] < 1:
        raise Fail('fdcalls: the close of an fd a buffered write used was not traced')
    for nr, name in ((21, 'access'), (269, 'faccessat'), (439, 'faccessat2'), (221, 'fadvise64')):
        if traced[nr] > 1:
            raise Fail(f'fdcalls: {name} was traced {traced[nr]} times, not buffered')
    # writes to a regular file (ext4, tmpfs refuse RWF_NOWAIT) are made in
    # the buffer: none traced from the library (stdout is a pipe); nor
    # the opens for writing of the regular files
    # (one write is traced: the FIFO's; a named FIFO refuses RWF_NOWAIT and
    # is no regular file; two writev of 65 iovecs are, to stdout's dup and
    # to the socket: traced_write())
    for nr, name, most in ((1, 'write', 1), (18, 'pwrite64', 0), (20, 'writev', 2)):
        if traced[nr] > most:
            raise Fail(f'fdcalls: {traced[nr]} {name} to a regular file traced, not buffered')
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        # openat(dirfd, path, flags) from the library with O_WRONLY,
        # O_CREAT, O_TRUNC or O_APPEND (the FIFO's O_RDWR open stays traced)
        if (len(f) > 6 and f[2] == 'syscall-entry' and f[3] == '0x101' and
                any(x.startswith('rip=0x6d') for x in f) and int(f[6], 16) & 0o3101):
            raise Fail(f'fdcalls: an openat for writing was traced, not buffered: {line}')


@case('syscallbuf-unpatchable')
def c_syscallbuf_unpatchable(h):
    """tests/progs/unpatchable_site: getpid, gettid, clock_gettime, read,
    fstat, lseek and write made from a syscall instruction that uprr cannot
    patch (nops around it, a jump target after it), by two threads while
    SIGUSR1s arrive (their handler makes calls there too), by a forked
    child and a vfork child, and by a thread that then spins (a rollback
    that keeps its records, whose re-run makes them again). uprr sends them into the library from their seccomp stop
    (recorder/syscallbuf-redirect.c): the replay, its input gone, gives the
    same output, and so does a native run (but for the clock line); the
    trace has them as buffered records, each process's first call from the
    site as a redirect (a site-patch to the redirect entry) and none traced
    from the site."""
    exe = h.prog('unpatchable_site')
    path = h.path('input')
    make_text(path, 30000, seed=14)
    native = native_run([exe, path], 'unpatchable_site')
    trace, rec = h.record_replay([exe, path], options=['--syscall-buffer'], remove=[path], replays=2)

    def fixed(out):
        return [l for l in out.splitlines() if not l.startswith(b'clock: ')]
    if fixed(native.stdout) != fixed(rec.stdout):
        compare_bytes(b'\n'.join(fixed(native.stdout)), b'\n'.join(fixed(rec.stdout)), 'stdout',
                      'the native run', 'the recording')
    expect_output(rec, b'signals: 40 handled, 0 wrong answers in the handler\n', 'lost the signals')
    records = buffered_calls(h, trace)[0]
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    redirects = traced = 0
    site_calls = {'0x27', '0xba', '0xe4', '0x0', '0x5', '0x8', '0x1'}  # getpid ... write
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        if len(f) > 6 and f[2] == 'site-patch' and f[6] == hex(0x6d000010):
            redirects += 1
        elif (len(f) > 3 and f[2] == 'syscall-entry' and f[3] in site_calls and
              not any(x.startswith('rip=0x6d') for x in f)):
            traced += 1
    # 6,400 calls from the site; glibc's own (printf's write, the
    # loader's reads) are a few dozen
    if records < 6000 or redirects < 2 or redirects > 8 or traced > 100:
        raise Fail(f'unpatchable_site: {records} buffered calls, {redirects} redirected sites, {traced} '
                   'calls the buffer takes traced outside the library: the site\'s calls were not '
                   'buffered')


@case('syscallbuf-stdout-file')
def c_syscallbuf_stdout_file(h):
    """tests/progs/stdout_file_reuse with uprr's stdout a regular file:
    plain writes to it through the buffer, then fd 1 closed and reused for
    another file in the same batch. The replay shows the lines written to
    stdout and not the one written to the other file (the flush finds the
    file from the record's dev and ino); the recording's output is the
    native run's."""
    prog = h.prog('stdout_file_reuse')
    os.mkdir(h.path('native'))
    native = run_to_files(h, [prog, h.path('native')], 'native', 60)
    os.mkdir(h.path('dir'))
    trace = h.new_trace_path('stdout-file')
    rec = run_to_files(h, [h.uprr, 'record', '-o', trace, '--', prog, h.path('dir')], 'record',
                       RECORD_TIMEOUT)
    check_record(rec, trace, 0)
    remove_input(h.path('dir'))
    rep = run_to_files(h, [h.uprr, 'replay', trace], 'replay', REPLAY_TIMEOUT)
    want = b'shown 0\nshown 1\nshown 2\n'
    for what, got in (('the native run', native.stdout), ('the recording', rec.stdout),
                      ('the replay', rep.stdout)):
        if got != want:
            compare_bytes(want, got, 'stdout', 'expected', what)
    if buffered_calls(h, trace)[0] < 4:
        raise Fail('stdout_file_reuse: its writes and close were not buffered')


def syscallbuf_spin_case(h, args):
    """tests/progs/syscallbuf_spin (with @args) recorded and replayed twice,
    compared with a native run; its buffered calls counted."""
    exe = h.prog('syscallbuf_spin')
    native = native_run([exe] + args, 'syscallbuf_spin', cwd=h.tmp)
    trace, rec = h.record_replay([exe] + args, options=['--syscall-buffer'], replays=2)
    expect_output(rec, b'syscallbuf_spin: ok\n', 'did not get through its spins and signals')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    records, flushes, traced = buffered_calls(h, trace)
    if records < 12 * 17:
        raise Fail(f'syscallbuf_spin: only {records} buffered calls in {flushes} flushes '
                   f'({traced} traced): the buffer was not used')
    log(f'  {records} buffered calls in {flushes} flushes, {traced} traced')


@case('syscallbuf-spin')
def c_syscallbuf_spin(h):
    """tests/progs/syscallbuf_spin with the syscall buffer: a thread makes
    buffered calls (10 KiB of records in the first round, past the
    buffer's first page), then spins on a flag another thread sets after
    a computation. Its run holds records when its timeslice ends: uprr
    rolls it back keeping them (restore points leave the buffers out: uprr
    puts the buffer's head back itself), and preempts it after the last (a
    uprr that lets it run on never gets out of the spin: the program gives
    up, exit 1). Then SIGALRM every 50 us inside buffered calls. The
    output is the native run's, byte for byte."""
    syscallbuf_spin_case(h, [])


@case('syscallbuf-spin-child')
def c_syscallbuf_spin_child(h):
    """syscallbuf-spin in a forked child, whose restore points are a shadow
    (a memfd of uprr's, mapped in uprr) rather than a mirror process."""
    syscallbuf_spin_case(h, ['child'])


def unvaried(out):
    """tests/progs/buffered_wait's output without what changes from run to
    run natively (its seed, the random delays)."""
    out = re.sub(rb'(?m)^seed: .*\n', b'', out)
    return re.sub(rb'waits \d+ ms', b'waits N ms', out)


@case('buffer-claim')
def c_buffer_claim(h):
    """tests/progs/buffer_claim: a thread's buffer claimed by a call that
    took the traced path, then a signal from outside while it spins in a
    run with no restore point: its next buffered call goes the traced
    way, in the recording and in the replay (twice), for both ways of
    claiming (ioctl TCGETS, a futex wake)."""
    for how in ([], ['futex']):
        pidfile = h.path('pid' + ''.join(how))
        trace = h.new_trace_path('buffer_claim')
        argv = [h.uprr, 'record', '-o', trace, '--syscall-buffer', '--', h.prog('buffer_claim'),
                pidfile] + how
        t0 = time.monotonic()
        p = start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=h.tmp)
        while not os.path.exists(pidfile) or not open(pidfile).read().endswith('\n'):
            if p.poll() is not None or time.monotonic() - t0 > 30:
                break
            time.sleep(0.01)
        time.sleep(0.2)
        if p.poll() is None:
            os.kill(int(open(pidfile).read()), signal.SIGUSR1)
        out, err = p.communicate(timeout=time_left(RECORD_TIMEOUT))
        finish_group(p, 'uprr record')
        rec = Result(argv, p.returncode, out, err, time.monotonic() - t0)
        check_record(rec, trace, 0)
        if b'spinner: signal handled' not in rec.stdout:
            raise Fail(f'buffer_claim {how}: the signal did not come\n{rec.stdout!r}')
        for _ in range(2):
            compare(rec, h.replay(trace))


@case('buffered-wait')
def c_buffered_wait(h):
    """tests/progs/buffered_wait recorded with the syscall buffer: poll,
    ppoll, select, pselect6, recvmsg and futex calls go through it (the
    program exits 1 where one that should was traced), those that would
    wait wait on the traced path; replayed twice from the trace, and the
    recording prints what a native run does (its random delays aside)."""
    exe = h.prog('buffered_wait')
    native = native_run([exe], 'buffered_wait')
    trace, rec = h.record_replay([exe], name='buffered_wait', options=['--syscall-buffer'],
                                 replays=2)
    records, flushes, traced = buffered_calls(h, trace)
    if records < 200:
        raise Fail(f'buffered_wait: only {records} buffered calls ({traced} traced): '
                   'the buffer was not used')
    compare_bytes(unvaried(native.stdout), unvaried(rec.stdout), 'stdout', 'the native run',
                  'the recording')


@case('cp-r')
def c_cp_r(h):
    """Debian's cp -r tries ioctl FICLONE on every file first (EOPNOTSUPP on
    ext4 and tmpfs, then it copies): recorded, the copy is whole, and the
    replay ends as the recording did with the source tree gone."""
    src, dst = h.path('tree'), h.path('tree-copy')
    os.makedirs(os.path.join(src, 'a', 'b'))
    for rel, size in (('f1', 2000), ('a/f2', 5000), ('a/b/f3', 300000)):
        make_text(os.path.join(src, rel), size, seed=size)
    trace, rec = h.record([need('cp'), '-r', src, dst], name='cp-r')
    for rel in ('f1', 'a/f2', 'a/b/f3'):
        with open(os.path.join(src, rel), 'rb') as f, open(os.path.join(dst, rel), 'rb') as g:
            compare_bytes(f.read(), g.read(), rel, 'the source', 'the copy')
    remove_input(src)
    shutil.rmtree(dst)
    compare(rec, h.replay(trace))


@case('cp-r-small-files')
def c_cp_r_small_files(h):
    """cp -r of 600 small files into tmpfs (from another file system: cp
    reads and writes, copy_file_range says EXDEV) asks 128 KiB of every
    read; a read fits the syscall buffer only with that much room left, and
    one that does not is traced. With 192 KiB buffers 69 of the 600 went
    traced, with 512 KiB 15. The trace spans several full frames, so replay
    reads them through the reader's prefetch thread."""
    src = h.path('small')
    rng = random.Random(600)
    os.makedirs(os.path.join(src, 'd'))
    for i in range(600):
        make_text(os.path.join(src, 'd', f'f{i}'), rng.randint(1000, 6000), seed=i)
    shm = tempfile.mkdtemp(prefix='uprr-e2e-cp-', dir='/dev/shm')
    try:
        dst = os.path.join(shm, 'copy')
        trace, rec = h.record([need('cp'), '-r', src, dst], name='cp-r-small')
        for i in range(600):
            rel = os.path.join('d', f'f{i}')
            with open(os.path.join(src, rel), 'rb') as f, open(os.path.join(dst, rel), 'rb') as g:
                compare_bytes(f.read(), g.read(), rel, 'the source', 'the copy')
        d = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
        check_not_broken(d, 'dump')
        traced = sum(1 for line in d.stdout.decode(errors='replace').splitlines()
                     if line.split()[2:4] == ['syscall-entry', '0'])
        print(f'traced reads: {traced} of 600 files')
        info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
        m = re.search(rb'events in (\d+) frames', info.stdout)
        if not m or int(m.group(1)) < 3:
            raise Fail('the trace should span several frames\n' + info.explain())
        if traced > 30:
            raise Fail(f'{traced} reads of 600 files took the traced path (the buffer '
                       'should take all but one every few dozen files)')
        remove_input(src)
        shutil.rmtree(dst)
        compare(rec, h.replay(trace))
    finally:
        shutil.rmtree(shm, ignore_errors=True)


@case('cp-r-write-hash')
def c_cp_r_write_hash(h):
    """cp -r into tmpfs writes every byte it reads: the trace keeps the
    bytes of such a buffered write to a file (which uprr neither shows nor
    dumps) as their XXH3-128 hash, not whole (TRACE_SB_HASHED, format 12).
    The replay still checks every byte: a byte of a buffered read flipped in
    the trace reaches the program, which writes it, and the replay must stop
    at that write as a divergence."""
    if not h.craft or not os.access(h.craft, os.X_OK):
        raise Fail('tests/e2e/trace-craft is not built')
    src = h.path('hsrc')
    os.makedirs(os.path.join(src, 'd'))
    for i in range(20):
        make_text(os.path.join(src, 'd', f'f{i}'), 3000 + 1000 * i, seed=i)
    shm = tempfile.mkdtemp(prefix='uprr-e2e-cph-', dir='/dev/shm')
    try:
        dst = os.path.join(shm, 'copy')
        trace, rec = h.record([need('cp'), '-r', src, dst], name='cp-r-hash')
        for i in range(20):
            rel = os.path.join('d', f'f{i}')
            with open(os.path.join(src, rel), 'rb') as f, open(os.path.join(dst, rel), 'rb') as g:
                compare_bytes(f.read(), g.read(), rel, 'the source', 'the copy')
        remove_input(src)
        shutil.rmtree(dst)
        compare(rec, h.replay(trace))
        r = run([h.craft, 'flip-read', trace], timeout=60, what='trace-craft')
        if r.status != 0:
            raise Fail('trace-craft flip-read failed\n  ' + r.explain())
        m = re.search(rb'hashed (\d+)', r.stdout)
        if not m or int(m.group(1)) < 20:
            raise Fail('the trace should keep the 20 files\' writes as hashes\n  ' + r.explain())
        log(f'  hashed writes: {int(m.group(1))}')
        bad = h.replay(trace, quiet=True)
        lines = bad.stderr.rstrip(b'\n').split(b'\n')
        if bad.status != UPRR_FAILURE or not lines[-1].startswith(b'uprr: replay: divergence') \
                or b'(write) has other arguments or bytes' not in lines[-1]:
            raise Fail('a replay whose program writes a byte other than recorded must stop '
                       'at that write as a divergence\n  ' + bad.explain())
        log(f'  ok: {lines[-1].decode()}')
    finally:
        shutil.rmtree(shm, ignore_errors=True)


def system_file(min_size):
    """A package-managed file (root's, writable by no one else, under /usr)
    of at least @min_size bytes, as the syscall buffer keeps reads of by
    reference (trace format 13), or None."""
    for top in ('/usr/include/linux', '/usr/include', '/usr/share/doc', '/usr/lib'):
        for root, _, files in os.walk(top):
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_uid == 0 and \
                        not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and st.st_size >= min_size:
                    return path
    return None


def ref_reads(r):
    """(reads, bytes) the recording @r (uprr record -v) kept by reference."""
    m = re.search(rb'(\d+) reads \((\d+) bytes\) kept by reference', r.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def kept_link(trace, path):
    """The trace's kept file that is a hard link to @path, or None."""
    st = os.stat(path)
    files = os.path.join(trace, 'files')
    for name in os.listdir(files):
        k = os.stat(os.path.join(files, name))
        if (k.st_dev, k.st_ino) == (st.st_dev, st.st_ino):
            return os.path.join(files, name)
    return None


@case('read-ref')
def c_read_ref(h):
    """Buffered reads of 16 KiB or more from a package-managed file keep the
    file's id, the offset and the hash, not the bytes (TRACE_SB_REF, format
    13): read, lseek then read, pread64, readv, a read through a dup (which
    moves the position the other fd's records do not show: the recorder
    compares the bytes with the file and keeps those it cannot place). The
    file is kept once, by a hard link. A read of a file in the test's
    directory keeps its bytes: replay runs without it. Output equal to a
    native run's. Then the trace's link is replaced by a copy with one byte
    changed: the replay stops with one line naming the file."""
    sysf = system_file(128 * 1024)
    if not sysf:
        raise Skip('no package-managed file of 128 KiB or more under /usr')
    other = h.path('other.txt')
    make_text(other, 40000, seed=7)
    argv = [h.prog('read_ref'), sysf, other]
    native = run(argv, timeout=60, what='read_ref (native)', cwd=h.tmp)
    trace, rec = h.record(argv, name='read-ref', options=['-v'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    reads, nbytes = ref_reads(rec)
    log(f'  {sysf}: {reads} reads, {nbytes} bytes kept by reference')
    # the read, the one after lseek, pread64, readv: at least these four
    if reads < 4 or nbytes < 4 * 16384:
        raise Fail(f'the reads of {sysf} should be kept by reference (4 or more), '
                   f'got {reads}\n  ' + rec.explain())
    link = kept_link(trace, sysf)
    if not link:
        raise Fail(f'the trace should keep {sysf} by a hard link')
    st = os.stat(other)
    for name in os.listdir(os.path.join(trace, 'files')):
        k = os.stat(os.path.join(trace, 'files', name))
        if (k.st_dev, k.st_ino) == (st.st_dev, st.st_ino):
            raise Fail(f'{other} is not a system file: the trace must not link it')
    remove_input(other)
    compare(rec, h.replay(trace))
    # the kept file changed in place since (a copy in its stead: never
    # write the system's own file)
    with open(link, 'rb') as f:
        data = bytearray(f.read())
    os.unlink(link)
    data[2000] ^= 0x20
    with open(link, 'wb') as f:
        f.write(data)
    bad = h.replay(trace, quiet=True)
    lines = bad.stderr.rstrip(b'\n').split(b'\n')
    if bad.status != UPRR_FAILURE or not lines[-1].startswith(b'uprr: replay: divergence') \
            or b'changed since it was recorded' not in lines[-1] or sysf.encode() not in lines[-1]:
        raise Fail('a replay whose kept file changed must stop with one line naming it\n  '
                   + bad.explain())
    log(f'  ok: {lines[-1].decode()}')


def page_cache(paths, keep):
    """Read each file of @paths into the page cache (@keep), or drop its
    clean pages from it (posix_fadvise(2) POSIX_FADV_DONTNEED: these files
    only, as on a machine that has not read them since it booted)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            if keep:
                while os.read(fd, 1 << 20):
                    pass
            else:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


@case('cp-r-read-ref')
def c_cp_r_read_ref(h):
    """cp -r of a package-managed tree (/usr/include/linux) into tmpfs: the
    reads of 16 KiB or more are kept by reference to the files, each kept
    once by a hard link; the replay reads them from the trace's links and
    checks their hashes. Only a read whose pages are in the page cache is
    buffered (RWF_NOWAIT: one that would wait for the disk fails with
    EAGAIN and is made again on the traced path, which keeps its bytes): the
    tree is read first (on a fresh machine its pages are not cached: CI
    once saw 5 reads by reference for 57 files). Then again with the tree's
    pages dropped from the cache: most reads take the traced path, and the
    replay is the recording all the same."""
    src = '/usr/include/linux'
    if not os.path.isdir(src) or not system_file(64 * 1024):
        raise Skip(f'no {src} with large package-managed files (linux-libc-dev)')
    big = [os.path.join(src, n) for n in sorted(os.listdir(src))
           if os.path.isfile(os.path.join(src, n)) and not os.path.islink(os.path.join(src, n))
           and os.path.getsize(os.path.join(src, n)) >= 16384]
    tree = [os.path.join(d, n) for d, _, names in os.walk(src) for n in names
            if os.path.isfile(os.path.join(d, n)) and not os.path.islink(os.path.join(d, n))]
    shm = tempfile.mkdtemp(prefix='uprr-e2e-cpref-', dir='/dev/shm')
    try:
        dst = os.path.join(shm, 'copy')
        page_cache(tree, True)
        trace, rec = h.record([need('cp'), '-r', src, dst], name='cp-r-ref', options=['-v'])
        reads, nbytes = ref_reads(rec)
        log(f'  {len(big)} files of 16 KiB or more; {reads} reads, {nbytes} bytes kept by reference')
        if reads < len(big):
            raise Fail(f'{len(big)} files of {src} hold 16 KiB or more: each should have a read '
                       f'kept by reference, got {reads}\n  ' + rec.explain())
        for path in big[:5]:
            if not kept_link(trace, path):
                raise Fail(f'the trace should keep {path} by a hard link')
        shutil.rmtree(dst)
        compare(rec, h.replay(trace))
        page_cache(tree, False)
        trace, rec = h.record([need('cp'), '-r', src, dst], name='cp-r-cold', options=['-v'])
        log(f'  pages dropped: {ref_reads(rec)[0]} reads kept by reference')
        shutil.rmtree(dst)
        compare(rec, h.replay(trace))
    finally:
        shutil.rmtree(shm, ignore_errors=True)


@case('node-pkeys')
def c_node_pkeys(h):
    """node allocates a memory protection key at start (pkey_alloc, for V8's
    code space): recorded, replayed, and the output is a native run's."""
    script = ('let h = 0; for (let i = 0; i < 200000; i++) h = (h * 31 + i) >>> 0;'
              'console.log("node: " + h)')
    rec = native_record_replay(h, [need('node'), '-e', script], 'node')
    expect_output(rec, b'node: ', 'printed nothing')


@case('script-pty')
def c_script_pty(h):
    """script(1) of util-linux, a real pty user: it opens a pty, sets the
    terminal up and runs a shell on the slave."""
    rec = native_record_replay(h, [need('script'), '-q', '-c', 'echo hi', '/dev/null'], 'script',
                               stdin_null=True)
    expect_output(rec, b'hi\r\n', 'did not show the command\'s output')


@case('record-setuid-child')
def c_record_setuid_child(h):
    """A child that execs a set-user-ID program owned by another user stops
    the recording with one line naming it; what came before stays a valid
    trace. A set-user-ID script gains nothing (the kernel ignores the bit of
    an interpreted file) and is recorded as usual."""
    if os.geteuid() != 0:
        raise Skip('making a set-user-ID file of another user needs root')
    if os.statvfs(h.tmp).f_flag & os.ST_NOSUID:
        raise Skip(f'{h.tmp} is on a nosuid mount: no program there gains privileges')
    nobody = 65534
    prog = h.path('id-setuid')
    shutil.copy(need('id'), prog)
    script = h.path('script-setuid')
    with open(script, 'w') as f:
        f.write('#!/bin/sh\necho script ran\n')
    for path in (prog, script):
        os.chown(path, nobody, -1)
        os.chmod(path, 0o4755)
    sh = need('sh')
    trace = h.new_trace_path('setuid')
    r = run([h.uprr, 'record', '-o', trace, '--', sh, '-c',
             f'echo before; {prog}; echo after'], timeout=60, what='uprr record', cwd=h.tmp)
    check_uprr_error(r, 'record of a set-user-ID child', prog)
    if b'set-user-ID' not in r.stderr or r.stdout != b'before\n':
        raise Fail('record of a set-user-ID child: wrong message or output\n  ' + r.explain())
    rows = uprr_ps(h, trace)
    if len(rows) != 2:
        raise Fail(f'the trace cut at the set-user-ID exec lists {len(rows)} processes: {rows}')
    _, rec = h.record_replay([sh, '-c', f'echo before; {script}; echo after'],
                             name='setuid-script')
    if rec.stdout != b'before\nscript ran\nafter\n':
        raise Fail('the set-user-ID script did not run as usual:\n' + tail(rec.stdout))


@case('default-trace-dir')
def c_default_dir(h):
    prog = h.prog('time_random')
    base = h.path('traces')
    env = dict(os.environ, UPRR_TRACE_DIR=base)
    recs = []
    for i in range(2):
        r = run([h.uprr, 'record', prog], timeout=RECORD_TIMEOUT, what='uprr record',
                env=env, cwd=h.tmp)
        check_not_broken(r, 'record')
        if r.status != 0:
            raise Fail('record without -o failed\n  ' + r.explain())
        link = os.path.join(base, 'latest-trace')
        if not os.path.islink(link):
            raise Fail(f'no latest-trace link in {base}: {os.listdir(base)}')
        target = os.path.realpath(link)
        if not re.fullmatch(r'time_random-\d+', os.path.basename(target)) or \
                os.path.dirname(target) != os.path.realpath(base):
            raise Fail(f'latest-trace points at {target}, expected {base}/time_random-N')
        if stat.S_IMODE(os.stat(target).st_mode) != 0o700:
            raise Fail(f'{target} is not mode 0700')
        recs.append((target, r))
    if recs[0][0] == recs[1][0]:
        raise Fail('the second recording reused the first one\'s directory')
    # replay and info without DIR use the latest trace
    compare(recs[1][1], run([h.uprr, 'replay'], timeout=REPLAY_TIMEOUT, what='uprr replay',
                            env=env, cwd=h.tmp))
    info = run([h.uprr, 'info'], timeout=60, what='uprr info', env=env, cwd=h.tmp)
    if info.status != 0 or b'time_random' not in info.stdout:
        raise Fail('uprr info of the latest trace does not name the command\n  ' +
                   info.explain() + '\n  stdout:\n' + tail(info.stdout))
    # HOME is the fallback when UPRR_TRACE_DIR is unset.
    home = h.path('home')
    os.mkdir(home)
    env = {k: v for k, v in os.environ.items() if k != 'UPRR_TRACE_DIR'}
    env['HOME'] = home
    r = run([h.uprr, 'record', prog], timeout=RECORD_TIMEOUT, what='uprr record', env=env,
            cwd=h.tmp)
    if r.status != 0:
        raise Fail('record with HOME and no UPRR_TRACE_DIR failed\n  ' + r.explain())
    base = os.path.join(home, '.local', 'share', 'uprr')
    if not os.path.islink(os.path.join(base, 'latest-trace')):
        raise Fail(f'no {base}/latest-trace after recording with UPRR_TRACE_DIR unset')


@case('lazy-libraries')
def c_lazy_libraries(h):
    """uprr loads capstone, libpfm4, libelf and libdw only when a recording
    needs them (issue 14: relocating them before main() was 1.4 ms of every
    start): a shell that reads its parent's maps, uprr's, under `uprr
    record` finds none of them there, and replays the same bytes."""
    sh, cat = need('sh'), need('cat')
    _, rec = h.record_replay([sh, '-c', f'exec {cat} /proc/$PPID/maps'])
    maps = rec.stdout.decode('utf-8', 'replace')
    if os.path.realpath(h.uprr) not in maps:
        raise Fail(f'the maps read are not those of uprr:\n{tail(rec.stdout)}')
    for lib in ('libcapstone', 'libpfm', 'libelf', 'libdw'):
        if lib in maps:
            raise Fail(f'uprr record of a shell mapped {lib} at its start')


@case('exec-start')
def c_exec_start(h):
    """What a tiny program pays around its exec (issue 14: date recorded at
    3.8x native and replayed at 4x). ld.so's syscall sites are not patched
    while it has no TLS: a thread without a thread key (FS base 0) would only
    come back traced from the library, one stop more a site (/bin/true
    patched 8 sites, now at most 2 with Debian 12's glibc: those called after
    the TLS is set up). Replay makes a program's first mmap of each file with
    the openat of the trace's copy, in one injection (UPRR_LOG=debug counts
    them: /bin/true maps ld.so.cache and libc)."""
    true = need('true')
    trace, _ = h.record_replay([true])
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    patches = [l for l in r.stdout.decode().splitlines() if l.split()[2:3] == ['site-patch']]
    if len(patches) > 2:
        raise Fail(f'{len(patches)} syscall sites patched in a recording of {true}:\n  ' +
                   '\n  '.join(patches))
    dbg = h.replay(trace, quiet=True, env=dict(os.environ, UPRR_LOG='debug'))
    m = re.search(rb'(\d+) first mmaps of a file injected with their openat', dbg.stderr)
    if dbg.status != 0 or not m or int(m.group(1)) < 2:
        raise Fail('replay did not inject the first mmaps of ld.so.cache and libc with their '
                   f'openat (UPRR_LOG=debug said: {m.group(0).decode() if m else "nothing"}; '
                   f'status {dbg.status})')


@case('library-mappings')
def c_library_mappings(h):
    """ld.so maps each library first over its whole span, bss included,
    which reaches past the end of the file; a system library never grows in
    place, so that mapping is not one that follows the file's changes (its
    mmap exit event has no fifth value, format 5): replay maps the trace's
    copy of libc instead of loading 1.9 MB into a shared memfd."""
    true = need('true')
    trace, _ = h.record_replay([true])
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    mmaps = [l.split() for l in r.stdout.decode().splitlines()
             if l.split()[2:4] == ['syscall-exit', '0x9']]
    files = [m for m in mmaps if len(m) > 5 and m[5] != '0']
    if not files:
        raise Fail(f'no mmap of a file in the recording of {true}')
    followed = [' '.join(m) for m in files if len(m) > 7 and m[7] != '0']
    if followed:
        raise Fail('mmaps of system libraries recorded as following their file:\n  ' +
                   '\n  '.join(followed))


@case('changed-interpreter')
def c_changed_interpreter(h):
    """Replay runs the recorded ELF interpreter's code, whatever file sits at
    its path now: a program whose PT_INTERP names a copy of ld.so outside
    the system's trees (the trace copies it, no hard link) prints its
    interpreter's ELF header as mapped; the copy's unused header bytes
    (e_ident's padding) change before the replay, which must print the
    recorded header. (Where the trace holds a hard link to the very file the
    kernel maps, replay skips the rewrite.)"""
    system_ld = '/lib64/ld-linux-x86-64.so.2'
    data = open(h.prog('interp_bytes'), 'rb').read()
    old = system_ld.encode() + b'\0'
    at = data.find(old)
    if at < 0:
        raise Fail(f'interp_bytes has no PT_INTERP {system_ld}')
    short = tempfile.mkdtemp(prefix='/tmp/ul')  # the new path must fit in the old one's bytes
    try:
        ld = os.path.join(short, 'l')
        shutil.copyfile(os.path.realpath(system_ld), ld)
        os.chmod(ld, 0o755)
        new = ld.encode() + b'\0'
        if len(new) > len(old):
            raise Fail(f'{ld} is longer than {system_ld}')
        exe = h.path('interp_bytes')
        with open(exe, 'wb') as f:
            f.write(data[:at] + new.ljust(len(old), b'\0') + data[at + len(old):])
        os.chmod(exe, 0o755)
        header = open(ld, 'rb').read(64)
        trace, rec = h.record([exe])
        if rec.stdout != b'interpreter header: ' + header.hex().encode() + b'\n':
            raise Fail(f'the recording did not run {ld}: {rec.stdout!r}')
        with open(ld, 'r+b') as f:
            f.seek(9)  # EI_PAD: neither the kernel nor ld.so reads it
            f.write(b'uprr!!!')
        compare(rec, h.replay(trace))
    finally:
        shutil.rmtree(short, ignore_errors=True)


@case('info')
def c_info(h):
    trace, rec = h.record([h.prog('threads_mutex')], name='info')
    r = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    check_not_broken(r, 'info')
    if r.status != 0:
        raise Fail('uprr info failed\n  ' + r.explain())
    text = r.stdout.decode('utf-8', 'replace').lower()
    missing = [w for w in ('threads_mutex', 'threads', 'events') if w not in text]
    if missing:
        raise Fail(f'uprr info does not mention {missing}:\n' + tail(r.stdout, 30))
    log(tail(r.stdout, 30))


@case('changed-executable')
def c_changed_exe(h):
    """The trace keeps the executable by content: replay survives its
    replacement and its removal."""
    exe = h.path('prog')
    shutil.copy2(h.prog('time_random'), exe)
    trace, rec = h.record([exe])
    os.unlink(exe)
    shutil.copy2(h.prog('rdtsc'), exe)  # another program at the same path
    log(f'  replaced {exe} with another program')
    compare(rec, h.replay(trace))
    remove_input(exe)
    compare(rec, h.replay(trace))


@case('stdin')
def c_stdin(h):
    """record gives the program the real stdin; replay reads it from the trace."""
    sha = need('sha256sum')
    data = os.urandom(1 << 20)
    path = h.path('stdin.bin')
    with open(path, 'wb') as f:
        f.write(data)
    with open(path, 'rb') as f:
        trace, rec = h.record([sha], stdin=f)
    remove_input(path)
    if rec.stdout.split()[0] != hashlib.sha256(data).hexdigest().encode():
        raise Fail(f'sha256sum did not read the real stdin: {rec.stdout!r}')
    compare(rec, h.replay(trace))  # stdin of the replay: /dev/null


@case('environment')
def c_environment(h):
    """The recorded environment, not replay's own, is what the program sees."""
    printenv = need('printenv')
    value = os.urandom(8).hex()
    env = dict(os.environ, UPRR_E2E_VALUE=value)
    trace, rec = h.record([printenv, 'UPRR_E2E_VALUE'], env=env)
    if rec.stdout != (value + '\n').encode():
        raise Fail(f'printenv printed {rec.stdout!r}, expected {value}')
    compare(rec, h.replay(trace, env=dict(os.environ, UPRR_E2E_VALUE='changed')))


@case('affinity')
def c_affinity(h):
    """uprr pins the program to one CPU, yet it sees the CPUs it has natively
    (nproc: sched_getaffinity), and the affinity it sets itself (taskset)."""
    sh = need('sh')
    need('nproc')
    need('taskset')
    script = 'nproc; taskset -c 0 nproc; taskset -p $$ | sed "s/.*: //"'
    native = run([sh, '-c', script], timeout=30, what='native')
    trace, rec = h.record([sh, '-c', script])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare(rec, h.replay(trace))


@case('killed-recorder')
def c_killed_recorder(h):
    """SIGKILL to uprr record in mid-run: the tracee dies with it, nothing
    of the recording is left running, and the trace replays up to its last
    whole frame, then says the recording was cut short (exit 123); uprr
    info, dump and ps say the trace is incomplete. Three programs: tick_lines
    (a numbered line every 5 ms for 5 s; its frames go out every 250 ms),
    the same with 4 threads sharing a mutex, and od of /dev/urandom (a frame
    every few ms, the last one often cut in the middle)."""
    for name, argv in (('tick_lines', [h.prog('tick_lines'), '1', '1000', '5']),
                       ('tick_lines-4', [h.prog('tick_lines'), '4', '250', '5'])):
        # killed once the trace holds a few frames (a second or so), long
        # before the program's end
        rep, out = kill_recorder_when(h, name, argv, lambda out: out.count(b'\n') >= 100,
                                      min_frames=4)
        if re.search(rb'^done', out, re.M):
            raise Fail(f'{name} ended before uprr record was killed')
        lines = rep.stdout.count(b'\n')
        if lines < 20 or not rep.stdout.endswith(b'\n'):
            raise Fail(f'the replay of the killed recording of {name} showed {lines} lines:\n'
                       + tail(rep.stdout))
        log(f'  {name}: replay showed {lines} of the {out.count(NL)} lines printed')
    od = need('od')
    trace = h.new_trace_path('killed')
    events = os.path.join(trace, 'events')
    p = start([h.uprr, 'record', '-o', trace, '--', od, '-An', '-tx1', '/dev/urandom'],
              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=h.tmp)
    out = bytearray()
    deadline = time.monotonic() + time_left(60)
    try:
        # Enough output that the events stream holds several whole frames.
        while True:
            chunk = read_some(p.stdout, deadline)
            if chunk == b'':
                raise Fail(f'od ended by itself under uprr record ({describe_status(p.wait())})')
            out += chunk or b''
            size = os.path.getsize(events) if os.path.exists(events) else 0
            if size >= 3 << 20 and len(out) >= 4 << 20:
                break
            if time.monotonic() > deadline:
                raise Fail(f'the trace grew to {size} bytes only')
        tracees = _descendants(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        log(f'  killed uprr record after {len(out)} bytes of output; trace events {size} bytes')
        p.wait()
        # The tracee dies with its supervisor (PTRACE_O_EXITKILL): its
        # output ends soon. Keep what it printed.
        end = time.monotonic() + 10
        while time.monotonic() < end:
            chunk = read_some(p.stdout, end)
            if chunk == b'':
                break
            out += chunk or b''
        else:
            raise Fail('od went on running after uprr record was killed')
        # Its files close in do_exit before it becomes a zombie: give the
        # exit a bounded moment to finish.
        gone_by = time.monotonic() + 10
        for pid in tracees:
            while os.path.exists(f'/proc/{pid}') and not _is_zombie(pid):
                if time.monotonic() > gone_by:
                    raise Fail(f'tracee {pid} survived the death of uprr record')
                time.sleep(0.05)
    finally:
        if p.poll() is None:
            kill_group(p.pid, p.pid)
            p.wait()
        p.stdout.close()
    finish_group(p, 'uprr record')
    rep = h.replay(trace)
    replay_cut_result(rep, bytes(out), 'replay of a trace whose recorder was killed')
    if not rep.stdout:
        raise Fail('the replay of the killed recording showed no output')
    log(f'  replay showed {len(rep.stdout)} of the {len(out)} bytes od printed, then stopped')
    check_incomplete(h, trace)


NL = b'\n'
INCOMPLETE_RE = re.compile(rb'^end:         incomplete: recorder did not finish \(killed, or it '
                           rb'could not write the trace(; .*)?\)$', re.M)


def check_incomplete(h, trace, replays_to=None):
    """uprr info, dump and ps of @trace, which its recorder did not finish:
    info says "incomplete: recorder did not finish" (and, if @replays_to is
    given, that text on its "replays to:" line), dump lists the events and
    says in one line that there is no end after them, ps warns; all exit 0.
    Returns the number of events dump listed."""
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    if info.status != 0 or not INCOMPLETE_RE.search(info.stdout):
        raise Fail(f'uprr info does not say the trace is incomplete:\n'
                   f'  {info.explain()}\n{tail(info.stdout)}')
    to = re.search(rb'^replays to:  (.*)$', info.stdout, re.M)
    if not to or (replays_to is not None and replays_to.encode() not in to.group(1)):
        raise Fail(f'uprr info does not say where the replay of an incomplete trace ends '
                   f'({replays_to!r}):\n{tail(info.stdout)}')
    log(f'  uprr info: {INCOMPLETE_RE.search(info.stdout).group(0).decode().split(None, 1)[1]}'
        f'; replays to {to.group(1).decode()}')
    dump = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    n = dump.stdout.count(b'\n')
    m = one_uprr_line(dump, re.compile(rb'^uprr: trace: \'.*\' is incomplete: recorder did not '
                                       rb'finish \(.*\): no end after event (\d+)$'), 'uprr dump')
    if dump.status != 0 or int(m.group(1)) != n:
        raise Fail(f'uprr dump of an incomplete trace listed {n} events and said '
                   f'{m.group(0).decode()!r}\n  {dump.explain()}')
    ps = run([h.uprr, 'ps', trace], timeout=60, what='uprr ps')
    one_uprr_line(ps, re.compile(rb'^uprr: trace: \'.*\' is incomplete: recorder did not finish'),
                  'uprr ps')
    if ps.status != 0:
        raise Fail(f'uprr ps of an incomplete trace failed\n  {ps.explain()}')
    return n


def read_some(f, deadline):
    """Up to 64 KiB from pipe @f; b'' at its end; None once @deadline passed."""
    ready, _, _ = select.select([f], [], [], max(0, deadline - time.monotonic()))
    if not ready:
        return None
    return os.read(f.fileno(), 1 << 16)


def _is_zombie(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            st = f.read()
        return st[st.rindex(')') + 2] in 'ZX'
    except OSError:
        return True


# Slow cases: more runs of the same mechanisms (suite 'slow').

@case('stress-racy', slow=True)
def c_stress_racy(h):
    prog = h.prog('racy_crash')
    crashes = 0
    for i in range(30):
        trace, rec = h.record([prog], name=f'stress{i}', expect_status=None)
        if rec.status not in (0, 128 + signal.SIGSEGV):
            raise Fail(f'racy_crash ended neither with 0 nor with SIGSEGV\n  {rec.explain()}')
        crashes += rec.status != 0
        for _ in range(2):
            compare(rec, h.replay(trace))
        shutil.rmtree(trace)
    log(f'  {crashes} of 30 recordings crashed; every replay matched')


@case('stress-progs', slow=True)
def c_stress_progs(h):
    for name in ('threads_mutex', 'pipe_threads', 'signal_async', 'rdtsc', 'time_random'):
        for i in range(4):
            trace, _ = h.record_replay([h.prog(name)], name=f'{name}{i}', replays=2)
            shutil.rmtree(trace)


@case('stress-timer_flood', slow=True)
def c_stress_timer_flood(h):
    """timer_flood recorded 15 times, each replayed: an interrupt may stop
    its thread on its way to a counted branch's trap, where the SIGALRM
    waiting for that point is raised again for its delivery (a resumption
    from the interrupt's stop delivers none: the program ran on without
    the handler the trace holds, and replay diverged 1 time in 10-20).
    uprr record -v counts those raised."""
    raised = runs_raised = 0
    for i in range(15):
        trace, rec = h.record_replay([h.prog('timer_flood')], name=f'flood{i}', options=('-v',))
        expect_output(rec, b'timer_flood: ok\n', 'did not get through its timer signals')
        m = re.search(rb'(\d+) signals at execution points where an interrupt stopped', rec.stderr)
        if m:
            raised += int(m.group(1))
            runs_raised += 1
        shutil.rmtree(trace)
    log(f'  {runs_raised} of 15 recordings raised {raised} signals at an interrupt\'s stop; '
        'every replay matched')


@case('stress-memcached', slow=True)
def c_stress_memcached(h):
    c_memcached(h, requests=50000, stop_via_uprr=True)


# ---------------------------------------------------------------------------

# --- hardening: disk full, killed recorder, misbehaving programs ---

UNRECORDED_RE = re.compile(
    rb'^uprr: record: (.+): No space left on device; the program goes on unrecorded '
    rb'\(the trace keeps its first (\d+) events\)$')


def need_root(what):
    if os.geteuid() != 0:
        raise Skip(f'{what} mounts a small tmpfs, which needs root (CI runs as root)')


class Tmpfs:
    """A tmpfs of @kib KiB mounted on a new directory of the case (root only)."""

    def __init__(self, h, name, kib):
        self.path = h.path(name)
        os.mkdir(self.path)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={kib}k,mode=0700', 'tmpfs',
                            self.path], capture_output=True)
        if r.returncode != 0:
            raise Fail(f'cannot mount a tmpfs on {self.path}: {r.stderr.decode().strip()}')
        log(f'  mounted a {kib} KiB tmpfs on {self.path}')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(['umount', '-l', self.path])


def trace_sizes(trace):
    """(bytes of kept files, bytes of the whole trace directory)."""
    total = files = 0
    for top, _, names in os.walk(trace):
        for n in names:
            size = os.path.getsize(os.path.join(top, n))
            total += size
            files += size if os.path.basename(top) == 'files' else 0
    return files, total


def one_uprr_line(r, regex, what):
    """The match of the one uprr line of @r's stderr, which must match @regex."""
    lines = r.uprr_lines()
    m = regex.match(lines[0]) if len(lines) == 1 else None
    if not m:
        raise Fail(f'{what}: expected one uprr line matching {regex.pattern.decode()!r}, got '
                   f'{[line.decode() for line in lines]}\n  {r.explain()}')
    log(f'  ok: {lines[0].decode()}')
    return m


def check_replay_ends_early(h, trace, recorded, events=None):
    """Replay the cut trace @trace: its output is a prefix of @recorded (the
    program's whole output), then one line 'uprr: replay: the recording was
    cut short at event N (the recorder did not finish it...)' (N = @events if
    given) and exit 123. Returns the replay's Result."""
    rep = h.replay(trace)
    m = replay_cut_result(rep, recorded, 'replay of a cut trace')
    if events is not None and int(m.group(1)) != events:
        raise Fail(f'the recorder said the trace keeps {events} events, the replay ends at '
                   f'event {m.group(1).decode()}')
    if not recorded.startswith(rep.stdout):
        compare_bytes(recorded[:len(rep.stdout)], rep.stdout, 'stdout', 'the program',
                      'the replay of its cut trace')
    log(f'  replay showed {len(rep.stdout)} of {len(recorded)} bytes, then ended early')
    return rep


def record_on_full_disk(h, argv, name, fraction, options=(), expect=None):
    """Record @argv into a tmpfs that holds the kept files and @fraction of
    the events the trace would need (@fraction 0: half of the kept files).
    Checks that the program runs as natively: same stdout, stderr, status,
    and that the trace replays to its last whole frame (unless @expect gives
    the exit status uprr must end with: then stdout is a prefix). Returns
    (recording, native run, the match of its uprr line or None)."""
    native = run(argv, timeout=120, what=f'{name} (native)', cwd=h.tmp)
    # sized on a tmpfs too: there no file can be kept by a hard link (reads
    # of package-managed files keep their bytes, as on the small disk)
    with Tmpfs(h, name + '-sizing', 4 * 1024 * 1024) as big:
        full = os.path.join(big.path, 'trace')
        rec = run([h.uprr, 'record', '-o', full] + list(options) + ['--'] + argv,
                  timeout=RECORD_TIMEOUT, what='uprr record', cwd=h.tmp)
        check_record(rec, full, native.status if expect is None else None)
        files, total = trace_sizes(full)
    kib = int((files + (total - files) * fraction) if fraction else files / 2) // 1024
    with Tmpfs(h, name + '-disk', kib) as disk:
        trace = os.path.join(disk.path, 'trace')
        rec = run([h.uprr, 'record', '-o', trace] + list(options) + ['--'] + argv,
                  timeout=RECORD_TIMEOUT, what='uprr record', cwd=h.tmp)
        if expect is not None:
            if rec.status != expect:
                raise Fail(f'record on a full disk: expected {describe_status(expect)}\n'
                           f'  {rec.explain()}')
            if not native.stdout.startswith(rec.stdout):
                compare_bytes(native.stdout[:len(rec.stdout)], rec.stdout, 'stdout',
                              'the native run', 'the killed recording')
            return rec, native, None
        check_record(rec, trace, native.status)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run',
                      'the run whose trace filled the disk')
        compare_bytes(native.stderr, rec.program_stderr(), 'stderr', 'the native run',
                      'the run whose trace filled the disk')
        m = one_uprr_line(rec, UNRECORDED_RE, 'record on a full disk')
        check_replay_ends_early(h, trace, rec.stdout, int(m.group(2)))
    return rec, native, m


@case('disk-full')
def c_disk_full(h):
    """The trace fills its disk in the middle of the events: uprr says so in
    one line, the program (two processes, a thread that gets counting code,
    rdtsc, a signal) goes on unrecorded with its native output and status,
    and the trace replays to its last whole frame."""
    need_root('disk-full')
    argv = [h.prog('fill_trace'), '16']
    rec, native, m = record_on_full_disk(h, argv, 'fill', 0.4)
    if not m.group(1).startswith(b'cannot write the trace') or int(m.group(2)) < 10:
        raise Fail('the disk did not fill in the middle of the events')
    # the same, told to stop instead: the program dies with the recording
    rec, _, _ = record_on_full_disk(h, argv, 'fill-kill', 0.4,
                                           options=['--on-trace-error=kill'],
                                           expect=UPRR_FAILURE)
    if len(rec.stdout) >= len(native.stdout):
        raise Fail('--on-trace-error=kill: the program ran to its end')
    one_uprr_line(rec, re.compile(rb'^uprr: record: cannot write the trace: No space left on '
                                  rb'device$'), '--on-trace-error=kill')


@case('disk-full-file-copy')
def c_disk_full_file_copy(h):
    """The disk fills while the trace keeps a copy of a library the loader
    maps: the message names the file; the program runs as natively."""
    need_root('disk-full-file-copy')
    _, _, m = record_on_full_disk(h, [h.prog('fill_trace'), '2'], 'copy', 0)
    if not re.match(rb'cannot keep /\S+ in the trace$', m.group(1)):
        raise Fail(f'the disk did not fill while a file was kept: {m.group(0).decode()}')


@case('disk-full-tree')
def c_disk_full_tree(h):
    """Process trees whose trace fills the disk go on unrecorded: a shell
    pipeline and python3 multiprocessing, each with its native output."""
    need_root('disk-full-tree')
    pool, _ = python_script(h, 'pool.py', POOL_SCRIPT)
    record_on_full_disk(h, ['sh', '-c', 'seq 1 200000 | sort -r | head -5; seq 1 30000 | wc'],
                        'pipeline', 0.5)
    record_on_full_disk(h, pool, 'pool', 0.5)


POOL_SCRIPT = '''
import hashlib, multiprocessing
def work(n):
    h = hashlib.sha256()
    for i in range(200):
        h.update(str(n * i).encode())
    return h.hexdigest()[:8]
if __name__ == '__main__':
    with multiprocessing.Pool(2) as p:
        r = p.map(work, range(2000))
    print(len(r), hashlib.sha256(''.join(r).encode()).hexdigest())
'''

LONG_POOL_SCRIPT = '''
import multiprocessing
def work(n):
    return sum((n * i) % 7 for i in range(20000))
if __name__ == '__main__':
    with multiprocessing.Pool(2) as p:
        for k in range(100000):
            print(k, sum(p.map(work, range(8))), flush=True)
'''


def whole_frames(path):
    """How many whole frames the stream file at @path holds now (0 if it
    does not exist; a frame being written is not counted)."""
    try:
        data = read(path)
    except OSError:
        return 0
    n = off = 0
    while off + FRAME_HEADER <= len(data) and data[off:off + 4] == FRAME_MAGIC:
        off += FRAME_HEADER + int.from_bytes(data[off + 12:off + 16], 'little')
        if off > len(data):
            break
        n += 1
    return n


def kill_recorder_when(h, name, argv, ready, events_bytes=0, min_frames=0):
    """Record @argv and SIGKILL uprr record once ready(output so far) says
    so and the events stream has @events_bytes and @min_frames whole frames
    on disk. Then no process of the recording may be left, running or
    stopped (finish_group: mirrors and every tracee are in uprr's process
    group), and the trace must replay up to its last whole frame, its output
    a prefix of what the program printed, and uprr info, dump and ps say it
    is incomplete. Returns (the replay's Result, the program's output)."""
    trace = h.new_trace_path(name)
    out_path = h.path(name + '.out')
    with open(out_path, 'wb') as out:
        p = start([h.uprr, 'record', '-o', trace, '--'] + argv, stdout=out,
                  stderr=subprocess.DEVNULL, cwd=h.tmp)
    try:
        deadline = time.monotonic() + time_left(120)
        events = os.path.join(trace, 'events')
        while not (os.path.exists(events) and os.path.getsize(events) >= events_bytes and
                   ready(read(out_path)) and whole_frames(events) >= min_frames):
            if p.poll() is not None:
                raise Fail(f'uprr record of {name} ended ({describe_status(p.returncode)}) '
                           'before it was killed')
            if time.monotonic() > deadline:
                raise Fail(f'{name} did not get far enough under uprr record in time')
            time.sleep(0.05)
        procs = _descendants(p.pid)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        log(f'  killed uprr record of {name} with {len(procs)} processes under it')
    finally:
        if p.poll() is None:
            kill_group(p.pid, p.pid)
            p.wait()
    finish_group(p, 'uprr record killed with SIGKILL')
    for pid in procs:
        if os.path.exists(f'/proc/{pid}') and not _is_zombie(pid):
            raise Fail(f'process {pid} of the recording outlived uprr record')
    out = read(out_path)
    rep = check_replay_ends_early(h, trace, out)
    check_incomplete(h, trace)
    return rep, out


@case('killed-recorder-tree')
def c_killed_recorder_tree(h):
    """SIGKILL to uprr record while it records process trees: python3
    multiprocessing (workers and restore-point mirrors), a shell pipeline,
    and a pre-forking server with clients connected."""
    pool, _ = python_script(h, 'long_pool.py', LONG_POOL_SCRIPT)
    kill_recorder_when(h, 'pool', pool,
                       lambda out: out.count(b'\n') >= 20)
    kill_recorder_when(h, 'pipeline',
                       ['sh', '-c', 'i=0; while [ $i -lt 1000000 ]; do echo line $i; '
                        'i=$((i+1)); done | cat | cat'],
                       lambda out: out.count(b'\n') >= 2000, events_bytes=64 << 10)
    port = free_port()
    served = []

    def serving(out):
        # the workers have started and answered some requests
        if len(re.findall(rb'^worker pid', out, re.M)) < 2 or not port_open(port):
            return False
        with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
            f = s.makefile('rwb')
            for i in range(20):
                f.write(b'req-%d\n' % i)
                f.flush()
                served.append(f.readline())
        return True

    kill_recorder_when(h, 'prefork', [h.prog('prefork_server'), str(port)], serving)
    if len(served) != 20 or not all(r.startswith(b'req-') for r in served):
        raise Fail(f'the recorded server did not answer: {served[-3:]}')
    end = time.monotonic() + 10
    while port_open(port):
        if time.monotonic() > end:
            raise Fail(f'port {port} still open after the recorder of its server was killed')
        time.sleep(0.1)


@case('misbehave-sigkill')
def c_misbehave_sigkill(h):
    """A program that kills itself with SIGKILL while another thread waits
    in a read: recorded and replayed, exit 137."""
    h.record_replay([h.prog('misbehave'), 'sigkill'], expect_status=128 + signal.SIGKILL)


@case('misbehave-forks')
def c_misbehave_forks(h):
    """200 children forked at once and reaped: all recorded and replayed;
    uprr ps lists the 201 processes with their exit statuses."""
    trace, rec = h.record_replay([h.prog('misbehave'), 'forks', '200'])
    if b'reaped 200 children, status sum 20100' not in rec.stdout:
        raise Fail('the recorded program lost children:\n' + tail(rec.stdout))
    rows = uprr_ps(h, trace)
    parent = rows[0][0] if rows else ''
    check_ps(rows, [(parent, '--', '0', ANY_CMD)] +
             [(row[0], parent, str(i % 200 + 1), ANY_CMD) for i, row in enumerate(rows[1:])],
             'forks')
    if len(rows) != 201 or len({r[0] for r in rows}) != 201:
        raise Fail(f'uprr ps lists {len(rows)} processes, expected 201 different ones')


class _AnyCmd(tuple):
    """check_ps field that accepts any command line."""

    def __contains__(self, item):
        return True


ANY_CMD = _AnyCmd()


@case('misbehave-closefds')
def c_misbehave_closefds(h):
    """A program that closes every file descriptor, 0-2 and any uprr might
    use (close_range(3, ~0U)), then opens files again: status 0 says each
    fd number and read was as on Linux, in the recording and the replay."""
    _, rec = h.record_replay([h.prog('misbehave'), 'closefds'])
    if b'closing every file descriptor' not in rec.stdout:
        raise Fail('the program did not run:\n' + tail(rec.stdout))


@case('misbehave-handlers')
def c_misbehave_handlers(h):
    """A handler for every signal (SIGKILL and SIGSTOP refused), then
    signals raised and received from another process, three real-time ones
    queued while blocked: none lost, replayed alike."""
    _, rec = h.record_replay([h.prog('misbehave'), 'handlers'])
    for want in (b'60 handlers installed, 4 refused', b'sigaction(9) failed',
                 b'sigaction(19) failed', b'signal 39 (RT) caught 3 time(s)',
                 b'signal 10 (USR1) caught 2 time(s)', b'signal 11 (SEGV) caught 1 time(s)',
                 b'signal 13 (PIPE) caught 1 time(s)', b'22 signals caught in all'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))


@prog_case('ptrace_child')
def c_ptrace_child(h):
    """A program that ptraces its own child (a crash reporter, a traced
    exec, attach/seize/detach): ptrace between recorded processes is
    emulated; the recording behaves as the native run, the replay as the
    recording."""
    prog = h.prog('ptrace_child')
    for mode in ('crash', 'exec', 'attach', 'sigchld'):
        native = run([prog, mode], timeout=30, what=f'native ptrace_child {mode}')
        if native.status != 0:
            raise Fail(f'ptrace_child {mode} fails natively:\n' + tail(native.stdout))
        trace, rec = h.record([prog, mode], name=mode)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
        compare(rec, h.replay(trace))


@prog_case('ptrace_step')
def c_ptrace_step(h):
    """A small debugger as gdb works: int3 breakpoints planted with POKETEXT
    and through /proc/PID/task/TID/mem, single steps (PTRACE_SINGLESTEP;
    over syscall instructions, into a handler), registers through
    GETREGSET/SETREGSET, debug registers (DR6, a hardware watchpoint). The
    recording behaves as the native run (but for the random value and what
    the child computes from it); the replay steps to the same points."""
    prog = h.prog('ptrace_step')
    native = run([prog], timeout=30, what='native ptrace_step')
    if native.status != 0:
        raise Fail('ptrace_step fails natively:\n' + tail(native.stdout))
    trace, rec = h.record([prog])

    def steady(out):
        return re.sub(rb'\(\d+\) = \d+', b'(X) = Y', out)
    compare_bytes(steady(native.stdout), steady(rec.stdout), 'stdout', 'the native run',
                  'the recording')
    if rec.stdout.count(b': TRAP_TRACE, at target') != 24:
        raise Fail('the recording did not single-step 24 times:\n' + tail(rec.stdout))
    compare(rec, h.replay(trace))


@prog_case('ptrace_fork')
def c_ptrace_fork(h):
    """A tracer that follows its tracee's children (PTRACE_O_TRACEFORK,
    TRACEVFORK, TRACECLONE, TRACEVFORKDONE, TRACEEXIT; a seized child, its
    group-stop, LISTEN, before or after the SIGCONT; INTERRUPT of one
    sleeping in a syscall): the event stops, the new ones auto-attached in
    their first stop, waited for by id though not the tracer's children;
    the recording behaves as the native run, the replay as the recording."""
    prog = h.prog('ptrace_fork')
    for mode in ('fork', 'vfork', 'clone', 'seize', 'interrupt'):
        native = run([prog, mode], timeout=30, what=f'native ptrace_fork {mode}')
        if native.status != 0:
            raise Fail(f'ptrace_fork {mode} fails natively:\n' + tail(native.stdout))
        trace, rec = h.record([prog, mode], name=mode)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
        compare(rec, h.replay(trace))


@prog_case('ptrace_syscall')
def c_ptrace_syscall(h):
    """A tracer of its child's syscall stops, as strace (PTRACE_SYSCALL,
    TRACESYSGOOD, GET_SYSCALL_INFO at signal and syscall stops, an exec
    event between the execve's entry and exit stops, rt_sigreturn and
    arch_prctl that uprr's filter otherwise lets go): the recording behaves
    as the native run, the replay as the recording."""
    prog = h.prog('ptrace_syscall')
    native = run([prog], timeout=30, what='native ptrace_syscall')
    if native.status != 0:
        raise Fail('ptrace_syscall fails natively:\n' + tail(native.stdout))
    trace, rec = h.record([prog])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare(rec, h.replay(trace))


@prog_case('ptrace_sigreturn')
def c_ptrace_sigreturn(h):
    """A tracer that asks for syscall stops only in a middle phase, of a
    child that handles signals in every phase, in a thread made before and
    one made after, and in an untraced child of its own: the handler's
    rt_sigreturn and arch_prctl stop only there, as natively (uprr's stop
    filter, stacked at the first PTRACE_SYSCALL, reaches every thread and
    the child, which see no difference and read PR_GET_SECCOMP 0). Also a
    first PTRACE_SYSCALL at the stop of a signal that ended a sigsuspend:
    the handler runs under the wait's mask, and its rt_sigreturn stops
    (suspend-quiet: a handler without syscalls). The recording behaves as
    the native run, the replay as the recording."""
    prog = h.prog('ptrace_sigreturn')
    for mode in ('phases', 'suspend', 'suspend-quiet'):
        native = run([prog, mode], timeout=30, what=f'native ptrace_sigreturn {mode}')
        if native.status != 0:
            raise Fail(f'ptrace_sigreturn {mode} fails natively:\n' + tail(native.stdout))
        trace, rec = h.record([prog, mode], name=mode)
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
        compare(rec, h.replay(trace))


@case('misbehave-traceme')
def c_misbehave_traceme(h):
    """ptrace(PTRACE_TRACEME) in the recorded program fails with EPERM: its
    parent is uprr, its tracer already (natively the shell would become its
    tracer and stop it at its next signal); in a child it succeeds as
    natively, traced by its recorded parent (emulated ptrace). Both go on,
    in the recording and the replay."""
    _, rec = h.record_replay([h.prog('misbehave'), 'traceme'])
    if b'parent: PTRACE_TRACEME returned -1 (Operation not permitted)' not in rec.stdout or \
            b'child: PTRACE_TRACEME returned 0 (now traced by the parent)' not in rec.stdout or \
            b'child status 0x700; going on' not in rec.stdout:
        raise Fail('the recorded run did not see PTRACE_TRACEME as expected:\n' + tail(rec.stdout))


# ---------------------------------------------------------------------------
# Transparency: a program behaves under uprr record as it does natively.

def record_replay_native(h, argv, *, name=None, remove=(), replays=1, env=None):
    """record_replay, and the recording's stdout, stderr and status equal a
    native run's (for programs whose output is deterministic)."""
    native = run(argv, timeout=120, what=f'{name or os.path.basename(argv[0])} (native)',
                 cwd=h.tmp, env=env)
    trace, rec = h.record_replay(argv, name=name, expect_status=native.status,
                                 remove=remove, replays=replays, env=env)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare_bytes(native.stderr, rec.program_stderr(), 'stderr', 'the native run',
                  'the recording')
    return trace, rec


@prog_case('vdso_lookup')
def c_vdso_lookup(h):
    """The vDSO stays visible (AT_SYSINFO_EHDR), its clock_gettime found by
    parsing its ELF symbols and called, and its calls recorded."""
    _, rec = record_replay_native(h, [h.prog('vdso_lookup'), '50'], replays=2)
    expect_output(rec, b'__vdso_clock_gettime: found\nvdso monotonic: yes\n',
                  'did not find or call the vDSO')


@prog_case('shared_zero')
def c_shared_zero(h):
    """MAP_SHARED of /dev/zero shared between a parent and its child."""
    _, rec = record_replay_native(h, [h.prog('shared_zero')], replays=2)
    expect_output(rec, b'sum 780 (expected 780), child\'s stores seen 190, private 0\n',
                  'did not share the /dev/zero mapping')


@prog_case('fexec_memfd')
def c_fexec_memfd(h):
    """fexecve of a memfd: replay execs the trace's copy of it."""
    _, rec = record_replay_native(h, [h.prog('fexec_memfd')], replays=2)
    expect_output(rec, b'the new image runs (hello), from a memfd: yes\n',
                  'did not run the image from the memfd')

@prog_case('sparse_map')
def c_sparse_map(h):
    """A 4 GiB sparse file mapped and read on four pages: its kept copy in
    the trace stays sparse (kilobytes on disk), and system libraries are
    kept by hard link where the trace shares their filesystem."""
    path = h.path('sparse.bin')
    native = run([h.prog('sparse_map'), path], timeout=120, what='sparse_map (native)',
                 cwd=h.tmp)
    os.unlink(path)
    trace, rec = h.record_replay([h.prog('sparse_map'), path], remove=[path])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    files = os.path.join(trace, 'files')
    copies = [n for n in os.listdir(files) if n.endswith('-sparse.bin')]
    if len(copies) != 1:
        raise Fail(f'expected one kept copy of sparse.bin in {files}: {os.listdir(files)}')
    st = os.stat(os.path.join(files, copies[0]))
    log(f'  kept copy: {st.st_size} bytes, {st.st_blocks * 512} on disk')
    if st.st_size != 4 << 30 or st.st_blocks * 512 > 1 << 20:
        raise Fail(f'the kept copy of the sparse file has {st.st_size} bytes and takes '
                   f'{st.st_blocks * 512} bytes of disk (holes should stay holes)')

@prog_case('proc_mem_jit')
def c_proc_mem_jit(h):
    """Code and data written through /proc/self/mem (as JITs do) land in
    replay too."""
    _, rec = record_replay_native(h, [h.prog('proc_mem_jit')], replays=2)
    expect_output(rec, b'proc_mem_jit: patched, it returns 4242\n',
                  'did not run the code written through /proc/self/mem')
    expect_output(rec, b'proc_mem_jit: the child\'s variable is 123456789\n',
                  'did not write the child through /proc/CHILD/mem')

@prog_case('file_grow')
def c_file_grow(h):
    """A file mapped MAP_PRIVATE past its end, then grown and rewritten by
    the program: the mapping reads the same in replay."""
    path = h.path('grow.bin')
    _, rec = record_replay_native(h, [h.prog('file_grow'), path], remove=[path], replays=2)
    expect_output(rec, b'file_grow: page 1 0ab6a405153b2325\n',
                  'did not read what the file grew into')

@case('go-vdso')
def c_go_vdso(h):
    """Go's runtime finds the vDSO through AT_SYSINFO_EHDR (its
    clock_gettime serves time.Now() on goroutines over 2 threads)."""
    go = need('go')
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'progs', 'go',
                       'vdso_time.go')
    exe = h.path('vdso_time')
    env = dict(os.environ, GOCACHE=h.path('gocache'), GOPATH=h.path('gopath'),
               GO111MODULE='off', GOFLAGS='', CGO_ENABLED='0')
    built = run([go, 'build', '-o', exe, src], timeout=300, what='go build', env=env)
    if built.status != 0:
        raise Fail(f'go build failed\n  {built.explain()}\n{tail(built.stderr)}')
    _, rec = record_replay_native(h, [exe], replays=2)
    expect_output(rec, b'runtime found __vdso_clock_gettime: true\n',
                  'did not let the Go runtime find the vDSO')


# --- threads and processes: leader exit, exec beside blocked threads, group
# stops, signal state across execve, robust mutexes, SIGTERM to uprr ---

def native_same(h, argv, rec, name):
    """Run @argv natively: the recording must show the same stdout and status
    (the program's output does not depend on the schedule)."""
    native = run(argv, timeout=120, what=f'{name} (native)', cwd=h.tmp)
    if native.status != rec.status:
        raise Fail(f'the native run ended with {describe_status(native.status)}, the '
                   f'recording with {describe_status(rec.status)}')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


@prog_case('leader_exit')
def c_leader_exit(h):
    """main calls pthread_exit while a worker runs, sleeps, joins main and
    starts another thread: the leader stays a zombie until the end."""
    argv = [h.prog('leader_exit')]
    _, rec = h.record_replay(argv, replays=2)
    expect_output(rec, b'worker: done\n', 'did not run the worker to its end')
    native_same(h, argv, rec, 'leader_exit')
    # the worker execs once main is gone: it takes over the dead leader's pid
    argv = [h.prog('leader_exit'), 'exec']
    _, rec = h.record_replay(argv, name='exec')
    expect_output(rec, b'after exec: pid the same, tid the pid\n', 'did not exec as the leader')
    native_same(h, argv, rec, 'leader_exit exec')


@prog_case('exec_blocked')
def c_exec_blocked(h):
    """main execs while another thread sleeps, waits on a futex or reads a
    pipe: the kernel kills that thread in its syscall, in record and replay."""
    for mode in ('sleep', 'futex', 'read'):
        _, rec = h.record_replay([h.prog('exec_blocked'), mode], name=mode, expect_status=3)
        out = rec.stdout.decode('utf-8', 'replace')
        before = re.search(r'^before exec pid (\d+), ', out, re.M)
        after = re.search(r'^after exec pid (\d+) tid (\d+)$', out, re.M)
        if not before or not after or after.group(1) != before.group(1):
            raise Fail(f'{mode}: the recorded run did not exec in the same process:\n' +
                       tail(rec.stdout))


@prog_case('group_stop')
def c_group_stop(h):
    """SIGSTOP and SIGTSTP stop both threads of a recorded child; its recorded
    parent sees WIFSTOPPED, no progress, then WIFCONTINUED after SIGCONT."""
    argv = [h.prog('group_stop')]
    _, rec = h.record_replay(argv)
    expect_output(rec, b'child killed by Terminated\n', 'did not stop and continue its child')
    native_same(h, argv, rec, 'group_stop')
    # a stop the kernel discards (SIGTSTP in an orphaned process group)
    argv = [h.prog('group_stop'), 'orphan']
    _, rec = h.record_replay(argv, name='orphan')
    native_same(h, argv, rec, 'group_stop orphan')


@prog_case('exec_sigmask')
def c_exec_sigmask(h):
    """A blocked SIGUSR1 and an ignored SIGUSR2 survive execve: the program's
    own, and the ones uprr record was started with (the program's first
    image has them: its replay must start with them too, whatever uprr
    replay's own are)."""
    prog = h.prog('exec_sigmask')
    _, rec = h.record_replay([prog])
    expect_output(rec, b'SIGUSR1 blocked, SIGUSR2 ignored\n', 'lost its signal state at exec')
    native_same(h, [prog], rec, 'exec_sigmask')
    trace = h.new_trace_path('outer')
    rec = run([prog, 'outer', h.uprr, 'record', '-o', trace, '--', prog, '--after'],
              timeout=RECORD_TIMEOUT, what='uprr record (SIGUSR1 blocked, SIGUSR2 ignored)',
              cwd=h.tmp)
    check_record(rec, trace, 0)
    expect_output(rec, b'SIGUSR1 blocked, SIGUSR2 ignored\n', 'did not start with uprr\'s state')
    compare(rec, h.replay(trace))
    native_same(h, [prog, 'outer', prog, '--after'], rec, 'exec_sigmask outer')


@prog_case('robust_mutex')
def c_robust_mutex(h):
    """A thread, then a process, dies holding a robust mutex: the waiting
    locker gets EOWNERDEAD, in the recording and in the replay."""
    for mode in ('thread', 'process'):
        argv = [h.prog('robust_mutex'), mode]
        _, rec = h.record_replay(argv, name=mode)
        expect_output(rec, b'locker: lock returned EOWNERDEAD\n', f'{mode}: saw no EOWNERDEAD')
        native_same(h, argv, rec, 'robust_mutex ' + mode)


def term_uprr(h, argv, what, grace):
    """Start @argv (uprr running term_ignore), wait for "ready", send SIGTERM
    twice, one second apart: uprr must end within @grace seconds of the
    first with one line "uprr: ..." and leave no process behind."""
    p = start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=h.tmp)
    try:
        deadline = time.monotonic() + time_left(60)
        out = b''
        while b'ready\n' not in out:
            chunk = read_some(p.stdout, deadline)
            if not chunk:
                raise Fail(f'{what}: the program did not start ({describe_status(p.poll())})')
            out += chunk
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            raise Fail(f'{what}: still running {grace + 1}s after SIGTERM')
        err = p.stderr.read()
        log(f'  {what} ended {time.monotonic() - t0:.1f}s after SIGTERM: '
            f'{describe_status(p.returncode)}, stderr {err!r}')
        lines = [line for line in err.split(b'\n') if line]
        if p.returncode != UPRR_FAILURE or len(lines) != 1 or \
                not lines[0].startswith(b'uprr: ') or b'SIGTERM' not in lines[0]:
            raise Fail(f'{what}: expected exit 125 and one line "uprr: ... SIGTERM ...", '
                       f'got {describe_status(p.returncode)} and {err!r}')
        out += p.stdout.read()
    finally:
        if p.poll() is None:
            kill_group(p.pid, p.pid)
            p.wait()
    finish_group(p, what)
    return out


@case('sigterm-uprr')
def c_sigterm_uprr(h):
    """uprr record forwards SIGTERM to the program; one that ignores it is
    killed a little after a second SIGTERM; uprr replay ends on SIGTERM."""
    prog = h.prog('term_ignore')
    trace = h.new_trace_path('sleep')
    out = term_uprr(h, [h.uprr, 'record', '-o', trace, '--', prog, 'sleep', '60'],
                    'uprr record', 10)
    # the trace is closed: it replays up to the kill, then says it ends there
    rep = h.replay(trace)
    if rep.status != UPRR_FAILURE or rep.stdout != out or \
            not any(line.startswith(b'uprr: trace ends early') for line in rep.uprr_lines()):
        raise Fail(f'the trace of the killed recording does not replay up to the kill\n'
                   f'  {rep.explain()}')
    trace, rec = h.record([prog, 'spin', '4'], name='spin')
    term_uprr(h, [h.uprr, 'replay', trace], 'uprr replay', 10)


# ---------------------------------------------------------------------------
# IPC, pidfds, other processes' memory, perf, SIGIO

def record_replay_and_native(h, prog, ok_line, native=True):
    """Record @prog with a random seed and replay it; check @ok_line; then,
    if the output is deterministic for a given seed (@native), record it
    with a fixed seed and compare with a native run of the same."""
    _, rec = h.record_replay([h.prog(prog)])
    expect_output(rec, ok_line, 'did not see what it should')
    if not native:
        return rec
    argv = [h.prog(prog), '0x5eed']
    nat = run(argv, timeout=60, what=f'{prog} (native)', cwd=h.tmp)
    if nat.status != 0:
        raise Fail(f'{prog} failed natively\n  {nat.explain()}')
    _, fixed = h.record(argv, name=prog + '-fixed')
    compare_bytes(nat.stdout, fixed.stdout, 'stdout', 'the native run', 'the recording')
    log('  the recording with a fixed seed prints what a native run prints')
    return rec


@prog_case('sysv_ipc')
def c_sysv_ipc(h):
    """Two processes share a SysV segment (attached before the fork and
    again in each), hand turns with semaphores and report through a message
    queue; replay attaches a segment of its own at the recorded addresses."""
    record_replay_and_native(h, 'sysv_ipc', b'sysv_ipc: ok\n')


@case('sysv-outside')
def c_sysv_outside(h):
    """A SysV segment made outside the recording has contents replay cannot
    know: its shmat stops the recording, by name."""
    key = str(0x75707200 + os.getpid() % 256)
    prog = h.prog('sysv_ipc')
    made = run([prog, 'make', key], timeout=30, what='sysv_ipc make')
    if made.status != 0:
        raise Skip(f'cannot make a SysV segment here: {made.stderr.decode().strip()}')
    try:
        r = run([h.uprr, 'record', '-o', h.new_trace_path('sysv-outside'), '--',
                 prog, 'attach', key], timeout=60, what='uprr record')
        check_uprr_error(r, 'record of a shmat of a segment made outside',
                         'made outside the recording')
    finally:
        run([prog, 'rm', key], timeout=30, what='sysv_ipc rm')

    # a segment the program made, which a process outside attaches
    argv = [h.uprr, 'record', '-o', h.new_trace_path('sysv-peeked'), '--', prog, 'hold', key]
    rec = start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peek = None
    try:
        if rec.stdout.readline() != b'holding the segment\n':
            raise Fail('sysv_ipc hold did not make its segment under uprr record')
        peek = start([prog, 'peek', key], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if not peek.stdout.readline().startswith(b'first word'):
            raise Fail('sysv_ipc peek did not attach the segment')
        out, err = rec.communicate(b'go\n', timeout=time_left(60))
        r = Result(argv, rec.returncode, out, err, 0)
        check_uprr_error(r, 'record of a segment attached outside', 'outside the recording')
    finally:
        for p in (rec, peek):
            if p:
                p.kill() if p.poll() is None else None
                p.communicate()
                finish_group(p, 'sysv_ipc')
        run([prog, 'rm', key], timeout=30, what='sysv_ipc rm')


@prog_case('posix_mq')
def c_posix_mq(h):
    """POSIX message queue between two processes, mq_notify by signal and
    by thread; which messages wait in the queue depends on the schedule."""
    rec = record_replay_and_native(h, 'posix_mq', b'posix_mq: ok\n', native=False)
    for line in (b'round 1: notified by signal (SI_MESGQ)\n',
                 b'round 2: notified by a thread (value 42)\n'):
        expect_output(rec, line, 'was not notified')


@prog_case('pidfd_vm')
def c_pidfd_vm(h):
    """pidfd_open, pidfd_getfd, pidfd_send_signal, process_vm_readv and
    process_vm_writev into a recorded child (replay writes it again); a
    process_vm_writev into a process outside the recording passes its data
    out, and replay does not write it again."""
    record_replay_and_native(h, 'pidfd_vm', b'pidfd_vm: ok\n')
    outside = start([h.prog('pidfd_vm'), 'target'], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        m = re.match(rb'buffer at (0x[0-9a-f]+)\n', outside.stdout.readline())
        if not m:
            raise Fail('pidfd_vm target did not say where its buffer is')

        def buffer_holds():
            outside.stdin.write(b'?\n')
            outside.stdin.flush()
            return outside.stdout.readline()

        trace, rec = h.record([h.prog('pidfd_vm'), 'poke', str(outside.pid),
                               m.group(1).decode()], name='poke')
        poked = re.match(rb'poke: \d+ \((poked with [0-9a-f]+)\)\n', rec.stdout)
        if not poked:
            raise Fail(f'the recorded poke did not write: {rec.stdout!r}')
        if buffer_holds() != b"buffer holds '" + poked.group(1) + b"'\n":
            raise Fail('the process outside the recording did not get the write')
        compare(rec, h.replay(trace))
        if buffer_holds() != b"buffer holds 'untouched'\n":
            raise Fail('replay wrote into a process outside the recording')
        log('  the write reached the process outside in the recording, not in the replay')
    finally:
        outside.kill()
        outside.communicate()
        finish_group(outside, 'pidfd_vm target')


@prog_case('sigio')
def c_sigio(h):
    """Signal-driven I/O (FIOASYNC + FIOSETOWN on a socketpair, as nginx;
    O_ASYNC + F_SETOWN_EX + F_SETSIG on a pipe): the kernel's SIGIO and
    SIGRTMIN, with their siginfo, come at the recorded points."""
    record_replay_and_native(h, 'sigio', b'sigio: ok\n')


NGINX_WORKERS_CONF = """\
daemon off;
master_process on;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "hello $uri\\n"; }} }}
}}
"""


@case('nginx-workers')
def c_nginx_workers(h, requests=200):
    """nginx with a master and 2 workers, which it tells apart on a channel
    socketpair set up with FIOASYNC and F_SETOWN (SIGIO), under requests from
    a client outside the recording; stopped with SIGTERM, which the master
    passes to its workers; replayed with the network gone."""
    nginx = need('nginx')
    port = free_port()
    conf = h.path('nginx.conf')
    with open(conf, 'w') as f:
        f.write(NGINX_WORKERS_CONF.format(tmp=h.tmp, port=port))

    def drive(port):
        got = []
        for i in range(requests):
            with socket.create_connection(('127.0.0.1', port), timeout=10) as c:
                c.sendall(f'GET /r{i} HTTP/1.0\r\nHost: x\r\n\r\n'.encode())
                data = b''
                while chunk := c.recv(4096):
                    data += chunk
            if not data.endswith(f'hello /r{i}\n'.encode()):
                raise Fail(f'nginx answered request {i} with {data[-80:]!r}')
            got.append(data)
        log(f'  client: {requests} requests answered')
        return got

    def stop(p):
        pid = find_tracee(p.pid, 'nginx')
        if pid is None:
            raise Fail('cannot find the nginx master under uprr record')
        os.kill(pid, signal.SIGTERM)

    rec, trace, _ = record_server(h, 'nginx', [nginx, '-p', h.tmp, '-c', conf], port, drive,
                                  stop)
    check_record(rec, trace, 0)
    with open(h.path('access.log'), 'rb') as f:
        if f.read().count(b'"GET /r') != requests:
            raise Fail('the access log of the recorded nginx misses requests')
    compare(rec, replay_offline(h, trace, port))


@prog_case('perf_self')
def c_perf_self(h):
    """A program that counts its own task clock, context switches and page
    faults; a hardware counter fails here as it did in the recording; the
    mmap of a counter's ring buffer is refused by name."""
    record_replay_and_native(h, 'perf_self', b'perf_self: ok\n', native=False)
    r = run([h.uprr, 'record', '-o', h.new_trace_path('perf-mmap'), '--', h.prog('perf_self'),
             'mmap'], timeout=60, what='uprr record')
    check_uprr_error(r, 'record of the mmap of a perf ring buffer', 'perf_event_open ring buffer')


# ---------------------------------------------------------------------------
# Sandboxes and namespaces (recorder/sandbox.c): the program's seccomp
# filters, namespaces, landlock and personality act as natively.

NONCE_RE = re.compile(rb'^nonce: \d+\n', re.M)


def same_as_native(h, argv, rec, *, env=None, wrap=()):
    """The recording printed what a native run prints (the "nonce" line aside)."""
    native = run(list(wrap) + argv, timeout=120, what=f'{os.path.basename(argv[0])} (native)',
                 cwd=h.tmp, env=env)
    if native.status != rec.status:
        raise Fail(f'the native run ended with {describe_status(native.status)}, the '
                   f'recording with {describe_status(rec.status)}\n  {native.explain()}')
    compare_bytes(NONCE_RE.sub(b'', native.stdout), NONCE_RE.sub(b'', rec.stdout), 'stdout',
                  'the native run', 'the recording')
    compare_bytes(native.stderr, rec.program_stderr(), 'stderr', 'the native run',
                  'the recording')
    return native


def need_cap_sys_admin(what):
    if os.geteuid() != 0:
        raise Skip(f'{what} needs root (CAP_SYS_ADMIN)')


@prog_case('seccomp_filter')
def c_seccomp_filter(h):
    """The program's filter on top of uprr's: getpid fails with EPERM, uname
    raises SIGSYS caught by a handler, in a thread too (TSYNC), a forked
    child dies of SIGSYS (KILL_PROCESS), PR_GET_SECCOMP is 0 then 2."""
    argv = [h.prog('seccomp_filter')]
    _, rec = h.record_replay(argv, replays=2)
    for want in (b'PR_GET_SECCOMP before: 0', b'PR_GET_SECCOMP after: 2',
                 b'getpid: -1 Operation not permitted',
                 b'SIGSYS handled 1, si_syscall 63 (uname is 63), si_code 1',
                 b'thread (TSYNC): getpid -1 Operation not permitted, SIGSYS handled 2',
                 b'gettid: -1 Permission denied', b'child killed by signal 31',
                 b'seccomp_filter: done'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))
    same_as_native(h, argv, rec)


@case('seccomp-spin')
def c_seccomp_spin(h):
    """A sandbox that forbids mmap, mprotect, clone, userfaultfd, openat and
    close_range, and a thread that spins until another finishes its work:
    uprr's own syscalls in the program (the counting code's mapping, restore
    points) get past the program's filter, in the recording and the replay."""
    trace, rec = h.record_replay([h.prog('seccomp_filter'), 'spin'], replays=2)
    if b'spin: mmap now fails: 1' not in rec.stdout or b'spin: ok' not in rec.stdout:
        raise Fail('the recorded run did not spin to the end under its filter:\n' +
                   tail(rec.stdout))


@case('seccomp-kill')
def c_seccomp_kill(h):
    """A thread's own filter kills it at a syscall: SECCOMP_RET_KILL_THREAD
    ends the thread only (main joins it and goes on), SECCOMP_RET_KILL_PROCESS
    the whole process with SIGSYS while main waits; as natively."""
    for mode, status in (('killthread', 0), ('killprocess', 128 + signal.SIGSYS)):
        argv = [h.prog('seccomp_filter'), mode]
        _, rec = h.record_replay(argv, name=mode, expect_status=status, replays=2)
        if mode == 'killthread' and b'main goes on, getppid works here: 1' not in rec.stdout:
            raise Fail('the recorded run did not go on after its thread was killed:\n' +
                       tail(rec.stdout))
        native = run(argv, timeout=60, what=f'seccomp_filter {mode} (native)', cwd=h.tmp)
        if native.status not in (status, -signal.SIGSYS):
            raise Fail(f'natively seccomp_filter {mode} ended with '
                       f'{describe_status(native.status)}')
        compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')


@case('seccomp-refused')
def c_seccomp_refused(h):
    """Strict mode (which cannot follow uprr's own filter), a listener fd and
    a filter that asks for a tracer stop the recording with one line naming
    them."""
    for what, name in (('strict', 'SECCOMP_MODE_STRICT'),
                       ('listener', 'SECCOMP_FILTER_FLAG_NEW_LISTENER'),
                       ('trace', 'SECCOMP_RET_TRACE (data 0x7) for syscall getppid')):
        r = run([h.uprr, 'record', '-o', h.new_trace_path('seccomp-' + what), '--',
                 h.prog('seccomp_filter'), what], timeout=60, what='uprr record')
        check_uprr_error(r, f'record of seccomp {what}', name)
        if b'about to ask' not in r.stdout or b'it returned' in r.stdout:
            raise Fail(f'record of seccomp {what}: the program went on: {r.stdout!r}')


@case('seccomp-ctags-sandbox')
def c_seccomp_ctags_sandbox(h):
    """universal-ctags' sandbox mode probes seccomp with libseccomp, sets
    no_new_privs and installs a filter that kills any syscall it does not
    allow, then tags what it reads from stdin."""
    ctags = need('ctags')
    src = b'int answer(void) { return 42; }\nstatic int twice(int x) { return 2 * x; }\n'
    inp = h.path('ctags-input.json')
    with open(inp, 'wb') as f:
        f.write(b'{"command":"generate-tags","filename":"a.c","size":%d}\n' % len(src) + src)
    argv = [ctags, '--_interactive=sandbox']
    with open(inp, 'rb') as stdin:
        trace, rec = h.record(argv, stdin=stdin)
    if b'"name": "answer"' not in rec.stdout or b'"name": "twice"' not in rec.stdout:
        raise Fail('ctags found no tags in the recording:\n' + tail(rec.stdout))
    with open(inp, 'rb') as stdin:
        native = run(argv, timeout=60, what='ctags (native)', stdin=stdin, cwd=h.tmp)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    remove_input(inp)
    compare(rec, h.replay(trace))


@prog_case('namespaces')
def c_namespaces(h):
    """unshare and setns of UTS, network and user namespaces, sethostname,
    uname, if_nameindex, a clone with CLONE_NEWUTS | CLONE_NEWNET; a PID
    namespace's init (unshare, then clone with CLONE_NEWPID) with a thread,
    signals it raises and a child it reaps."""
    need_cap_sys_admin('unsharing namespaces')
    argv = [h.prog('namespaces')]
    _, rec = h.record_replay(argv)
    for want in (b'new uts: nodename uprr-uts domainname uprr-domain',
                 b'back in the first uts: nodename is the first one: 1',
                 b'clone child: nodename uprr-clone', b'clone child: interfaces 1:lo\n',
                 b'user+uts: nodename uprr-userns', b'new net: interfaces 1:lo\n',
                 b'namespaces: done'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))
    same_as_native(h, argv, rec)
    argv = [h.prog('namespaces'), 'newpid']
    _, rec = h.record_replay(argv, name='newpid', replays=2)
    for want in (b'ns init: getpid 1 getppid 0', b'ns init: SIGUSR1 handled 1',
                 b'ns thread: gettid 2', b'ns thread: SIGUSR2 handled 1',
                 b'ns grandchild: getpid 3 getppid 1',
                 b'ns init: fork returned 3, waitpid returned 3, status 7',
                 b'ns init (pid > 1 here: 1) exited with 5', b'cloned ns init exited with 5'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))
    same_as_native(h, argv, rec)


@case('namespaces-unshare')
def c_namespaces_unshare(h):
    """util-linux unshare(1): `unshare -Ur id` (a user namespace mapping
    root, written to /proc/self/uid_map) and `unshare -n ip link` (a network
    namespace with only lo), `unshare -pf sh` (pid 1, its child pid 2), each
    as natively."""
    need_cap_sys_admin('unshare -n')
    unshare, ip = need('unshare'), need('ip')
    for argv in ([unshare, '-Ur', 'id'], [unshare, '-n', ip, '-o', 'link'],
                 [unshare, '-Uu', '--map-root-user', 'sh', '-c', 'hostname uprr-ns && uname -n'],
                 [unshare, '-pf', 'sh', '-c', 'echo $$; sh -c \'echo $$ $PPID\'']):
        _, rec = h.record_replay(argv)
        same_as_native(h, argv, rec)
    if b'1\n2 1\n' not in rec.stdout:
        raise Fail('unshare -pf: the shell did not see itself as pid 1:\n' + tail(rec.stdout))


@prog_case('landlock')
def c_landlock(h):
    """A landlock ruleset that allows writing beneath rw/ only and executing
    beneath /usr and the program's own folder: writes beneath ro/ and the
    exec of a copy in the input folder fail with EACCES, in the recording,
    natively, and in a replay with the folder gone."""
    prog = h.prog('landlock')

    def make_dir():
        d = h.path('landlock-dir')
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.join(d, 'ro'))
        os.makedirs(os.path.join(d, 'rw'))
        with open(os.path.join(d, 'ro', 'existing'), 'w') as f:
            f.write('x\n')
        shutil.copy(prog, os.path.join(d, 'copy'))
        return d

    d = make_dir()
    probe = run([prog, d], timeout=60, what='landlock (native probe)', cwd=h.tmp)
    if probe.status == SKIP:
        raise Skip('the kernel has no landlock: ' + probe.stdout.decode(errors='replace').strip())
    d = make_dir()
    trace, rec = h.record([prog, d])
    for want in (b'create ro/new: Permission denied', b'write ro/existing: Permission denied',
                 b'read ro/existing: ok', b'create rw/new: ok',
                 b'exec of the copy in DIR: Permission denied',
                 b'exec-child: create tmp/landlock-never-created: Permission denied'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))
    remove_input(d)
    compare(rec, h.replay(trace))
    d = make_dir()
    same_as_native(h, [prog, d], rec)


@prog_case('personality')
def c_personality(h):
    """personality(2) reads as natively (uprr's ADDR_NO_RANDOMIZE unseen),
    PER_LINUX32 | UNAME26 shows in uname and survives execve; under
    `setarch -R`, the program starts with ADDR_NO_RANDOMIZE, as natively."""
    argv = [h.prog('personality')]
    _, rec = h.record_replay(argv)
    for want in (b'start: persona 0x0,', b'personality(ADDR_NO_RANDOMIZE) returned 0x0\n',
                 b'after exec: persona 0x20008, machine i686'):
        if want not in rec.stdout:
            raise Fail(f'the recorded run does not say {want.decode()!r}:\n' + tail(rec.stdout))
    same_as_native(h, argv, rec)
    setarch = [need('setarch'), 'x86_64', '-R']
    trace = h.new_trace_path('setarch')
    rec = run(setarch + [h.uprr, 'record', '-o', trace, '--'] + argv, timeout=RECORD_TIMEOUT,
              what='setarch -R uprr record', cwd=h.tmp)
    check_record(rec, trace, 0)
    if b'start: persona 0x40000,' not in rec.stdout:
        raise Fail('under setarch -R the program did not start with ADDR_NO_RANDOMIZE:\n' +
                   tail(rec.stdout))
    same_as_native(h, argv, rec, wrap=setarch)
    compare(rec, h.replay(trace))


# More cases, in modules of their own (they register in CASES).
import e2e_real  # noqa: E402,F401 (real programs from Debian, issue 13)
import e2e_copy  # noqa: E402,F401 (the syscall buffer's copy slice, issue 14)
import e2e_tp  # noqa: E402,F401 (the TP run and its log, issue 15)
import e2e_tpmode  # noqa: E402,F401 (--mode=tp: a TP run, then an EP run from its log)
import e2e_output  # noqa: E402,F401 (--mode=tp: output commit)
import e2e_tpmemc  # noqa: E402,F401 (--mode=tp: memcached -t 2 under a client's load)
import e2e_truncated  # noqa: E402,F401 (traces their recorder did not finish)
import e2e_tpreach  # noqa: E402,F401 (--mode=tp on xz -T2 and the like)
import e2e_rollback  # noqa: E402,F401 (--mode=tp: rollback of a forced divergence)
import e2e_tprace  # noqa: E402,F401 (--mode=tp --epoch=20 on the racy programs)
import e2e_respawn  # noqa: E402,F401 (the recorder goes on in a respawn of its program)
import e2e_tpsync  # noqa: E402,F401 (--mode=tp: following the sync order)
import e2e_tpchecked  # noqa: E402,F401 (--mode=tp --epoch=50: the epochs checked, by reason)
import e2e_tpoverlap  # noqa: E402,F401 (--mode=tp --ep-overlap: the TP run goes on meanwhile)


def main():
    global _deadline, _workdir
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--uprr', help='the uprr binary')
    ap.add_argument('--progs', help='the folder of the built tests/progs programs')
    ap.add_argument('--craft', help='the built trace-craft helper')
    ap.add_argument('--timeout', type=float,
                    help='seconds the whole case may take (meson\'s timeout)')
    ap.add_argument('--list', action='store_true', help='list the cases')
    ap.add_argument('--requests', type=int, default=10000)
    ap.add_argument('case', nargs='?')
    ap.add_argument('rest', nargs='*')
    a = ap.parse_args()

    if a.list:
        for name, (_, slow) in CASES.items():
            print(name + (' (slow)' if slow else ''))
        return 0
    if a.case == 'memcached-client':
        if len(a.rest) != 2:
            ap.error('memcached-client PORT OUT')
        data = memcached_load(int(a.rest[0]), a.requests)
        with open(a.rest[1], 'wb') as f:
            f.write(data)
        return 0
    if a.case not in CASES:
        ap.error(f'unknown case {a.case!r}; see --list')
    if not a.uprr or not os.access(a.uprr, os.X_OK):
        log(f'e2e: FAIL {a.case}: uprr is not built at {a.uprr}')
        return 1

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    if a.timeout:
        _deadline = time.monotonic() + a.timeout - min(10, a.timeout / 10)
    tmp = _workdir = tempfile.mkdtemp(prefix=f'uprr-e2e-{a.case}-')
    h = Harness(os.path.abspath(a.uprr), os.path.abspath(a.progs or '.'),
                os.path.abspath(a.craft) if a.craft else None, tmp)
    log(f'e2e: case {a.case}, uprr {h.uprr}, work dir {tmp}')
    t0 = time.monotonic()
    status = 1
    try:
        CASES[a.case][0](h)
        log(f'e2e: PASS {a.case} in {time.monotonic() - t0:.1f}s')
        status = 0
    except Skip as e:
        log(f'e2e: SKIP {a.case}: {e}')
        status = SKIP
    except Fail as e:
        log(f'e2e: FAIL {a.case}: {e}')
    except Exception:
        log(f'e2e: FAIL {a.case}: the harness raised\n{traceback.format_exc()}')
    finally:
        cleanup_all()
        if os.environ.get('UPRR_E2E_KEEP'):
            log(f'e2e: kept {tmp}')
        remove_workdir()
    return status


if __name__ == '__main__':
    sys.exit(main())
