#!/usr/bin/env python3
"""Cold start of function binaries, measured against a local Lambda runtime API.

Cold start here is process start until the function's first `GET /runtime/invocation/next`: everything
the binary does before it can take an event (runtime set-up, logging, config validation, AWS SDK and
HTTP client construction). The script serves the runtime API on a loopback port, starts each binary N
times with a function's environment, and prints per binary:

- wall: time from just before the spawn to the arrival of the first /next (median, p90, min);
- cpu: CPU time (user + system) the process used up to that moment (median, p90, min). The process
  is killed as soon as its first /next has arrived; until then it is blocked in that long poll, so
  its whole-life rusage from wait4 is its CPU up to the first /next (exec and dynamic loading
  included, and threads that had already exited, which /proc/<pid>/stat's 10 ms ticks would not
  resolve anyway). As a cross-check, "at /next" is the sum of the live threads' scheduler run time
  (/proc/<pid>/task/*/schedstat, in ns) read by the server the moment the request arrives;
- the peak resident memory (VmHWM) at that moment.

Wall time on a small machine is mostly the harness (spawn, poll, thread hand-offs), so CPU is the
number to compare. A "floor" line measures, in the same run and interleaved with the binaries, a
trivial process that only does that one GET (infra/bench/floor.rs, built here with rustc): what any
binary costs before its own code runs.

    cargo build --release -p health -p webhooks -p auth -p sync -p processor -p maintenance -p rotate-secret -p state -p notify -p ingest
    python3 infra/bench/cold_start.py target/release/{health,webhooks,auth,authorizer,sync,processor,maintenance,rotate-secret,state,notify,ingest} --runs 100
"""
import argparse
import glob
import http.server
import os
import signal
import statistics
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

ENVIRONMENT = {
    "STAGE": "dev",
    "WHOP_APP_ID": "app_bench",
    "WHOP_API_BASE_URL": "https://api.whop.com/api/v1",
    "WEBHOOK_EVENTS_TABLE": "webhook-events",
    "SESSIONS_TABLE": "sessions",
    "STATE_TABLE": "state",
    "EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/events",
    "EVENTS_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/events-dlq",
    "SYNC_JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sync-jobs",
    "SYNC_JOBS_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sync-jobs-dlq",
    "WEBHOOK_SECRETS_ID": "webhook-secrets",
    "SESSION_KEYS_SECRET_ID": "session-keys",
    "WHOP_API_KEY_SECRET_ID": "whop-api-key",
    # What Lambda sets for a function.
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
}


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.pid = None
        self.first_next = threading.Event()
        self.first_next_at = None
        self.cpu_at_next_ns = None
        self.release = threading.Event()


def threads_run_time_ns(pid):
    """Sum of the scheduler run time of the process's live threads, or None if unreadable."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as schedstat:
                total += int(schedstat.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return total or None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if not self.server.first_next.is_set():
                self.server.first_next_at = time.perf_counter()
                self.server.cpu_at_next_ns = threads_run_time_ns(self.server.pid)
                self.server.first_next.set()
            # Hold the long poll open, as Lambda does while no event is waiting.
            self.server.release.wait()
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def one_run(binary):
    """(wall ms, cpu ms, cpu ms at /next or None, peak RSS KiB or None) of one cold start."""
    api = RuntimeApi()
    # A short poll interval: `shutdown` waits for the loop's next poll (0.5 s by default, which made
    # a run of 100 starts of 12 binaries take 10 minutes).
    threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", ""), **ENVIRONMENT,
           "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}"}
    process = None
    try:
        started = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        api.pid = process.pid
        if not api.first_next.wait(timeout=10):
            process.kill()
            raise SystemExit(f"{binary} never asked for an event: {process.communicate()[1].decode()[-2000:]}")
        elapsed_ms = (api.first_next_at - started) * 1000
        rss = peak_rss_kib(process.pid)
        process.send_signal(signal.SIGKILL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stderr.close()
        cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            process.wait()
        api.release.set()
        api.shutdown()
        api.server_close()
    at_next = api.cpu_at_next_ns / 1e6 if api.cpu_at_next_ns is not None else None
    return elapsed_ms, cpu_ms, at_next, rss


def build_floor():
    source = os.path.join(HERE, "floor.rs")
    out_dir = os.path.join(HERE, "..", "..", "target", "bench")
    os.makedirs(out_dir, exist_ok=True)
    binary = os.path.abspath(os.path.join(out_dir, "floor"))
    if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
        subprocess.run(["rustc", "--edition", "2021", "-C", "opt-level=3", "-C", "strip=symbols",
                        "-o", binary, source], check=True)
    return binary


def spread(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return statistics.median(values), p90, values[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+", metavar="binary")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-floor", action="store_true", help="do not measure the trivial floor process")
    args = parser.parse_args()
    binaries = list(dict.fromkeys(os.path.abspath(b) for b in args.binaries))
    if not args.no_floor:
        binaries.insert(0, build_floor())
    for binary in binaries:
        one_run(binary)  # warm the page cache, as Lambda's is for a deployed package
    results = {binary: [] for binary in binaries}
    # Round robin, so that drift in the machine's load falls on every binary alike.
    for _ in range(args.runs):
        for binary in binaries:
            results[binary].append(one_run(binary))
    print(f"cold start (process start -> first /invocation/next), {args.runs} runs each, "
          f"median / p90 / min; CPU = user+sys of the process up to that moment")
    names = [os.path.basename(b) for b in binaries]
    # Binaries of the same name (say, builds before and after a change) are told apart by folder.
    names = {b: os.path.join(os.path.basename(os.path.dirname(b)), n) if names.count(n) > 1 else n
             for b, n in zip(binaries, names)}
    width = max(len(n) for n in names.values())
    for binary in binaries:
        runs = results[binary]
        wall = spread(r[0] for r in runs)
        cpu = spread(r[1] for r in runs)
        at_next = [r[2] for r in runs if r[2] is not None]
        rss = [r[3] for r in runs if r[3] is not None]
        name = names[binary]
        line = f"{name:<{width}}  cpu {cpu[0]:6.2f} / {cpu[1]:6.2f} / {cpu[2]:6.2f} ms"
        if at_next:
            line += f" (live threads at /next {statistics.median(at_next):6.2f})"
        line += f"  wall {wall[0]:6.2f} / {wall[1]:6.2f} / {wall[2]:6.2f} ms"
        if rss:
            line += f"  peak RSS {statistics.median(rss) / 1024:5.1f} MiB"
        print(line)


if __name__ == "__main__":
    main()
