# Processes, threads and signals from python3 (issue 4): one section per run,
# named by the first argument, each printing only what does not depend on
# timing, pids or scheduling (tests/real/cases.txt: python3_threading, ...).
import os
import signal
import subprocess
import sys
import threading
import multiprocessing


def square(x):
    return x * x


def child_main(q, n):
    q.put(("child", n, os.getpid() != os.getppid()))


def section_threading():
    # 8 threads adding under a Lock.
    lock = threading.Lock()
    total = [0]

    def add():
        for _ in range(5000):
            with lock:
                total[0] += 1

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("lock total", total[0])

    # A Condition: 8 consumers, one producer, every item taken once.
    cond = threading.Condition()
    items = []
    done = [False]
    taken = []

    def consume():
        got = 0
        while True:
            with cond:
                while not items and not done[0]:
                    cond.wait()
                if not items:
                    break
                items.pop()
            got += 1
        with lock:
            taken.append(got)

    consumers = [threading.Thread(target=consume) for _ in range(8)]
    for t in consumers:
        t.start()
    for i in range(1000):
        with cond:
            items.append(i)
            cond.notify()
    with cond:
        done[0] = True
        cond.notify_all()
    for t in consumers:
        t.join()
    print("condition consumers", len(taken), "items", sum(taken))

    # A Barrier, an Event, thread-local data, threading.active_count.
    barrier = threading.Barrier(8)
    event = threading.Event()
    local = threading.local()
    results = []

    def meet(i):
        local.value = i
        barrier.wait()
        event.wait()
        with lock:
            results.append(local.value)

    ts = [threading.Thread(target=meet, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    event.set()
    for t in ts:
        t.join()
    print("barrier", sorted(results), "active", threading.active_count())


def section_subprocess():
    r = subprocess.run(["/bin/echo", "hello", "world"], capture_output=True, text=True)
    print("echo:", repr(r.stdout), r.returncode)
    p1 = subprocess.Popen(["/usr/bin/printf", "c\\nb\\na\\nb\\n"], stdout=subprocess.PIPE)
    p2 = subprocess.Popen(["/usr/bin/sort", "-u"], stdin=p1.stdout, stdout=subprocess.PIPE)
    p1.stdout.close()
    out, _ = p2.communicate()
    print("pipeline:", out.decode().split(), p1.wait(), p2.returncode)
    r = subprocess.run("seq 1 1000 | grep 7 | wc -l; exit 3", shell=True, capture_output=True, text=True)
    print("shell:", r.stdout.strip(), r.returncode)
    r = subprocess.run(["/bin/sh", "-c", "cat; echo err >&2"], input="from stdin\n", capture_output=True, text=True)
    print("stdin:", repr(r.stdout), repr(r.stderr))
    try:
        subprocess.run(["/bin/sleep", "10"], timeout=0.3)
    except subprocess.TimeoutExpired as e:
        print("timeout:", e.cmd)
    p = subprocess.Popen(["/bin/sleep", "10"])
    p.terminate()
    print("terminated:", p.wait())
    p = subprocess.Popen(["/bin/sleep", "10"])
    p.kill()
    print("killed:", p.wait())
    try:
        subprocess.run(["/nonexistent/program"])
    except FileNotFoundError as e:
        print("missing:", e.errno)
    print("check_output:", subprocess.check_output(["/bin/sh", "-c", "echo $((6*7))"]).decode().strip())


def run_pool(method):
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(4) as pool:
        print(method, "pool.map", pool.map(square, range(20)))
        print(method, "apply_async", pool.apply_async(square, (12,)).get(timeout=60))
    q = ctx.Queue()
    procs = [ctx.Process(target=child_main, args=(q, i)) for i in range(3)]
    for p in procs:
        p.start()
    got = sorted(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join()
    print(method, "processes", got, [p.exitcode for p in procs])
    p = ctx.Process(target=os._exit, args=(5,))
    p.start()
    p.join()
    print(method, "exitcode", p.exitcode)


def section_signal():
    hits = []
    signal.signal(signal.SIGUSR1, lambda s, f: hits.append(s))
    os.kill(os.getpid(), signal.SIGUSR1)
    print("SIGUSR1 handled", hits == [signal.SIGUSR1])

    # alarm: the handler raises, which interrupts a long sleep.
    class Alarm(Exception):
        pass

    def on_alarm(s, f):
        raise Alarm()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(1)
    try:
        import time
        time.sleep(20)
        print("sleep not interrupted")
    except Alarm:
        print("alarm interrupted sleep")
    print("alarm left", signal.alarm(0))

    # setitimer, then the remaining time read back.
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    print("itimer left in (29, 30]", 29 < left <= 30)
    signal.setitimer(signal.ITIMER_REAL, 0)

    # SIGCHLD: blocked, taken with sigwaitinfo; then a handler gets the next one.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    info = signal.sigwaitinfo([signal.SIGCHLD])
    print("sigwaitinfo SIGCHLD", info.si_signo == signal.SIGCHLD, info.si_code == os.CLD_EXITED,
          info.si_pid == pid, info.si_status)
    print("waitpid", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    chld = []
    signal.signal(signal.SIGCHLD, lambda s, f: chld.append(s))
    pid = os.fork()
    if pid == 0:
        os._exit(4)
    os.waitpid(pid, 0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
    print("SIGCHLD handler after unblock", chld == [signal.SIGCHLD])

    # Dispositions: ignore, default, the C-level default of SIGINT in Python.
    print("SIGINT handler is default_int_handler", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    os.kill(os.getpid(), signal.SIGUSR2)
    print("SIGUSR2 ignored")
    try:
        os.kill(os.getpid(), signal.SIGINT)
        print("not interrupted")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    # A child killed by a signal; and this process then dies by SIGTERM (default).
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        os._exit(0)
    print("child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "threading":
        section_threading()
    elif what == "subprocess":
        section_subprocess()
    elif what in ("fork", "spawn", "forkserver"):
        run_pool(what)
    elif what == "signal":
        section_signal()
    else:
        sys.exit("unknown section " + what)
