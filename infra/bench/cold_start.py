#!/usr/bin/env python3
"""Cold start of a function binary, measured against a local Lambda runtime API.

Cold start here is process start until the function's first `GET /runtime/invocation/next`: everything
the binary does before it can take an event (runtime set-up, logging, config validation, AWS SDK and
HTTP client construction). The script serves the runtime API on a loopback port, starts the binary N
times with a function's environment, and prints the median, p90 and minimum, plus the peak resident
memory (VmHWM) at that moment.

    cargo build --release -p health
    python3 infra/bench/cold_start.py target/release/health --runs 50
"""
import argparse
import http.server
import os
import statistics
import subprocess
import threading
import time

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
        self.first_next = threading.Event()
        self.first_next_at = None
        self.release = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if not self.server.first_next.is_set():
                self.server.first_next_at = time.perf_counter()
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
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", ""), **ENVIRONMENT,
           "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}"}
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not api.first_next.wait(timeout=10):
            process.kill()
            raise SystemExit(f"{binary} never asked for an event: {process.communicate()[1].decode()[-2000:]}")
        elapsed_ms = (api.first_next_at - started) * 1000
        rss = peak_rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()
        api.release.set()
        api.shutdown()
        api.server_close()
    return elapsed_ms, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    one_run(args.binary)  # warm the page cache, as Lambda's is for a deployed package
    results = [one_run(args.binary) for _ in range(args.runs)]
    times = sorted(t for t, _ in results)
    rss = [r for _, r in results if r is not None]
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{os.path.basename(args.binary)}: cold start (process start -> first /invocation/next) over {len(times)} runs: "
          f"median {statistics.median(times):.2f} ms, p90 {p90:.2f} ms, min {times[0]:.2f} ms; "
          f"peak RSS at that point {statistics.median(rss) / 1024:.1f} MiB" if rss else "")


if __name__ == "__main__":
    main()
