//! The KDP report reader (`shared::providers::kdp::parse_report`) on a generated 100,000-row
//! "Combined Sales" workbook (`providers::kdp::fixtures::large`: distinct rows over ASINs, days
//! and four marketplaces and currencies, under a title row): criterion's time per workbook (with
//! its throughput in rows per second), after one measured pass in a child process that only reads
//! the workbook and parses it, printing rows per second and the peak memory of the pass (the
//! child's peak resident set, `VmHWM`, over its resident set once the file is read; Linux only,
//! otherwise not printed).
//!
//!     cargo bench -p shared --features kdp-fixtures --bench kdp -- --warm-up-time 1 --measurement-time 20

#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure is a broken benchmark"
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group};
use shared::providers::kdp::{fixtures, parse_report};

const ROWS: usize = 100_000;

fn workbook() -> Vec<u8> {
    fixtures::xlsx(&[fixtures::large(ROWS)]).unwrap()
}

fn bench(c: &mut Criterion) {
    let bytes = workbook();
    let mut group = c.benchmark_group("kdp");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("parse_100k_row_workbook", |b| {
        b.iter(|| {
            let report = parse_report("report.xlsx", black_box(&bytes), "biz_bench").unwrap();
            assert_eq!(report.sales.len(), ROWS);
        });
    });
    group.finish();
}

/// A `/proc/self/status` figure in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Set to a workbook's path: the process is the measured pass's child, which only reads it.
const CHILD: &str = "KDP_BENCH_WORKBOOK";

/// One pass in a fresh process (so no memory the workbook's generation freed is reused): rows
/// per second, and the peak resident set of the pass over the one before it (file read).
fn measured_pass() {
    let path = std::env::temp_dir().join(format!("kdp-bench-{}.xlsx", std::process::id()));
    std::fs::write(&path, workbook()).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The child: reads the workbook, then parses it once.
fn child(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let report = parse_report("report.xlsx", &bytes, "biz_bench").unwrap();
    let elapsed = start.elapsed();
    let peak = status_kib("VmHWM:");
    assert_eq!(report.sales.len(), ROWS);
    println!(
        "kdp: {ROWS} rows, workbook {:.1} MiB, {:.0} rows/s ({:.0} ms)",
        bytes.len() as f64 / (1024.0 * 1024.0),
        ROWS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0,
    );
    if let (Some(before), Some(peak)) = (before, peak) {
        println!(
            "kdp: peak resident set {:.1} MiB, {:.1} MiB over the {:.1} MiB before the pass ({:.0} bytes a row)",
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0,
            before as f64 / 1024.0,
            peak.saturating_sub(before) as f64 * 1024.0 / ROWS as f64,
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(path) = std::env::var(CHILD) {
        child(&path);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    // The measured pass first, before criterion's passes raise the process's resident set.
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        measured_pass();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
