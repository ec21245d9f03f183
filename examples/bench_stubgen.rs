//! Benchmark: `abicut stubgen` against `llvm-ifs --output-elf` (llvm-ifs-14, Debian's
//! `llvm-14`), printing the times and the ratios in one run.
//!
//! `cargo build --release && cargo run --release --example bench_stubgen` times, over
//! [`BATCH`] (32 libraries of Debian bookworm's base system, in /usr/lib/x86_64-linux-gnu),
//! in [`ROUNDS`] interleaved rounds after one warm-up round: one `abicut stubgen --out-dir`
//! batch in the default mode, one with `--exact`, and a loop running llvm-ifs once per
//! library. It prints each run's wall time, the medians of wall and CPU time (user +
//! system: steadier than wall time on a machine shared with other jobs), the peak RSS of
//! each (the largest process), all from `getrusage(RUSAGE_CHILDREN)` of a runner process
//! per command, so cheap, and the ratios llvm-ifs / default and default / `--exact` of the
//! medians.
//!
//! `cargo run --release --example bench_stubgen -- all [DIR]` is the older, longer
//! measurement: every shared library under DIR (default /usr/lib/x86_64-linux-gnu) once,
//! as one batch, as one process per library, and through llvm-ifs.
//!
//! `ABICUT=PATH` times another build of abicut (an older commit's, for a before and after)
//! instead of the release build beside this example.
//!
//! Outputs are written under `target/bench_stubgen` (a temporary directory removed at the
//! end), on the disk the project is on.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::abicut_binary;

/// The directory [`BATCH`] is in.
const LIB_DIR: &str = "/usr/lib/x86_64-linux-gnu";

/// The 32 libraries timed: libraries of packages in every Debian bookworm system (the
/// base system's, or what apt and systemd need), with shallow and deep `DT_NEEDED`
/// closures (libgnutls's has eight libraries), by soname. libc's own libraries are left
/// out because llvm-ifs 14 fails on libc.so.6 and libm.so.6; they are in every closure.
const BATCH: [&str; 32] = [
    "libacl.so.1",
    "libattr.so.1",
    "libaudit.so.1",
    "libblkid.so.1",
    "libbz2.so.1.0",
    "libcap.so.2",
    "libcrypt.so.1",
    "libdb-5.3.so",
    "libgcc_s.so.1",
    "libgcrypt.so.20",
    "libgmp.so.10",
    "libgnutls.so.30",
    "libgpg-error.so.0",
    "libhogweed.so.6",
    "libidn2.so.0",
    "liblz4.so.1",
    "liblzma.so.5",
    "libmount.so.1",
    "libnettle.so.8",
    "libp11-kit.so.0",
    "libpam.so.0",
    "libpcre2-8.so.0",
    "libselinux.so.1",
    "libsemanage.so.2",
    "libsepol.so.2",
    "libsmartcols.so.1",
    "libstdc++.so.6",
    "libsystemd.so.0",
    "libtinfo.so.6",
    "libuuid.so.1",
    "libz.so.1",
    "libzstd.so.1",
];

/// Timed rounds; each runs the three contenders once, one after another.
const ROUNDS: usize = 7;

/// What one runner process timed.
#[derive(Clone, Copy, Debug)]
enum Contender {
    Default,
    Exact,
    LlvmIfs,
}

impl Contender {
    fn arg(self) -> &'static str {
        match self {
            Contender::Default => "default",
            Contender::Exact => "exact",
            Contender::LlvmIfs => "llvm-ifs",
        }
    }

    fn parse(s: &str) -> Option<Contender> {
        [Contender::Default, Contender::Exact, Contender::LlvmIfs]
            .into_iter()
            .find(|c| c.arg() == s)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("all") => all(args.get(1).map_or(LIB_DIR, String::as_str)),
        Some("--runner") => runner(&args[1..]),
        None => batches(),
        Some(other) => {
            eprintln!("usage: bench_stubgen [all [DIR]] (not {other:?})");
            std::process::exit(2);
        }
    }
}

fn llvm_ifs() -> &'static str {
    ["llvm-ifs-14", "llvm-ifs"]
        .into_iter()
        .find(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("llvm-ifs is not installed (Debian package llvm-14)")
}

fn batch_libraries() -> Vec<PathBuf> {
    let libs: Vec<PathBuf> = BATCH.iter().map(|n| Path::new(LIB_DIR).join(n)).collect();
    let missing: Vec<String> = libs
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        eprintln!("missing libraries: {}", missing.join(" "));
        std::process::exit(2);
    }
    libs
}

/// The default measurement: [`BATCH`], [`ROUNDS`] times, medians and ratios.
fn batches() {
    let libs = batch_libraries();
    let llvm_ifs = llvm_ifs();
    std::fs::create_dir_all("target").expect("target directory");
    let work = tempfile::Builder::new()
        .prefix("bench_stubgen")
        .tempdir_in("target")
        .expect("temporary directory");
    println!(
        "{} libraries of {LIB_DIR} (examples/bench_stubgen.rs BATCH), {ROUNDS} rounds after a warm-up",
        libs.len()
    );
    let contenders = [Contender::Default, Contender::Exact, Contender::LlvmIfs];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); contenders.len()];
    for round in 0..=ROUNDS {
        for (i, c) in contenders.iter().enumerate() {
            let out = work.path().join(format!("{}-{round}", c.arg()));
            let run = run_contender(*c, &out, llvm_ifs);
            if round > 0 {
                runs[i].push(run);
            }
            std::fs::remove_dir_all(&out).ok();
        }
    }
    let labels = [
        "abicut stubgen (default):".to_owned(),
        "abicut stubgen --exact:".to_owned(),
        format!("{llvm_ifs} loop:"),
    ];
    for (label, r) in labels.iter().zip(&runs) {
        let ms: Vec<String> = r.iter().map(|r| format!("{:.1}", r.wall * 1e3)).collect();
        println!("runs of {label:<28} {} ms", ms.join(" "));
    }
    println!(
        "median of {ROUNDS} runs: wall, CPU (user + system), peak RSS of the largest process:"
    );
    let wall: Vec<f64> = runs
        .iter()
        .map(|r| median(r.iter().map(|r| r.wall).collect()))
        .collect();
    let cpu: Vec<f64> = runs
        .iter()
        .map(|r| median(r.iter().map(|r| r.cpu).collect()))
        .collect();
    for (((label, r), w), c) in labels.iter().zip(&runs).zip(&wall).zip(&cpu) {
        let rss = r.iter().map(|r| r.rss_kib).max().unwrap_or(0);
        println!(
            "{label:<28} {:>8.1} ms  {:>8.1} ms CPU  {:>6.1} MiB",
            w * 1e3,
            c * 1e3,
            rss as f64 / 1024.0
        );
    }
    println!(
        "ratio llvm-ifs / default:    {:>6.1}x  (CPU {:.1}x)",
        wall[2] / wall[0],
        cpu[2] / cpu[0]
    );
    println!(
        "ratio default / --exact:     {:>6.2}x  (CPU {:.2}x)",
        wall[0] / wall[1],
        cpu[0] / cpu[1]
    );
}

/// What one run of a contender took.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Seconds.
    wall: f64,
    /// Seconds of user and system time of its processes.
    cpu: f64,
    /// The largest resident set of its processes, KiB.
    rss_kib: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs one contender in a runner process (this example again, with `--runner`), so that
/// the runner's `getrusage(RUSAGE_CHILDREN)` is that contender's peak RSS alone. Returns
/// what it took.
fn run_contender(c: Contender, out: &Path, llvm_ifs: &str) -> Run {
    let me = std::env::current_exe().expect("own path");
    let output = Command::new(me)
        .arg("--runner")
        .arg(c.arg())
        .arg(out)
        .arg(std::env::var_os("ABICUT").map_or_else(abicut_binary, PathBuf::from))
        .arg(llvm_ifs)
        .stderr(Stdio::inherit())
        .output()
        .expect("runner starts");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    match (
        output.status.success(),
        words.next().and_then(|w| w.parse().ok()),
        words.next().and_then(|w| w.parse().ok()),
        words.next().and_then(|w| w.parse().ok()),
    ) {
        (true, Some(wall), Some(cpu), Some(rss_kib)) => Run { wall, cpu, rss_kib },
        _ => {
            eprintln!("{} failed: {text}", c.arg());
            std::process::exit(1);
        }
    }
}

/// The runner: `--runner CONTENDER OUT ABICUT LLVM_IFS`. Times the contender writing into
/// OUT and prints `SECONDS CPU_SECONDS PEAK_RSS_KIB`; exits non-zero if any command failed.
fn runner(args: &[String]) {
    let (Some(c), Some(out), Some(abicut), Some(llvm_ifs)) = (
        args.first().and_then(|a| Contender::parse(a)),
        args.get(1).map(PathBuf::from),
        args.get(2),
        args.get(3),
    ) else {
        eprintln!("runner: bad arguments {args:?}");
        std::process::exit(2);
    };
    let libs = batch_libraries();
    std::fs::create_dir_all(&out).expect("output directory");
    let start = Instant::now();
    let ok = match c {
        Contender::Default | Contender::Exact => {
            let mut cmd = Command::new(abicut);
            cmd.arg("stubgen").arg("--out-dir").arg(&out);
            if matches!(c, Contender::Exact) {
                cmd.arg("--exact");
            }
            cmd.args(&libs).status().is_ok_and(|s| s.success())
        }
        Contender::LlvmIfs => libs.iter().all(|lib| {
            let name = lib.file_name().expect("library file name");
            Command::new(llvm_ifs)
                .arg(format!("--output-elf={}", out.join(name).display()))
                .arg(lib)
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }),
    };
    let secs = start.elapsed().as_secs_f64();
    let (cpu, rss) = children_usage();
    println!("{secs} {cpu} {rss}");
    if !ok {
        std::process::exit(1);
    }
}

/// The user and system seconds of the children this process has waited for, and the
/// largest resident set of any of them in KiB (Linux's `ru_maxrss` unit).
fn children_usage() -> (f64, u64) {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        u64::try_from(usage.ru_maxrss).unwrap_or(0),
    )
}

/// The older measurement: every shared library under `dir`, once each way.
fn all(dir: &str) {
    let dir = PathBuf::from(dir);
    let abicut = abicut_binary();
    let llvm_ifs = llvm_ifs();
    let libs = shared_libraries(&dir);
    println!("{} shared libraries under {}", libs.len(), dir.display());
    std::fs::create_dir_all("target").expect("target directory");
    let out = tempfile::Builder::new()
        .prefix("bench_stubgen")
        .tempdir_in("target")
        .expect("temporary directory");

    let (batch, batch_failed) = time(|| {
        let status = Command::new(&abicut)
            .arg("stubgen")
            .arg("--out-dir")
            .arg(out.path().join("batch"))
            .args(&libs)
            .stderr(Stdio::null())
            .status()
            .expect("abicut runs");
        usize::from(!status.success())
    });
    let (per_process, per_failed) = time(|| {
        let dir = out.path().join("each");
        std::fs::create_dir_all(&dir).expect("output directory");
        count_failures(&libs, |lib, n| {
            Command::new(&abicut)
                .arg("stubgen")
                .arg("-o")
                .arg(dir.join(n.to_string()))
                .arg(lib)
                .stderr(Stdio::null())
                .status()
        })
    });
    let (llvm, llvm_failed) = time(|| {
        let dir = out.path().join("llvm");
        std::fs::create_dir_all(&dir).expect("output directory");
        count_failures(&libs, |lib, n| {
            Command::new(llvm_ifs)
                .arg(format!(
                    "--output-elf={}",
                    dir.join(n.to_string()).display()
                ))
                .arg(lib)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        })
    });
    let written = std::fs::read_dir(out.path().join("batch")).map_or(0, |d| d.count());
    println!(
        "abicut stubgen, one batch:        {:>8.3} s  ({written} stubs; batch exit {})",
        secs(batch),
        if batch_failed == 0 { "0" } else { "non-zero" }
    );
    println!(
        "abicut stubgen, one per library:  {:>8.3} s  ({per_failed} failed)",
        secs(per_process)
    );
    println!(
        "{llvm_ifs} --output-elf, per library: {:>8.3} s  ({llvm_failed} failed)",
        secs(llvm)
    );
    println!(
        "ratio llvm-ifs / abicut batch:        {:>6.1}x",
        secs(llvm) / secs(batch)
    );
    println!(
        "ratio llvm-ifs / abicut per library:  {:>6.1}x",
        secs(llvm) / secs(per_process)
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed(), value)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn count_failures(
    libs: &[PathBuf],
    run: impl Fn(&Path, usize) -> std::io::Result<std::process::ExitStatus>,
) -> usize {
    libs.iter()
        .enumerate()
        .filter(|(n, lib)| !run(lib, *n).is_ok_and(|s| s.success()))
        .count()
}

/// Regular files (each once, symlinks resolved) whose name says `.so` and whose ELF type is
/// ET_DYN.
fn shared_libraries(dir: &Path) -> Vec<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("library directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".so"))
        })
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter(|p| p.is_file() && is_elf_dyn(p))
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

fn is_elf_dyn(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head.starts_with(b"\x7fELF") && head[16] == 3 && head[17] == 0)
}
