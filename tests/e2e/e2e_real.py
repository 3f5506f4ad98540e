# SPDX-License-Identifier: MIT
"""End-to-end cases with real programs from Debian (issue 13).

`cp -r` of a tree, `node` with worker_threads, nginx with a master and two
workers under load, a Go program on several threads, `script` on a pty, and
`strace -f` / `gdb -batch` under `uprr record`. Each records, takes the inputs
away, replays and compares byte for byte (e2e.py's harness); where the
program's output is deterministic, the recording is also compared with a
native run of the same program (it must behave as natively).

e2e.py imports this module after its own cases; the cases register in the
same table (e2e.CASES), so `e2e.py CASE` and `--list` see them.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import socket
import stat
import threading
import time

import e2e
from e2e import Fail, case, compare, compare_bytes, log, need, read, run, tail


def native(h, argv, *, env=None, cwd=None, timeout=120, expect_status=0):
    """Run @argv without uprr; the Result (its status checked)."""
    r = run(argv, timeout=timeout, what=os.path.basename(argv[0]) + ' (native)', env=env,
            cwd=cwd or h.tmp)
    if r.status != expect_status:
        raise Fail(f'the native run ended with {e2e.describe_status(r.status)}, expected '
                   f'{e2e.describe_status(expect_status)}\n  {r.explain()}')
    return r


def same_as_native(nat, rec, what='stdout', normalize=None):
    """The recording printed what the native run printed (after @normalize)."""
    a, b = nat.stdout, rec.stdout
    if normalize:
        a, b = normalize(a), normalize(b)
    compare_bytes(a, b, what, 'the native run', 'the recording')


# ---------------------------------------------------------------------------
# cp -r of a directory tree: FICLONE (refused with EOPNOTSUPP on ext4 and
# tmpfs), copy_file_range, SEEK_DATA/SEEK_HOLE for the sparse file.

def make_tree(root, seed):
    """Write a tree: 300 files of 0 to 70,000 bytes in 30 directories two
    levels deep, a 7-level chain of directories, an empty directory, two
    symbolic links (one dangling) and a 48 MiB file with three 64 KiB runs
    of data and holes between them. Returns the number of files."""
    rng = random.Random(seed)
    nfiles = 0
    for d in range(6):
        for s in range(5):
            path = os.path.join(root, f'dir{d}', f'sub{s}')
            os.makedirs(path)
            for f in range(10):
                size = rng.choice([0, 1, 100, 4096, 5000, 70000])
                with open(os.path.join(path, f'file{f}.dat'), 'wb') as out:
                    out.write(rng.randbytes(size))
                nfiles += 1
    deep = os.path.join(root, 'deep', *'abcdefg')
    os.makedirs(deep)
    with open(os.path.join(deep, 'leaf.txt'), 'w') as out:
        out.write('at the bottom\n')
    os.makedirs(os.path.join(root, 'empty'))
    os.symlink('dir0/sub0/file3.dat', os.path.join(root, 'link-to-file'))
    os.symlink('no/such/target', os.path.join(root, 'dangling-link'))
    with open(os.path.join(root, 'sparse.img'), 'wb') as out:
        for off in (0, 20 << 20, (48 << 20) - (64 << 10)):
            out.seek(off)
            out.write(rng.randbytes(64 << 10))
    return nfiles + 2


def tree_listing(root):
    """{relative path: (kind, what)}: a directory, a link's target, a file's
    permission bits, size and SHA-256."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ('link', os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ('dir', stat.S_IMODE(st.st_mode))
            else:
                with open(path, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ('file', stat.S_IMODE(st.st_mode), st.st_size, digest)
    return out


@case('cp-r-tree')
def c_cp_r(h):
    cp = need('cp')
    src, dst = h.path('src'), h.path('dst')
    nfiles = make_tree(src, seed=1313)
    want = tree_listing(src)
    trace, rec = h.record([cp, '-r', 'src', 'dst'], name='cp')
    got = tree_listing(dst)
    if got != want:
        lost = sorted(set(want) - set(got))[:5]
        extra = sorted(set(got) - set(want))[:5]
        wrong = sorted(p for p in set(want) & set(got) if want[p] != got[p])[:5]
        raise Fail(f'the recorded cp -r made another tree: missing {lost}, extra {extra}, '
                   f'different {wrong}')
    sparse = os.stat(os.path.join(src, 'sparse.img'))
    copy = os.stat(os.path.join(dst, 'sparse.img'))
    if sparse.st_blocks * 512 < sparse.st_size // 4 and copy.st_blocks > 4 * sparse.st_blocks:
        raise Fail(f'the recorded cp filled the holes of sparse.img: {copy.st_blocks} blocks, '
                   f'the source has {sparse.st_blocks}')
    log(f'  the recorded copy equals the source: {nfiles} files, {len(want)} entries')
    e2e.remove_input(src)
    e2e.remove_input(dst)
    compare(rec, h.replay(trace))
    if os.path.lexists(dst):
        raise Fail('the replay wrote the file system: dst exists again')


# ---------------------------------------------------------------------------
# node with worker_threads: two workers compute, add to a SharedArrayBuffer
# with Atomics, post their results; the main thread prints them in order.

NODE_SCRIPT = r"""
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const ROUNDS = 3000000;
if (isMainThread) {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const jobs = [1, 2].map(k => new Promise((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { k, shared } });
    w.on('message', resolve);
    w.on('error', reject);
    w.on('exit', code => { if (code !== 0) reject(new Error(`worker ${k} exit ${code}`)); });
  }));
  Promise.all(jobs).then(results => {
    for (const r of results)
      console.log(`worker ${r.k}: chain ${r.chain}, primes ${r.primes}`);
    console.log(`shared counter ${Atomics.load(shared, 0)}, xor ${Atomics.load(shared, 1)}`);
  }, e => { console.error(`failed: ${e}`); process.exit(1); });
} else {
  const { k, shared } = workerData;
  let chain = k;
  for (let i = 0; i < ROUNDS; i++) {
    chain = (chain * 31 + i * k) % 1000000007;
    if (i % 1000 === 0) Atomics.add(shared, 0, 1);
  }
  let primes = 0;
  for (let n = 2 + k * 50000; n < 2 + k * 50000 + 50000; n++) {
    let p = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) { p = false; break; }
    if (p) primes++;
  }
  Atomics.xor(shared, 1, chain);
  parentPort.postMessage({ k, chain, primes });
}
"""


@case('node-workers')
def c_node_workers(h):
    node = need('node')
    script = h.path('workers.js')
    with open(script, 'w') as f:
        f.write(NODE_SCRIPT)
    argv = [node, script]
    nat = native(h, argv)
    trace, rec = h.record(argv, name='node')
    same_as_native(nat, rec)
    if not re.fullmatch(rb'worker 1: chain \d+, primes \d+\nworker 2: chain \d+, primes \d+\n'
                        rb'shared counter 6000, xor -?\d+\n', rec.stdout):
        raise Fail('the recorded node printed something else:\n' + tail(rec.stdout))
    e2e.remove_input(script)
    for _ in range(2):
        compare(rec, h.replay(trace))


# ---------------------------------------------------------------------------
# nginx: a master and two worker processes (fork, setuid, socketpair
# channels, SIGIO on them, epoll, accept on a shared socket), driven by a
# client outside the recording, stopped with SIGQUIT through uprr.

NGINX_CONF = """\
{user}master_process on;
worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 64; }}
http {{
	access_log {dir}/access.log;
	client_body_temp_path {dir}/tmp-body;
	proxy_temp_path {dir}/tmp-proxy;
	fastcgi_temp_path {dir}/tmp-fastcgi;
	uwsgi_temp_path {dir}/tmp-uwsgi;
	scgi_temp_path {dir}/tmp-scgi;
	sendfile off;
	keepalive_requests 1000;
	server {{
		listen 127.0.0.1:{port};
		root {dir}/www;
	}}
}}
"""

NGINX_THREADS, NGINX_CONNS, NGINX_PER_CONN = 2, 10, 15
NGINX_REQUESTS = NGINX_THREADS * NGINX_CONNS * NGINX_PER_CONN


def http_response(f):
    """Read one HTTP/1.1 response with a Content-Length from file @f;
    returns (status, body, the raw bytes)."""
    raw = []
    status = f.readline()
    raw.append(status)
    parts = status.split(b' ', 2)
    if len(parts) < 2 or not parts[0].startswith(b'HTTP/1.') or not parts[1].isdigit():
        raise e2e.ProtocolError(f'bad status line {status!r}')
    length = None
    while True:
        line = f.readline()
        raw.append(line)
        if not line.endswith(b'\n'):
            raise e2e.ProtocolError('the connection closed in the headers')
        if line in (b'\r\n', b'\n'):
            break
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value.strip())
    if length is None:
        raise e2e.ProtocolError(f'no Content-Length in the response to {status!r}')
    body = f.read(length)
    if len(body) != length:
        raise e2e.ProtocolError('the connection closed in the body')
    raw.append(body)
    return int(parts[1]), body, b''.join(raw)


def nginx_load(port, files, timeout=60):
    """NGINX_THREADS threads, each NGINX_CONNS keep-alive connections one
    after the other, NGINX_PER_CONN GETs each (the files, and a missing one),
    every response checked. Returns the raw responses received."""
    names = sorted(files) + ['missing.html']
    responses, errors = [], []
    deadline = time.monotonic() + timeout
    lock = threading.Lock()

    def client(t):
        try:
            for c in range(NGINX_CONNS):
                with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
                    f = s.makefile('rwb')
                    for i in range(NGINX_PER_CONN):
                        if time.monotonic() > deadline:
                            raise e2e.ProtocolError(f'no time left for the load ({timeout}s)')
                        name = names[(t + c + i) % len(names)]
                        f.write(f'GET /{name} HTTP/1.1\r\nHost: localhost\r\n'
                                f'User-Agent: e2e-{t}-{c}-{i}\r\n\r\n'.encode())
                        f.flush()
                        code, body, raw = http_response(f)
                        if name in files and (code != 200 or body != files[name]):
                            raise e2e.ProtocolError(f'GET /{name}: {code}, {len(body)} bytes')
                        if name not in files and code != 404:
                            raise e2e.ProtocolError(f'GET /{name}: {code}, expected 404')
                        with lock:
                            responses.append(raw)
                    f.close()
        except (OSError, e2e.ProtocolError) as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(NGINX_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return responses


def check_dump_sent(sent, responses, slack=4096):
    """Every response the client received is in what the replay sent, whole
    (each is one write of the server), as often; the rest (the master's
    messages to its workers on their socketpairs) is a few hundred bytes."""
    total = sum(len(r) for r in responses)
    counts = {}
    for r in responses:
        counts[r] = counts.get(r, 0) + 1
    short = [(r, n) for r, n in counts.items() if sent.count(r) < n]
    if short:
        r, n = short[0]
        raise Fail(f'the replay\'s --dump-sent ({len(sent)} bytes) lacks responses the client '
                   f'received ({total} bytes): {len(short)} of {len(counts)} distinct '
                   f'responses are missing or too few, e.g. {n} x {r[:60]!r}')
    if not 0 <= len(sent) - total <= slack:
        raise Fail(f'the replay\'s --dump-sent holds {len(sent)} bytes, the client received '
                   f'{total}: {len(sent) - total} bytes more')
    log(f'  --dump-sent: all {len(responses)} responses ({total} bytes), and '
        f'{len(sent) - total} bytes on the master\'s channels')


@case('nginx-sigquit')
def c_nginx(h):
    nginx = need('nginx')
    port = e2e.free_port()
    d = h.tmp
    www = h.path('www')
    os.mkdir(www)
    rng = random.Random(80)
    files = {'index.html': b'<html><body>uprr e2e</body></html>\n',
             'data.bin': rng.randbytes(8000)}
    for name, data in files.items():
        with open(os.path.join(www, name), 'wb') as f:
            f.write(data)
    # as root, nginx's workers become "nobody", who cannot enter the work dir
    user = 'user root;\n' if os.geteuid() == 0 else ''
    conf = h.path('nginx.conf')
    with open(conf, 'w') as f:
        f.write(NGINX_CONF.format(user=user, dir=d, port=port))
    argv = [nginx, '-p', d, '-c', conf, '-e', h.path('error.log')]

    def drive(port):
        t1 = time.monotonic()
        responses = nginx_load(port, files)
        log(f'  client: {len(responses)} responses, {sum(map(len, responses))} bytes in '
            f'{time.monotonic() - t1:.1f}s')
        return responses

    def stop(p):
        # uprr record forwards SIGQUIT to the master: a graceful shutdown
        os.kill(p.pid, signal.SIGQUIT)

    rec, trace, responses = e2e.record_server(h, 'nginx', argv, port, drive, stop)
    e2e.check_record(rec, trace, 0)
    if e2e.port_open(port):
        raise Fail(f'port {port} still open after nginx ended')
    log_lines = read(h.path('access.log')).count(b'\n')
    errors = read(h.path('error.log'))
    if log_lines != NGINX_REQUESTS or b'[alert]' in errors or b'[emerg]' in errors:
        raise Fail(f'the recorded nginx logged {log_lines} requests of {NGINX_REQUESTS}; '
                   f'error.log:\n{tail(errors)}')
    workers = set(re.findall(rb'\] (\d+)#\d+: gracefully shutting down', errors))
    if len(workers) != 2:
        raise Fail(f'expected 2 workers to shut down, error.log names {len(workers)}:\n'
                   f'{tail(errors)}')
    for name in ('www', 'nginx.conf', 'access.log', 'error.log'):
        e2e.remove_input(h.path(name))
    sent = h.path('sent.bin')
    compare(rec, e2e.replay_offline(h, trace, port, dump_sent=sent))
    if not os.path.exists(sent):
        raise Fail('uprr replay --dump-sent did not write the file')
    check_dump_sent(read(sent), responses)


# ---------------------------------------------------------------------------
# Go: goroutines on several threads (GOMAXPROCS=2; each worker goroutine
# locked to its own OS thread), the runtime's preemption signals (SIGURG),
# futexes; built at test time with Debian's golang-go, std library only.

GO_PROGRAM = r"""
// Four workers, each locked to an OS thread of its own, take 16 jobs from a
// channel; a mutex-guarded map and an atomic counter gather the results.
// Everything printed is deterministic.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
)

const jobs, workers, rounds = 16, 4, 20000000

func work(k int) uint64 {
	s := uint64(k) + 1
	for i := 0; i < rounds; i++ {
		s = s*6364136223846793005 + 1442695040888963407
		s ^= s >> 29
	}
	return s
}

func main() {
	var mu sync.Mutex
	var done int64
	results := map[int]uint64{}
	tids := map[int]bool{}
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			mu.Lock()
			tids[syscall.Gettid()] = true
			mu.Unlock()
			for k := range ch {
				r := work(k)
				mu.Lock()
				results[k] = r
				mu.Unlock()
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	for k := 0; k < jobs; k++ {
		ch <- k
	}
	close(ch)
	wg.Wait()
	keys := make([]int, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var x uint64
	for _, k := range keys {
		fmt.Printf("job %2d: %016x\n", k, results[k])
		x ^= results[k]
	}
	fmt.Printf("GOMAXPROCS %d, %d jobs done, workers on %d threads, xor %016x\n",
		runtime.GOMAXPROCS(0), atomic.LoadInt64(&done), len(tids), x)
	if len(tids) != workers || done != jobs {
		os.Exit(1)
	}
}
"""


def go_build(h, name, source):
    """Build @source with Debian's go into the work dir, offline (caches and
    GOPATH in the work dir too). Returns the binary's path."""
    go = need('go')
    src = h.path(name + '-src')
    os.mkdir(src)
    with open(os.path.join(src, 'main.go'), 'w') as f:
        f.write(source)
    with open(os.path.join(src, 'go.mod'), 'w') as f:
        f.write(f'module {name}\n\ngo 1.19\n')
    env = dict(os.environ, GOCACHE=h.path('go-cache'), GOPATH=h.path('go-path'),
               HOME=h.tmp, GOPROXY='off', GOFLAGS='-mod=mod', GO111MODULE='on',
               CGO_ENABLED='0', GOTOOLCHAIN='local', GOTELEMETRY='off')
    exe = h.path(name)
    r = run([go, 'build', '-o', exe, '.'], timeout=300, what='go build', env=env, cwd=src)
    if r.status != 0:
        raise Fail(f'go build failed\n  {r.explain()}')
    return exe


@case('go-goroutines')
def c_go_goroutines(h):
    exe = go_build(h, 'goroutines', GO_PROGRAM)
    env = dict(os.environ, GOMAXPROCS='2')
    nat = native(h, [exe], env=env)
    trace, rec = h.record([exe], name='go', env=env)
    same_as_native(nat, rec)
    if not re.search(rb'^GOMAXPROCS 2, 16 jobs done, workers on 4 threads, xor [0-9a-f]{16}\n\Z',
                     rec.stdout, re.M):
        raise Fail('the recorded Go program printed something else:\n' + tail(rec.stdout))
    # Natively the runtime's sysmon thread preempts a goroutine that runs
    # for 10 ms with SIGURG (tgkill); each job runs for longer. Under uprr
    # that needs CPU-bound threads preempted so that sysmon runs at all.
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    m = re.search(rb'^events: +\d+ \(\d+ syscalls, (\d+) signals\)$', info.stdout, re.M)
    if not m or int(m.group(1)) == 0:
        raise Fail('the recording holds no signal: the Go runtime never preempted a goroutine '
                   '(SIGURG), as it does natively\n' + tail(info.stdout))
    log(f'  the recording holds {int(m.group(1))} signals (the runtime\'s SIGURG)')
    e2e.remove_input(exe)
    for _ in range(2):
        compare(rec, h.replay(trace))


GO_GC_PROGRAM = r"""
// Eight goroutines build and drop linked lists (GOGC=10: a collection every
// few hundred KiB), a ticker goroutine runs meanwhile. Prints the sums.
package main

import (
	"fmt"
	"sync"
	"time"
)

type node struct {
	next *node
	v    [8]uint64
}

func build(k, n int) uint64 {
	var head *node
	for i := 0; i < n; i++ {
		head = &node{next: head}
		head.v[0] = uint64(i * k)
		if i%1000 == 0 {
			head = nil
		}
	}
	var s uint64
	for p := head; p != nil; p = p.next {
		s += p.v[0]
	}
	return s
}

func main() {
	var wg sync.WaitGroup
	res := make([]uint64, 8)
	t := time.NewTicker(time.Millisecond)
	done := make(chan bool)
	go func() {
		for {
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				res[g] += build(g+1, 20000)
			}
		}(g)
	}
	wg.Wait()
	close(done)
	fmt.Println(res)
}
"""


@case('go-gc')
def c_go_gc(h):
    """The garbage collector at work on two threads: natively 0.1 to 0.4 s,
    recorded in 8 to 20 s (a restore-point mirror fork per madvise, a
    checkpoint sync per run of user code). About one recording in four used
    to spin for ever after exit_group (a thread killed under the recorder
    was retried without waiting for its end)."""
    exe = go_build(h, 'gc', GO_GC_PROGRAM)
    env = dict(os.environ, GOMAXPROCS='2', GOGC='10')
    nat = native(h, [exe], env=env)
    trace, rec = h.record([exe], name='go-gc', env=env, timeout=max(240, 100 * nat.seconds))
    same_as_native(nat, rec)
    e2e.remove_input(exe)
    compare(rec, h.replay(trace))


# ---------------------------------------------------------------------------
# script: a pty pair (posix_openpt, TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER), a
# session with a controlling terminal (TIOCSCTTY), termios on the slave.

SCRIPT_COMMAND = 'cat pty-input.txt; tty; stty size; stty -g'
SCRIPT_OUTPUT = re.compile(rb'([0-9a-f]{32})\r\n/dev/pts/(\d+)\r\n0 0\r\n'
                           rb'[0-9a-f]+(:[0-9a-f]+){35}\r\n')


@case('script-tty')
def c_script_pty(h):
    script = need('script')
    text = os.urandom(16).hex()
    path = h.path('pty-input.txt')
    with open(path, 'w') as f:
        f.write(text + '\n')
    argv = [script, '-q', '-c', SCRIPT_COMMAND, '/dev/null']
    nat = native(h, argv)
    trace, rec = h.record(argv, name='script')
    m = SCRIPT_OUTPUT.fullmatch(rec.stdout)
    if not m or m.group(1) != text.encode():
        raise Fail(f'the recorded script printed something else: {rec.stdout!r}')

    def no_pts_number(out):  # which pty is free differs from run to run
        return re.sub(rb'/dev/pts/\d+', b'/dev/pts/N', out)

    same_as_native(nat, rec, normalize=no_pts_number)
    e2e.remove_input(path)
    for _ in range(2):
        compare(rec, h.replay(trace))


# ---------------------------------------------------------------------------
# Debuggers inside a recording: strace -f and gdb -batch trace their own
# children, which needs uprr to emulate ptrace between recorded processes
# (issue 13, deliverable 4; doc/ptrace.md): both record and replay, and
# are in meson.build. gdb-batch needs single steps, regsets, debug
# registers and breakpoints written through /proc/PID/task/TID/mem.


def strace_per_process(text):
    """strace -f output (lines prefixed with the pid) as {pid: [lines]}, a
    call that strace split (<unfinished ...> ... <... resumed>) joined."""
    procs, pending = {}, {}
    for line in text.decode(errors='replace').splitlines():
        m = re.match(r'(\d+) +(.*)$', line)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        if rest.endswith(' <unfinished ...>'):
            pending[pid] = rest[:-len(' <unfinished ...>')]
            continue
        resumed = re.match(r'<\.\.\. \w+ resumed>(.*)$', rest)
        if resumed and pid in pending:
            rest = pending.pop(pid) + resumed.group(1)
        procs.setdefault(pid, []).append(rest)
    for pid, rest in pending.items():
        procs.setdefault(pid, []).append(rest + ' <unfinished ...>')
    return procs


def strace_normalize(text):
    """What strace -f printed, process by process (in pid order: the order
    they were created in), with what legitimately differs from run to run
    made neutral: pids (PIDn, TRACER: the shell's parent), addresses (ASLR is
    off under uprr), random bytes, CPU times. Processes run at once: their
    lines interleave differently in every run; each one's own are in order."""
    procs = strace_per_process(text)
    pids = sorted(procs)
    names = {pid: f'PID{i}' for i, pid in enumerate(pids)}
    for line in procs[pids[0]] if pids else ():
        m = re.match(r'getppid\(\) += (\d+)', line)
        if m:
            names[int(m.group(1))] = 'TRACER'
    def name(m):
        return m.group(1) + names.get(int(m.group(2)), m.group(2))

    out = []
    for pid in pids:
        out.append(f'== {names[pid]}')
        for line in procs[pid]:
            line = re.sub(r'0x[0-9a-f]+', 'ADDR', line)
            line = re.sub(r'getrandom\("[^"]*"', 'getrandom("RANDOM"', line)
            line = re.sub(r'si_utime=\d+, si_stime=\d+', 'si_utime=T, si_stime=T', line)
            # and strace's note of them when they add up to a tick or more
            line = re.sub(r' /\* [\d.]+ s \*/', '', line)
            # ids only where they stand for one (a pid may equal a size)
            call = re.match(r'(\w+)\(', line)
            if call and call.group(1) in STRACE_ID_RESULTS:
                line = re.sub(r'(= )(\d+)$', name, line)
            line = re.sub(r'(si_pid=|\bwait4\(|\bkill\(|\bt?tkill\(|\btgkill\(\d+, |'
                          r'\btgkill\(|parent_tid=\[)(\d+)', name, line)
            out.append(re.sub(r'\s+', ' ', line))
    return ('\n'.join(out) + '\n').encode()


# the syscalls whose result is a process or thread id (rt_sigreturn: what
# the interrupted one returned, a wait4's)
STRACE_ID_RESULTS = {'getpid', 'getppid', 'gettid', 'set_tid_address', 'fork', 'vfork', 'clone',
                     'clone3', 'wait4', 'rt_sigreturn'}


@case('strace-f')
def c_strace_f(h):
    """strace -f of a shell that runs ls and cat, one after the other (their
    traces do not depend on timing): under uprr record strace prints, process
    by process, what it prints natively (syscall and signal stops, vfork and
    exec events, rt_sigreturn and arch_prctl that uprr's filter otherwise
    lets go, exits), up to pids and addresses; the replay prints it again
    from the trace alone. rseq is left out: uprr fails it with ENOSYS before
    any stop (glibc runs without it), where natively it succeeds."""
    strace = need('strace')
    sh = need('sh')
    d = h.path('tree')
    os.mkdir(d)
    for name, text in (('f', b'hello\n'), ('g', b'world\n')):
        with open(os.path.join(d, name), 'wb') as f:
            f.write(text)
    # -o: every line starts with its pid (on stderr, the first process's
    # would not); /dev/stderr: uprr's, which the replay shows again
    argv = [strace, '-f', '-o', '/dev/stderr', '-e', 'trace=!rseq', sh, '-c',
            f'ls {d}; cat {d}/f; echo two']
    nat = native(h, argv)
    trace, rec = h.record(argv, name='strace')
    same_as_native(nat, rec)
    for text, what in ((nat.stderr, 'natively'), (rec.stderr, 'under uprr record')):
        for want in (rb'execve\("/usr/bin/ls"', rb'execve\("/usr/bin/cat"', rb'vfork\(',
                     rb'arch_prctl\(', rb'rt_sigreturn\(', rb'--- SIGCHLD',
                     rb'\+\+\+ exited with 0 \+\+\+'):
            if not re.search(want, text):
                raise Fail(f'strace did not show {want.decode()} {what}:\n{tail(text)}')
    nat_trace, rec_trace = strace_normalize(nat.stderr), strace_normalize(rec.stderr)
    if nat_trace.count(b'== PID') != 3:
        raise Fail('strace did not trace three processes natively:\n' + tail(nat_trace))
    compare_bytes(nat_trace, rec_trace, 'strace output', 'the native run', 'the recording')
    e2e.remove_input(d)
    compare(rec, h.replay(trace))


@case('gdb-batch')
def c_gdb_batch(h):
    """gdb -batch under uprr record, as a user debugs a crash: it runs a
    program (tests/progs/gdb_crash.c, a NULL dereference two calls down),
    stops at a breakpoint (int3 written through /proc/PID/task/TID/mem),
    prints a variable, sets a hardware watchpoint (debug registers), steps
    over lines with `next` (single steps and breakpoints) until the
    watchpoint triggers, steps one instruction, reads the stop's siginfo,
    continues to the SIGSEGV and prints the backtrace. The recording prints
    what gdb prints natively (but for the number the program picks at
    random, and pids); the replay, with the program gone, what the
    recording printed."""
    gdb = need('gdb')
    prog = h.path('gdb_crash')
    shutil.copy(h.prog('gdb_crash'), prog)
    cmds = ['break leaf', 'run', 'print n', 'watch sink', 'next', 'next', 'print v', 'stepi',
            'print $_siginfo.si_code', 'continue', 'print $_siginfo._sifields._sigfault.si_addr',
            'bt']
    argv = [gdb, '-nx', '-batch'] + [a for c in cmds for a in ('-ex', c)] + [prog]
    expect = [rb'\nBreakpoint 1, leaf \(p=0x0, n=\d+\) at [^\n]*gdb_crash\.c:17\n',
              rb'\nHardware watchpoint 2: sink\n\nOld value = 0\nNew value = \d+\n',
              rb'\n0x[0-9a-f]+\t20\t\treturn \*p \+ v;\n\$3 = 2\n',  # stepi: TRAP_TRACE
              rb'\nProgram received signal SIGSEGV, Segmentation fault\.\n',
              rb'\n\$4 = \(void \*\) 0x0\n',
              rb'\n#1  0x[0-9a-f]+ in middle \(n=\d+\) at [^\n]*gdb_crash\.c:28\n',
              rb'\n#2  0x[0-9a-f]+ in main \(\) at [^\n]*gdb_crash\.c:37\n']

    def steady(out):
        """The output with the random number and pids made the same."""
        out = re.sub(rb'(n is |n=|\$[0-9]+ = |New value = )\d+', rb'\1N', out)
        return re.sub(rb'process \d+', b'process PID', out)

    nat = native(h, argv)
    for want in expect:
        if not re.search(want, nat.stdout):
            raise Fail(f'gdb did not print {want!r} natively:\n' + tail(nat.stdout))
    trace, rec = h.record(argv, name='gdb')
    same_as_native(nat, rec, normalize=steady)
    e2e.remove_input(prog)
    compare(rec, h.replay(trace))