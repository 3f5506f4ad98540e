#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Survey: how much of what real programs do uprr records and replays.

Runs each command of a corpus of everyday Debian programs (coreutils,
findutils, archivers, interpreters, compilers, git, openssl, sqlite3...)
natively, under `uprr record` and under `uprr replay` (with the inputs
gone), and sorts each into one class:

  pass       recorded, replayed identically (stdout, stderr, exit status),
             and, where the command's output is deterministic, the recording
             behaved as the native run did
  refused    uprr record stopped with a one-line reason (exit 125)
  hang       record or replay did not end within the time limit
  diverged   uprr replay stopped with a divergence (exit 125)
  differs    replay's output or status differs from the recording's, or the
             recording's from the native run's (a silent difference)
  crash      uprr itself died of a signal

Prints one line per command and the share of each class; a markdown table
with -m. Not a test: the README reports its figures.

usage: bench/corpus.py [-B BUILD_DIR] [-t SECONDS] [-m] [-k] [NAME...]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name, shell command (run by /bin/sh -c in the work dir), deterministic
# (its output and status are the same in every run, so the recording must
# match the native run byte for byte), inputs it reads (removed before
# replay; 'in' is the fixture folder)
CORPUS = [
    ('ls', 'ls -la --time-style=+%F in/tree | sed 1d', True),
    ('cat-head-tail', 'cat in/words.txt | head -50 | tail -5', True),
    ('wc', 'wc in/words.txt in/lines.txt', True),
    ('sort-uniq', 'sort in/words.txt | uniq -c | sort -rn | head -5', True),
    ('sort-parallel', 'sort --parallel=2 -S 8M in/lines.txt | md5sum', True),
    ('cut-tr-paste', 'cut -c1-3 in/words.txt | tr a-z A-Z | paste -sd, | head -c 200', True),
    ('nl-fold-tac', 'nl in/lines.txt | fold -w 20 | tac | head -3', True),
    ('rev-column', 'head -20 in/words.txt | rev | column -c 60', True),
    ('join-comm', 'sort in/words.txt | uniq > a; sort in/lines.txt | uniq > b; join a b | wc -l; comm -12 a b | wc -l', True),
    ('checksums', 'md5sum in/lines.txt; sha256sum in/lines.txt; b2sum in/lines.txt; cksum in/lines.txt', True),
    ('base64-od', 'head -c 300 in/lines.txt | base64 | head -3; od -An -tx1 -N32 in/lines.txt', True),
    ('grep-r', 'grep -rn --include=*.txt zebra in | sort', True),
    ('sed-awk', "sed -n 's/^\\(a.*\\)$/<\\1>/p' in/words.txt | awk '{n += length($0)} END {print NR, n}'", True),
    ('find-xargs', 'find in/tree -type f -name "*.c" -print0 | sort -z | xargs -0 wc -c', True),
    ('find-printf', 'find in/tree -printf "%y %d %P\\n" | sort', True),
    ('tar-gzip', 'tar -C in -czf t.tgz tree && tar -tzf t.tgz | sort | head; gzip -dc t.tgz | wc -c', True),
    ('xz-threads', 'xz -T2 -c in/lines.txt | xz -dc | md5sum', True),
    ('bzip2', 'bzip2 -c in/lines.txt | bzip2 -dc | md5sum', True),
    ('zstd-threads', 'zstd -q -T2 -c in/lines.txt | zstd -qdc | md5sum', True),
    ('pigz', 'pigz -p 2 -c in/lines.txt | pigz -dc | md5sum', True),
    ('diff-cmp', 'diff in/tree/a.c in/tree/sub/b.c; cmp in/tree/a.c in/tree/sub/b.c; echo $?', True),
    ('cp-r', 'cp -r in/tree copy && find copy | sort && cmp in/tree/a.c copy/a.c', True),
    ('cp-mv-rm', 'mkdir -p x/y && cp in/words.txt x/y/w && mv x/y/w x/w2 && ln -s w2 x/l && ls x && rm -r x', True),
    ('stat', 'stat -c "%n %s %F %a" in/words.txt in/tree', True),
    ('touch-date', 'touch -d "2020-01-02 03:04:05" f && date -r f +%F_%T', True),
    ('split', 'split -l 1000 in/lines.txt part. && ls part.* && cat part.* | md5sum', True),
    ('seq-factor', 'seq 100 200 | factor | tail -3', True),
    ('shuf', 'shuf --random-source=in/lines.txt -n 5 in/words.txt', True),
    ('yes-head', 'yes abc | head -c 100000 | md5sum', True),
    ('tee', 'seq 1000 | tee t1 | wc -l; wc -l t1', True),
    ('sleep-timeout', 'timeout 5 sleep 0.05; echo $?; timeout 0.05 sleep 5; echo $?', True),
    ('env-id', 'env -i A=1 B=2 env; id -u; uname -s', True),
    ('printf-bash', 'bash -c \'for i in {1..5}; do printf "%03d\\n" $i; done; echo $(( 6 * 7 )); x=$(echo sub); echo $x; cat <(echo procsub)\'', True),
    ('subshells', 'for i in 1 2 3 4 5 6 7 8; do (echo $i) & done; wait', False),
    ('python3', 'python3 -c "import json, hashlib; d = {str(i): i * i for i in range(1000)}; print(hashlib.sha256(json.dumps(d).encode()).hexdigest())"', True),
    ('python3-threads', 'python3 -c "import threading, queue\nq = queue.Queue()\ndef w(n):\n    q.put(sum(range(n)))\nts = [threading.Thread(target=w, args=(100000 * i,)) for i in range(4)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(q.get() for _ in ts))"', True),
    ('python3-subprocess', 'python3 -c "import subprocess; print(subprocess.run([\'echo\', \'child\'], capture_output=True).stdout)"', True),
    ('perl', 'perl -e \'my %h; $h{$_ % 7}++ for 1..10000; print join(",", map {"$_=$h{$_}"} sort keys %h), "\\n"\'', True),
    ('bc', 'echo "scale=50; 4*a(1)" | bc -l', True),
    ('jq', 'echo \'{"a": [1, 2, {"b": "c"}]}\' | jq -c ".a[2], (.a | length)"', True),
    ('sqlite3', 'sqlite3 db "create table t(x); insert into t values (1), (2), (3); select sum(x) from t;"', True),
    ('git', 'git init -q repo && cd repo && git config user.email a@b && git config user.name n && echo hi > f && git add f && GIT_AUTHOR_DATE=@0 GIT_COMMITTER_DATE=@0 git commit -qm one && git log --format="%H %s"', True),
    ('openssl', 'openssl dgst -sha256 in/lines.txt | cut -d" " -f2; openssl enc -aes-256-cbc -K 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff -iv 00112233445566778899aabbccddeeff -in in/words.txt | md5sum', True),
    ('openssl-rand', 'openssl rand -hex 16', False),
    ('ssh-keygen', 'ssh-keygen -q -t ed25519 -N "" -f key && wc -l key key.pub', True),
    ('file', 'file in/words.txt /bin/ls | cut -c1-60', True),
    ('gcc', 'gcc -O1 -o hello in/tree/hello.c && ./hello', True),
    ('make', 'make -s -C in/tree -f Makefile OUT=$PWD/made && cat made', True),
    ('iconv-locale', 'printf "caf\\303\\251\\n" | iconv -f utf-8 -t latin1 | od -An -c', True),
    ('getent', 'getent passwd root', True),
    ('date', 'date +%s', False),
    ('ps', 'ps -o pid,comm', False),
    ('df-free', 'df -h / >/dev/null && free -m >/dev/null && echo ok', True),
    ('uptime-nproc', 'nproc; uptime >/dev/null && echo ok', True),
    ('urandom', 'head -c 16 /dev/urandom | od -An -tx1', False),
    ('xargs-parallel', 'seq 1 40 | xargs -P 2 -n 5 echo | sort', True),
    ('hexdump-xxd', 'head -c 64 in/lines.txt | hexdump -C | tail -2; head -c 16 in/words.txt | xxd', True),
    ('zip-unzip', 'cd in && zip -qrX ../t.zip tree && cd .. && unzip -l t.zip | tail -1 && unzip -qd out t.zip && find out | sort', True),
    ('cpio', 'cd in && find tree | sort | cpio -o --quiet -H newc | cpio -t --quiet | tail -3', True),
    ('dash', 'dash -c \'i=0; while [ $i -lt 300 ]; do i=$((i + 1)); done; echo $i\'', True),
    ('tclsh', 'echo \'puts [expr {6 * 7}]; puts [lsort {c a b}]\' | tclsh', True),
    ('vim-ex', 'vim -es -u NONE -c "%s/zebra/ZEBRA/g" -c "w! out.txt" -c q in/words.txt; grep -c ZEBRA out.txt', True),
    ('gfortran', 'printf "program p\\nprint *, sum([(i, i = 1, 100)])\\nend program\\n" > p.f90 && gfortran -o p p.f90 && ./p', True),
    ('node', 'node -e "console.log([1, 2, 3].map(x => x * x).join(\',\'))"', True),
    ('node-workers', 'node -e "const {Worker} = require(\'worker_threads\'); let n = 0; for (let i = 0; i < 2; i++) { const w = new Worker(\'const {parentPort} = require(\\\'worker_threads\\\'); let s = 0; for (let j = 0; j < 1e6; j++) s += j; parentPort.postMessage(s)\', {eval: true}); w.on(\'message\', m => { console.log(m); if (++n == 2) process.exit(0) }) }"', True),
    ('java', 'java -Xshare:off -XX:+UseSerialGC -version 2>&1 | head -1', True),
    ('strace', 'strace -f -o /dev/null true; echo $?', True),
    ('gdb-batch', 'gdb -batch -nx -ex run -ex "info registers rip" --args /bin/true 2>&1 | grep -c "exited normally"', True),
]

WORDS = ['alpha', 'beta', 'gamma', 'delta', 'zebra', 'apple', 'avocado', 'kiwi', 'lemon',
         'mango', 'zeta', 'omega', 'sigma', 'tau', 'phi']


def make_fixture(d):
    import random
    rnd = random.Random(42)
    os.makedirs(os.path.join(d, 'tree', 'sub', 'deeper'))
    with open(os.path.join(d, 'words.txt'), 'w') as f:
        for _ in range(5000):
            f.write(rnd.choice(WORDS) + str(rnd.randrange(50)) + '\n')
    with open(os.path.join(d, 'lines.txt'), 'w') as f:
        for i in range(20000):
            f.write(' '.join(rnd.choice(WORDS) for _ in range(6)) + f' {i}\n')
    files = {
        'a.c': 'int a(void) { return 1; }\n',
        'sub/b.c': 'int b(void) { return 2; }\n',
        'sub/deeper/c.c': 'int c(void) { return 3; }\n',
        'notes.txt': 'a zebra in the tree\n',
        'hello.c': '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 0; }\n',
        'Makefile': 'all:\n\t@echo made by make > $(OUT)\n',
    }
    for name, text in files.items():
        with open(os.path.join(d, 'tree', name), 'w') as f:
            f.write(text)
    os.symlink('a.c', os.path.join(d, 'tree', 'link.c'))
    for root, dirs, names in os.walk(d):
        for n in dirs + names:
            os.utime(os.path.join(root, n), (1e9, 1e9), follow_symlinks=False)


def run(argv, cwd, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, b'', b'', time.monotonic() - t0
    return p.returncode, out, err, time.monotonic() - t0


def first_line(b):
    lines = [ln for ln in b.decode(errors='replace').splitlines() if ln.startswith('uprr')]
    lines = lines or b.decode(errors='replace').strip().splitlines() or ['']
    return lines[-1][:160]


def survey(uprr, name, cmd, det, base, timeout):
    """Returns (class, detail)."""
    work = os.path.join(base, name)
    fixture = os.path.join(work, 'in')
    os.makedirs(work)
    make_fixture(fixture)
    nst, nout, nerr, _ = run(['/bin/sh', '-c', cmd], work, timeout)
    if nst == 127:
        return 'missing', 'not installed here'
    # the recording starts from a fresh work dir, as the native run did
    shutil.rmtree(work)
    os.makedirs(work)
    make_fixture(fixture)
    trace = os.path.join(base, name + '.trace')
    rst, rout, rerr, _ = run([uprr, 'record', '-o', trace, '--', '/bin/sh', '-c', cmd],
                             work, timeout)
    if rst is None:
        return 'hang', 'uprr record did not end'
    if rst < 0:
        return 'crash', f'uprr record died of signal {-rst}'
    if rst == 125:
        return 'refused', first_line(rerr)
    shutil.rmtree(fixture)
    pst, pout, perr, _ = run([uprr, 'replay', trace], work, timeout)
    if pst is None:
        return 'hang', 'uprr replay did not end'
    if pst < 0:
        return 'crash', f'uprr replay died of signal {-pst}'
    if pst == 125:
        return 'diverged', first_line(perr)
    if (pst, pout) != (rst, rout):
        return 'differs', f'replay: status {pst} vs {rst}, stdout {len(pout)} vs {len(rout)} bytes'
    if det and nst is not None and (nst, nout) != (rst, rout):
        return 'differs', f'recording vs native: status {rst} vs {nst}, stdout differs: ' \
                          f'{rout[:60]!r} vs {nout[:60]!r}'
    return 'pass', ''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-B', '--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('-t', '--timeout', type=float, default=60)
    ap.add_argument('-m', '--markdown', action='store_true')
    ap.add_argument('-k', '--keep', action='store_true', help='keep the work dir')
    ap.add_argument('names', nargs='*')
    a = ap.parse_args()
    uprr = os.path.join(a.build, 'cli', 'uprr')
    base = tempfile.mkdtemp(prefix='uprr-corpus-')
    results = []
    for name, cmd, det in CORPUS:
        if a.names and name not in a.names:
            continue
        cls, detail = survey(uprr, name, cmd, det, base, a.timeout)
        results.append((name, cls, detail))
        print(f'{name:20} {cls:9} {detail}', file=sys.stderr, flush=True)
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f'kept {base}', file=sys.stderr)
    results = [r for r in results if r[1] != 'missing']
    classes = ['pass', 'refused', 'hang', 'diverged', 'differs', 'crash']
    n = len(results)
    counts = {c: sum(1 for r in results if r[1] == c) for c in classes}
    if a.markdown:
        print('| class | programs | share |\n|---|---:|---:|')
        for c in classes:
            print(f'| {c} | {counts[c]} | {100 * counts[c] / max(n, 1):.0f} % |')
        for name, cls, detail in results:
            if cls != 'pass':
                print(f'- `{name}`: {cls}: {detail}')
    else:
        print(' '.join(f'{c} {counts[c]}/{n}' for c in classes))
    return 0


if __name__ == '__main__':
    sys.exit(main())
