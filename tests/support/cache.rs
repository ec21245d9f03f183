//! A real, signed Nix binary cache served over HTTP on loopback, and a client Nix store of
//! its own that substitutes from it: shared by tests/cache.rs and examples/bench_cache.rs;
//! tests/relocate.rs and tests/nix_real.rs take the cache alone.
//!
//! The builder is the machine's Nix store; `nix copy --to file://DIR?secret-key=KEY`
//! uploads what it built (with the realisations of content-addressed outputs), signed
//! with a key from `nix-store --generate-binary-cache-key`. python3's http.server serves
//! DIR on 127.0.0.1 and its access log says what was fetched. The client is a separate
//! store, `ROOT/nix` bind-mounted over /nix in a private mount namespace (`unshare -m`):
//! Nix 2.8 builds in a chroot store (`--store local?root=`) only inside its sandbox, and the
//! test builds use the host's compilers, so a real /nix of its own is the honest way to a
//! second store that both builds and substitutes. The client trusts the cache's public key
//! only, with `require-sigs = true`. Every byte count comes from the cache's own narinfo
//! files (`FileSize`) and the server's access log.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One narinfo of the cache: the store path it describes, the NAR file's URL (relative to
/// the cache) and its compressed size.
#[derive(Debug, Clone)]
pub struct NarInfo {
    pub store_path: String,
    pub url: String,
    pub file_size: u64,
    pub nar_size: u64,
}

/// The fields of a narinfo that the measures need; None if one is missing.
pub fn parse_narinfo(text: &str) -> Option<NarInfo> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .map(str::to_string)
    };
    Some(NarInfo {
        store_path: field("StorePath")?,
        url: field("URL")?,
        file_size: field("FileSize")?.parse().ok()?,
        nar_size: field("NarSize")?.parse().ok()?,
    })
}

/// A signed file:// binary cache and the HTTP server in front of it.
pub struct BinaryCache {
    dir: tempfile::TempDir,
    server: Child,
    port: u16,
    public_key: String,
}

impl BinaryCache {
    /// Makes a key pair named `name`, an empty cache, and starts serving it.
    pub fn start(name: &str) -> Result<BinaryCache, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (secret, public) = (dir.path().join("secret"), dir.path().join("public"));
        let keygen = Command::new("nix-store")
            .args(["--generate-binary-cache-key", name])
            .args([&secret, &public])
            .output()
            .map_err(|e| format!("nix-store: {e}"))?;
        if !keygen.status.success() {
            return Err(String::from_utf8_lossy(&keygen.stderr).into_owned());
        }
        let public_key = std::fs::read_to_string(&public).map_err(|e| e.to_string())?;
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).map_err(|e| e.to_string())?;
        let port = free_port()?;
        let log =
            std::fs::File::create(dir.path().join("access.log")).map_err(|e| e.to_string())?;
        let server = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(&files)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let cache = BinaryCache {
            dir,
            server,
            port,
            public_key: public_key.trim().to_string(),
        };
        cache.wait_until_served()?;
        Ok(cache)
    }

    /// Waits for the server to answer (it writes nix-cache-info on the first upload; until
    /// then a 404 is an answer too).
    fn wait_until_served(&self) -> Result<(), String> {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!(
            "the cache server on port {} never answered",
            self.port
        ))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The cache's directory, which the server serves: a `file://` URL to it names the
    /// same cache without HTTP, and a test may damage what is in it.
    pub fn files(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.files().display())
    }

    /// `nix copy` of `installables` (as after `nix-build`'s file argument: the set, its
    /// `--arg`s, then attribute paths after `-A`-less form; see [`copy_args`]) from the
    /// builder's store, run in `dir`, signed.
    pub fn push(&self, dir: &Path, args: &[String]) -> Result<(), String> {
        let mut all = vec!["-f".to_string()];
        all.extend(args.iter().cloned());
        self.copy(dir, None, all)
    }

    /// `nix copy` of store paths and their closures, signed.
    pub fn push_paths(&self, paths: &[PathBuf]) -> Result<(), String> {
        self.copy(self.dir.path(), None, path_args(paths))
    }

    /// [`Self::push_paths`] with the NARs compressed by `compression` (`xz`, Nix's default,
    /// `zstd`, `bzip2`, `none`): a reader of caches must be tried on each. A path already
    /// in the cache is not written again, in any compression.
    pub fn push_paths_compressed(
        &self,
        paths: &[PathBuf],
        compression: &str,
    ) -> Result<(), String> {
        self.copy(self.dir.path(), Some(compression), path_args(paths))
    }

    fn copy(&self, dir: &Path, compression: Option<&str>, args: Vec<String>) -> Result<(), String> {
        let mut to = format!(
            "{}?secret-key={}",
            self.file_url(),
            self.dir.path().join("secret").display()
        );
        if let Some(c) = compression {
            to.push_str(&format!("&compression={c}"));
        }
        let mut all = vec!["copy".to_string(), "--to".to_string(), to];
        all.extend(args);
        let out = super::real::nix_command("nix", &all, dir)
            .run()
            .map_err(|e| format!("nix copy: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "nix copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Every narinfo in the cache, by store path.
    pub fn narinfos(&self) -> BTreeMap<String, NarInfo> {
        let mut found = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(self.files()) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "narinfo") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if let Some(info) = parse_narinfo(&text) {
                    found.insert(info.store_path.clone(), info);
                }
            }
        }
        found
    }

    /// What the cache stores: the sum of its NAR files' sizes (`FileSize`).
    pub fn bytes(&self) -> u64 {
        self.narinfos().values().map(|i| i.file_size).sum()
    }

    /// Where the access log ends now: pass to [`Self::fetched_since`].
    pub fn log_mark(&self) -> usize {
        self.log().len()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The paths served successfully since `mark` ("GET /PATH HTTP/1.1" 200), in order.
    pub fn served_since(&self, mark: usize) -> Vec<String> {
        let log = self.log();
        log.get(mark..)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let request = l.split("\"GET /").nth(1)?;
                let (path, rest) = request.split_once(' ')?;
                rest.contains("\" 200").then(|| path.to_string())
            })
            .collect()
    }

    /// The store paths whose NAR was downloaded since `mark`, with the bytes served (the
    /// narinfo's FileSize of the URL the log names).
    pub fn fetched_since(&self, mark: usize) -> Vec<(String, u64)> {
        let by_url: BTreeMap<String, NarInfo> = self
            .narinfos()
            .into_values()
            .map(|i| (i.url.clone(), i))
            .collect();
        self.served_since(mark)
            .iter()
            .filter_map(|p| by_url.get(p))
            .map(|i| (i.store_path.clone(), i.file_size))
            .collect()
    }
}

impl Drop for BinaryCache {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn path_args(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// A loopback port free now (the server binds it right after).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// The script every client command runs in: ROOT/nix over /nix in this mount namespace
/// only, the command, then the CPU time (`times`: this shell's and its children's, user and
/// system) into ROOT/times.
const CLIENT_SCRIPT: &str = r#"set -u
root=$1; shift
mount --bind "$root/nix" /nix || exit 111
"$@"
status=$?
times > "$root/times"
exit $status
"#;

/// What one client command did.
pub struct ClientRun {
    pub ok: bool,
    pub stdout: String,
    /// Standard output as bytes (a NAR from `nix-store --dump`).
    pub bytes: Vec<u8>,
    pub stderr: String,
    /// User + system CPU seconds of the command and everything it ran (Nix, its builders).
    pub cpu_s: f64,
}

/// A Nix store of its own that substitutes from one binary cache only, signatures required.
pub struct Client {
    root: tempfile::TempDir,
    config: String,
}

impl Client {
    /// Nix's defaults otherwise (`keep-derivations = true`; with `false`, Nix 2.8 lost the
    /// realisation of a relink it had made, rebuilt it on the update and failed with
    /// `error: map::at`).
    pub fn new(cache: &BinaryCache) -> Result<Client, String> {
        let root = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir_all(root.path().join("nix")).map_err(|e| e.to_string())?;
        let mut script =
            std::fs::File::create(root.path().join("client.sh")).map_err(|e| e.to_string())?;
        script
            .write_all(CLIENT_SCRIPT.as_bytes())
            .map_err(|e| e.to_string())?;
        let config = format!(
            "build-users-group =\nsandbox = false\nexperimental-features = nix-command ca-derivations\n\
             substituters = {}\ntrusted-public-keys = {}\nrequire-sigs = true",
            cache.url(),
            cache.public_key()
        );
        Ok(Client { root, config })
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Runs `program ARGS` in `dir` against this store.
    pub fn run(&self, dir: &Path, program: &str, args: &[String]) -> ClientRun {
        let mut all: Vec<std::ffi::OsString> = vec![
            "-m".into(),
            "bash".into(),
            self.root.path().join("client.sh").into(),
            self.root.path().into(),
            program.into(),
        ];
        all.extend(args.iter().map(Into::into));
        let out = duct::cmd("unshare", all)
            .dir(dir)
            .env("NIX_CONFIG", &self.config)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .expect("unshare starts");
        ClientRun {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            bytes: out.stdout.clone(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            cpu_s: cpu_seconds(
                &std::fs::read_to_string(self.root.path().join("times")).unwrap_or_default(),
            ),
        }
    }

    /// Runs `program ARGS` and panics with its log if it fails. Nix 2.8 now and then dies
    /// of an internal error in a client store (`basic_string::_M_create`, seen once in seven
    /// suite runs, with "closing file descriptor: Bad file descriptor"); that run is retried
    /// once, and the retry must succeed as the first would have.
    pub fn must(&self, dir: &Path, program: &str, args: &[String]) -> ClientRun {
        let mut run = self.run(dir, program, args);
        if !run.ok && run.stderr.contains("basic_string::_M_create") {
            eprintln!(
                "client {program}: Nix's internal error, retried once:\n{}",
                run.stderr
            );
            run = self.run(dir, program, args);
        }
        assert!(run.ok, "client {program} {args:?} failed:\n{}", run.stderr);
        run
    }

    /// `nix-collect-garbage`: everything not reachable from a GC root (the out-links of
    /// what was installed) goes.
    pub fn collect_garbage(&self) {
        self.must(Path::new("/"), "nix-collect-garbage", &[]);
    }

    /// The store's size in bytes after `nix-store --optimise` (identical files hard-linked,
    /// counted once by `du`).
    pub fn store_bytes(&self) -> u64 {
        self.must(Path::new("/"), "nix-store", &["--optimise".to_string()]);
        let du = duct::cmd!("du", "-sb", self.root.path().join("nix/store"))
            .read()
            .expect("du");
        du.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("du prints a size")
    }

    /// Whether this store holds `path` (as the client sees it).
    pub fn has(&self, path: &str) -> bool {
        self.root
            .path()
            .join(path.trim_start_matches('/'))
            .symlink_metadata()
            .is_ok()
    }

    /// The NAR serialisation of `path` in this store (`nix-store --dump`).
    pub fn dump(&self, path: &str) -> Vec<u8> {
        let run = self.must(Path::new("/"), "nix-store", &["--dump".into(), path.into()]);
        run.bytes
    }
}

/// The NAR serialisation of `path` in the builder's store.
pub fn builder_dump(path: &str) -> Vec<u8> {
    duct::cmd!("nix-store", "--dump", path)
        .stdout_capture()
        .run()
        .expect("nix-store --dump")
        .stdout
}

/// The four figures `times` prints ("0m0.400s 0m0.369s" per line), summed, in seconds.
pub fn cpu_seconds(times: &str) -> f64 {
    times
        .split_whitespace()
        .filter_map(|f| {
            let (min, sec) = f.split_once('m')?;
            Some(min.parse::<f64>().ok()? * 60.0 + sec.trim_end_matches('s').parse::<f64>().ok()?)
        })
        .sum()
}

/// Where a package set's final outputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No abicut: one derivation per package, all in the cache.
    Classic,
    /// The split, relinks made by the builder and served by the cache (relinkLocally false).
    SplitInCache,
    /// The split, relinks made by the client (relinkLocally true): the cache has compiles
    /// and interfaces only.
    SplitLocal,
}

pub const MODES: [Mode; 3] = [Mode::Classic, Mode::SplitInCache, Mode::SplitLocal];

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Classic => "classic",
            Mode::SplitInCache => "split, relinks in the cache",
            Mode::SplitLocal => "split, relinks made locally",
        }
    }

    /// `--arg relinkLocally` for the split.
    pub fn args(self) -> Vec<String> {
        let local = self == Mode::SplitLocal;
        [
            "--arg",
            "relinkLocally",
            if local { "true" } else { "false" },
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// The roles the builder uploads: what it built that a client may substitute.
    fn pushed_roles(self) -> &'static [&'static str] {
        match self {
            Mode::Classic => &[""],
            Mode::SplitInCache => &["compile", "interface", "indirection", "out", "tool"],
            Mode::SplitLocal => &["compile", "interface"],
        }
    }
}

/// A package set as the measures see it: where its expression is evaluated and with which
/// arguments, for a mode, before or after the update.
pub trait PackageSet {
    /// The directory nix-build runs in.
    fn dir(&self) -> &Path;
    /// The set's file and every `--arg` for `mode` (Classic included: the split's arguments
    /// are harmless to `classic.*`), after the update or before.
    fn args(&self, mode: Mode, updated: bool) -> Vec<String>;
    /// Every package's pname.
    fn packages(&self) -> Vec<String>;
    /// The attributes a user installs in `mode` (the programs and the libraries).
    fn installed(&self, mode: Mode) -> Vec<String>;
    /// The pname of the package the update changes.
    fn updated_package(&self) -> &'static str;
}

/// The attribute of `package`'s derivation of `role` ("" for classic, whose attribute is
/// `classic.P`), each of its outputs.
fn attrs_of(
    set: &dyn PackageSet,
    mode: Mode,
    updated: bool,
    package: &str,
    role: &str,
) -> Vec<String> {
    let attr = if mode == Mode::Classic {
        format!("classic.{package}")
    } else {
        format!("{package}.{role}")
    };
    let mut args = vec!["eval".to_string(), "--json".to_string(), "-f".to_string()];
    args.extend(set.args(mode, updated));
    args.push(format!("{attr}.outputs"));
    let out = super::real::nix_command("nix", &args, set.dir())
        .run()
        .expect("nix eval");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim_matches(|c| c == '[' || c == ']' || c == '\n')
        .split(',')
        .map(|o| format!("{attr}.{}", o.trim_matches('"')))
        .collect()
}

/// What moving a client's installed set to the update cost, per mode.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Bytes the cache gained (FileSize of the narinfos the update's upload added).
    pub cache_gain: u64,
    /// Bytes the client downloaded (FileSize of each NAR the access log shows served).
    pub downloaded: u64,
    /// The store paths it downloaded.
    pub fetched: Vec<String>,
    /// Bytes of those that are not the updated package's own (its outputs, interface and
    /// indirection): what the dependents cost, which a local relink should bring to 0.
    pub dependents: u64,
    /// The client's CPU seconds (evaluation, substitution, local relinks).
    pub cpu_s: f64,
    /// Its store growth in bytes: both sides after `nix-collect-garbage` (the set as
    /// installed before and as updated both rooted) and `nix-store --optimise`.
    pub growth: i64,
    /// The installed output paths after the update, as the client's nix-build printed them.
    pub outputs: Vec<String>,
}

/// One mode's builder cache and client, through the initial install and the update.
pub struct Deployment {
    pub mode: Mode,
    pub cache: BinaryCache,
    pub client: Client,
}

impl Deployment {
    pub fn new(mode: Mode) -> Result<Deployment, String> {
        let cache = BinaryCache::start(&format!("abicut-test-{}", mode.args()[2]))?;
        let client = Client::new(&cache)?;
        Ok(Deployment {
            mode,
            cache,
            client,
        })
    }

    fn installed(&self, set: &dyn PackageSet) -> Vec<String> {
        set.installed(self.mode)
    }

    /// The builder builds the installed set (`updated` or not) and uploads what a client may
    /// substitute; returns the bytes the cache gained.
    pub fn publish(&self, set: &dyn PackageSet, updated: bool) -> u64 {
        let mut args = set.args(self.mode, updated);
        for a in self.installed(set) {
            args.extend(["-A".to_string(), a]);
        }
        args.extend(["--no-out-link", "-j2"].map(String::from));
        let build = super::real::nix_command("nix-build", &args, set.dir())
            .run()
            .expect("nix-build");
        assert!(
            build.status.success(),
            "builder: {}",
            String::from_utf8_lossy(&build.stderr)
        );
        let before = self.cache.bytes();
        let mut copy = set.args(self.mode, updated);
        for p in set.packages() {
            for role in self.mode.pushed_roles() {
                copy.extend(attrs_of(set, self.mode, updated, &p, role));
            }
        }
        self.cache.push(set.dir(), &copy).expect("nix copy");
        self.cache.bytes() - before
    }

    /// The client installs the set (or, `updated`, the update beside it): nix-build with
    /// out-links under its root (`installed*`, `updated*`), which are its GC roots, as two
    /// profile generations would be. Returns the output paths and the client's CPU seconds.
    pub fn install(&self, set: &dyn PackageSet, updated: bool) -> (Vec<String>, f64) {
        let mut args = set.args(self.mode, updated);
        for a in self.installed(set) {
            args.extend(["-A".to_string(), a]);
        }
        args.extend(["-j2".to_string(), "-o".to_string()]);
        let link = if updated { "updated" } else { "installed" };
        args.push(self.client.root().join(link).to_string_lossy().into_owned());
        let run = self.client.must(set.dir(), "nix-build", &args);
        (run.stdout.lines().map(str::to_string).collect(), run.cpu_s)
    }

    /// The update, measured: the builder publishes it, the client (which installed the set
    /// before and collected garbage) moves to it.
    pub fn update(&self, set: &dyn PackageSet) -> Cost {
        let before = self.client.store_bytes();
        let cache_gain = self.publish(set, true);
        let mark = self.cache.log_mark();
        let (outputs, cpu_s) = self.install(set, true);
        let fetched = self.cache.fetched_since(mark);
        let own = format!("-{}-", set.updated_package());
        let dependents = fetched
            .iter()
            .filter(|(p, _)| !p.contains(&own))
            .map(|(_, n)| n)
            .sum();
        // What evaluation imported (the sources, abicut) and nothing installed keeps goes,
        // as it went before the update was measured.
        self.client.collect_garbage();
        Cost {
            cache_gain,
            downloaded: fetched.iter().map(|(_, n)| n).sum(),
            fetched: fetched.into_iter().map(|(p, _)| p).collect(),
            dependents,
            cpu_s,
            growth: self.client.store_bytes() as i64 - before as i64,
            outputs,
        }
    }
}

/// The table docs/binary-caches.md quotes: one row per mode.
pub fn table(costs: &[(Mode, Cost)]) -> String {
    let classic = costs
        .iter()
        .find(|(m, _)| *m == Mode::Classic)
        .map(|(_, c)| c.downloaded.max(1))
        .unwrap_or(1);
    let mut t = String::from(
        "| | cache gains | client downloads | of classic | of it, dependents | client CPU | client store growth |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (mode, c) in costs {
        t.push_str(&format!(
            "| {} | {} B | {} B | {:.1}% | {} B | {:.2} s | {} B |\n",
            mode.name(),
            c.cache_gain,
            c.downloaded,
            100.0 * c.downloaded as f64 / classic as f64,
            c.dependents,
            c.cpu_s,
            c.growth
        ));
    }
    t
}
