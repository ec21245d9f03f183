//! The README walk: every command block of README.md and of the documents in docs/ runs,
//! in the order of [`DOCS`] (README first), in a fresh copy of the repository, and does what
//! its document says of it. The commands are read from the documents when the test runs,
//! never copied here: an edited command is the command run. "README" below means whichever
//! of these documents holds the block; a failure names the file and line
//! (`docs/relink.md line 8: …`).
//!
//! **What runs.** Every ```` ```sh ```` block is a command block. Each runs in its own
//! `bash -euo pipefail` at the top of the copy, in [`DOCS`] order (within a document, its
//! own order), so the files one block makes are there for the next (shell variables are
//! not): README's `cargo install` puts `abicut` on PATH for every later document. Then
//! every `$ COMMAND` line of a ```` ```text ```` or plain ```` ``` ```` block runs, in the
//! same order: such a block shows a command and what it printed (the lines up to the next
//! `$`); these run second because they read what the command blocks made (`abicut explain
//! debian-graph.json …` in docs/planning.md needs the Debian graph, built further down
//! that file). A synopsis (`abicut relink-plan GRAPH --changed NAME [--abi …]`) is
//! ```` ```text ````, never `sh`. A document in docs/ missing from [`DOCS`] fails the
//! walk: its commands would never run.
//!
//! **The copy.** The working tree's files as `git add -A` would commit them (tracked, and
//! untracked but not ignored: uncommitted edits count), copied with their modification
//! times into a temporary directory, with a copy of this repository's `target/release` and
//! of the profile directory this test runs from (`target/ci` in the suite, which
//! `bash tests/run.sh` builds) under its `target/`. A real `git clone` would rebuild the
//! crate, every test and example for minutes; with the same sources, the same times and the
//! same artifacts, cargo finds every target current (the walk first runs
//! `cargo build --release --bins --examples` here, for README's `--release` commands; the
//! suite's own profile is current because the suite built every target before running this,
//! when this test runs alone). That substitution is printed, as are the others:
//!
//! - `cargo install --path .` runs as written, with `CARGO_INSTALL_ROOT` set to a directory
//!   of the walk (not `~/.cargo`), whose `bin` is first on every block's PATH;
//! - `bash tests/run.sh` runs with `--list` (its arguments go to the test harness): every
//!   test binary is built and lists its tests, none runs. The full run is the suite this
//!   test is part of; run inside it, it would run itself again;
//! - the oracles over many libraries (`--example link_identity`, `--example bindings`:
//!   every library of /usr/lib/x86_64-linux-gnu takes 49 and 83 minutes, README's eight
//!   15 to 45 seconds each) run on [`SAMPLE`], figures wildcarded (a whole `N/N` stays
//!   whole); the libraries README names must exist;
//! - a block that only sketches its inputs (`SRC`, `more-maps.txt`, `<iface-hash>`, a
//!   package unpacked in `root/`, `$out`) is given them by a [`Fixture`], which also
//!   checks what the block promises of its outputs.
//!
//! Every other command runs as written, long ones included (`bash nix/demo.sh`, the
//! benches over the machine's libraries, the Debian graph: each well under a minute).
//! Blocks run under `CI=true`: a missing tool fails.
//!
//! **What is checked.** Every block exits 0. Its output (stdout and stderr) must show:
//!
//! - each line of the ```` ```text ```` or plain block that follows a command block before
//!   the next heading or command block, and each line of a `$` example: a line of the output
//!   must start with it, whitespace runs collapsed, Nix store hashes and times (`1.84 s`,
//!   `671 ms`) being whatever they are. A line with a time after a label (a bench's row) is
//!   checked up to the time: README may lay out several runs where one run prints one
//!   figure, and a header of such runs (`run 1 run 2 …`) is README's, not output. Where the
//!   command reads this machine's libraries or the live Debian archive (it names
//!   `/usr/lib`, `debian` or an `--example`), every figure is wildcarded too, except that a
//!   fraction README shows whole (`24/24`) must be whole;
//! - the Markdown table rows right after a command block (the report's rows), the same way;
//! - a comment line right after a command (`# debian-graph.json: 34294 source packages, …`);
//! - a trailing comment on a command that runs a program (`./result/bin/midtool  #
//!   midtool: hello …`): that line;
//! - `abicut --version`: this crate's version; `--hash`: a BLAKE3 hash (64 hex digits)
//!   starts a line; every `-o`/`--out-dir` path exists afterwards.
//!
//! Each block prints one line: its file and line, its first command, what ran and what was
//! checked.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Libraries a whole-directory oracle runs on in the walk: two of the eight README's tests
/// name, small enough to link every combination in seconds.
const SAMPLE: &str = "/usr/lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libexpat.so.1";

/// Tools README's blocks run (besides bash, cargo, git and coreutils).
const TOOLS: &[&str] = &[
    "nix-build",
    "gcc",
    "pkg-config",
    "clang",
    "ld.gold",
    "ld.lld",
    "mold",
    "patchelf",
    "abidiff",
    "llvm-ifs-14",
    "apt-get",
    "dpkg",
];

/// The documents the walk reads, in its order: README.md, then docs/ in the order the
/// sections had when they were one README, because later blocks use what earlier ones made
/// (README installs `abicut`; docs/planning.md's command block writes the Debian graph its
/// `$ abicut explain` lines read). docs/testing.md lists the same order for readers.
const DOCS: &[&str] = &[
    "README.md",
    "docs/nix.md",
    "docs/build-tools.md",
    "docs/real-set.md",
    "docs/binary-caches.md",
    "docs/stubgen.md",
    "docs/relink.md",
    "docs/verify.md",
    "docs/relocate.md",
    "docs/planning.md",
    "docs/interface-diff.md",
    "docs/testing.md",
];

/// Inputs and checks for a block that only sketches its inputs.
struct Fixture {
    /// The block this prepares: one that contains this text.
    when: &'static str,
    /// What the walk provides, printed with the block's outcome.
    note: &'static str,
    /// `<placeholder>` in the block, and the text the walk puts there.
    placeholders: &'static [(&'static str, &'static str)],
    /// Bash run before the block, in its shell.
    before: &'static str,
    /// Bash run after the block, in its shell: what README says of the block's outputs.
    after: &'static str,
}

/// Nix-base32 hashes (32 characters of Nix's alphabet) for the relink example.
const IFACE_HASH: &str = "0123456789abcdfghijklmnpqrsvwxyz";
const REAL_HASH: &str = "zyxwvsrqpnmlkjihgfdcba9876543210";

const FIXTURES: &[Fixture] = &[
    Fixture {
        when: "--map-file more-maps.txt",
        note: "<iface-hash>, <real-hash>: two nix-base32 hashes; SRC: a .pc naming the \
               interface path; more-maps.txt: a comment; checked: DEST names the real path \
               and not the interface",
        placeholders: &[("<iface-hash>", IFACE_HASH), ("<real-hash>", REAL_HASH)],
        before: "mkdir -p SRC/lib/pkgconfig\n\
                 echo 'prefix=/nix/store/<iface-hash>-zlib-1.3' > SRC/lib/pkgconfig/zlib.pc\n\
                 echo '# no more mappings' > more-maps.txt\n",
        after: "grep -qx 'prefix=/nix/store/<real-hash>-zlib-1.3' DEST/lib/pkgconfig/zlib.pc\n\
                if grep -rq <iface-hash> DEST; then echo 'DEST names the interface' >&2; exit 1; fi\n",
    },
    Fixture {
        when: "--self / root/",
        note: "root/: Debian's zlib1g and zlib1g-dev (apt-get download, dpkg -x); $out, $dev: \
               their library and headers as two outputs named like a Nix package's \
               (zlib-1.2.13, zlib-1.2.13-dev); $iface: a new directory",
        placeholders: &[],
        before: "mkdir -p debs root store\n\
                 (cd debs && apt-get download -q zlib1g zlib1g-dev)\n\
                 for deb in debs/*.deb; do dpkg -x \"$deb\" root; done\n\
                 out=$PWD/store/zlib-1.2.13 dev=$PWD/store/zlib-1.2.13-dev iface=$PWD/store/iface\n\
                 mkdir -p \"$out/lib\" \"$dev\"\n\
                 find root -name 'libz.so.1*' -exec cp -a {} \"$out/lib/\" ';'\n\
                 cp -a root/usr/include \"$dev/\"\n",
        after: "test -n \"$(ls -A \"$iface\")\"\n",
    },
];

/// One fenced block of a document.
struct Block {
    /// The document, as named in [`DOCS`].
    file: &'static str,
    /// The document's line of the block's first line of content.
    line: usize,
    lang: String,
    lines: Vec<String>,
    /// The document's lines after the closing fence, up to the next fence or heading.
    after: Vec<String>,
}

/// One command of a block, continuation lines joined.
struct Command {
    /// Its line in its document.
    line: usize,
    text: String,
    /// A whole-line comment right after it, without `# `.
    comment_after: Option<String>,
}

/// A document's fenced blocks, in order (an indented block's indentation removed).
fn blocks(file: &'static str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - lines[i].trim_start().len();
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].trim() != "```" {
            end += 1;
        }
        let mut next = end + 1;
        while next < lines.len()
            && !lines[next].trim_start().starts_with("```")
            && !lines[next].starts_with('#')
        {
            next += 1;
        }
        out.push(Block {
            file,
            line: start + 1,
            lang: lang.trim().to_string(),
            lines: lines[start..end]
                .iter()
                .map(|l| l.get(indent..).unwrap_or(l.trim_start()).to_string())
                .collect(),
            after: lines[(end + 1).min(lines.len())..next.min(lines.len())]
                .iter()
                .map(|l| l.to_string())
                .collect(),
        });
        i = end + 1;
    }
    out
}

/// The commands of a command block: heredoc bodies and comments are not commands.
fn commands(block: &Block) -> Vec<Command> {
    let mut out: Vec<Command> = Vec::new();
    let mut heredoc: Option<String> = None;
    let mut continued = false;
    for (k, raw) in block.lines.iter().enumerate() {
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let line = raw.trim();
        if let Some(tag) = line.split("<<").nth(1) {
            heredoc = Some(tag.trim().trim_matches(['\'', '"']).to_string());
        }
        if continued {
            if let Some(last) = out.last_mut() {
                last.text.push('\n');
                last.text.push_str(raw);
            }
        } else if let Some(comment) = line.strip_prefix('#') {
            if let Some(last) = out.last_mut()
                && last.comment_after.is_none()
                && last.line + last.text.lines().count() == block.line + k
            {
                last.comment_after = Some(comment.trim().to_string());
            }
        } else if !line.is_empty() {
            out.push(Command {
                line: block.line + k,
                text: raw.clone(),
                comment_after: None,
            });
        }
        continued = line.ends_with('\\');
    }
    out
}

/// The text of a command without a trailing `  # comment`.
fn code(text: &str) -> &str {
    text.split_once("  #").map_or(text, |(c, _)| c).trim_end()
}

/// What the walk runs for one README command, and why it differs from README, if it does.
fn adapt(command: &str) -> (String, Option<String>) {
    let code = code(command);
    if code.trim() == "bash tests/run.sh" {
        return (
            format!("{code} --list"),
            Some("ran as `bash tests/run.sh --list`: every test built and listed, none run (this walk is part of that suite)".into()),
        );
    }
    let oracle = ["--example link_identity", "--example bindings"]
        .iter()
        .any(|e| code.contains(e));
    if oracle && !code.contains("--target") {
        let (named, kept): (Vec<&str>, Vec<&str>) = code
            .split_whitespace()
            .partition(|w| w.starts_with("/usr/lib/"));
        let sep = if kept.contains(&"--") { "" } else { " --" };
        let sample = SAMPLE.replace("/usr/lib/x86_64-linux-gnu/", "");
        let scaled = format!("{}{sep} {SAMPLE}", kept.join(" "));
        if named.is_empty() {
            return (
                scaled,
                Some(format!(
                    "ran on a smaller input: {sample} instead of every library of \
                     /usr/lib/x86_64-linux-gnu"
                )),
            );
        }
        // The libraries README names must exist, or the command as written checks nothing.
        return (
            format!("ls -d {} >/dev/null && {scaled}", named.join(" ")),
            Some(format!(
                "ran on a smaller input: {sample} instead of the libraries README names \
                 (checked to exist)"
            )),
        );
    }
    (command.to_string(), None)
}

/// Collapses whitespace, hides Nix store hashes and times, and with `figures` every number
/// (a fraction whose parts are equal stays recognisable as whole).
fn normalize(line: &str, figures: bool) -> String {
    let raw: Vec<String> = line.split_whitespace().map(hide_store_hashes).collect();
    let mut words = Vec::with_capacity(raw.len());
    for (k, w) in raw.iter().enumerate() {
        let time = raw
            .get(k + 1)
            .is_some_and(|u| matches!(u.as_str(), "s" | "s," | "ms"))
            && w.starts_with(|c: char| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_digit() || c == '.');
        words.push(if time {
            "<time>".to_string()
        } else if figures {
            hide_figures(w)
        } else {
            w.clone()
        });
    }
    words.join(" ")
}

fn hide_store_hashes(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find("/nix/store/") {
        let (head, tail) = rest.split_at(i + "/nix/store/".len());
        out.push_str(head);
        if tail.len() >= 32 && tail.is_char_boundary(32) {
            out.push_str("<hash>");
            rest = &tail[32..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn hide_figures(word: &str) -> String {
    if let Some((a, b)) = word.split_once('/')
        && !a.is_empty()
        && a.chars().all(|c| c.is_ascii_digit())
        && b.trim_end_matches([',', ';', ')'])
            .chars()
            .all(|c| c.is_ascii_digit())
        && !b.is_empty()
    {
        let whole = a == b.trim_end_matches([',', ';', ')']);
        return format!("N/{}", if whole { "N(whole)" } else { "M" });
    }
    let mut out = String::new();
    let mut in_number = false;
    for c in word.chars() {
        let digit = c.is_ascii_digit() || (in_number && c == '.');
        if digit && !in_number {
            out.push('N');
        } else if !digit {
            out.push(c);
        }
        in_number = digit;
    }
    out
}

/// What README's output line promises: the text a line of the run's output starts with.
/// None for a header of several runs, README's layout.
fn claim(line: &str, figures: bool) -> Option<String> {
    let n = normalize(line, figures);
    if n.is_empty() || n.starts_with("run 1 run 2") || n.starts_with("run N run N") {
        return None;
    }
    match n.find(" <time>") {
        Some(i) if i > 0 => Some(n[..i].to_string()),
        _ => Some(n),
    }
}

/// README's claims that the output does not show.
fn missing(claims: &[String], output: &str, figures: bool) -> Vec<String> {
    // A whole fraction in the output also stands for any fraction README shows.
    let lines: Vec<String> = output
        .lines()
        .map(|l| normalize(l, figures))
        .flat_map(|l| [l.replace("N/N(whole)", "N/M"), l])
        .collect();
    claims
        .iter()
        .filter(|c| !lines.iter().any(|l| l.starts_with(c.as_str())))
        .cloned()
        .collect()
}

/// Whether a command's figures depend on this machine's libraries or the live archive.
fn machine_figures(text: &str) -> bool {
    ["/usr/lib", "debian", "--example"]
        .iter()
        .any(|m| text.contains(m))
}

/// The output of one run.
struct Ran {
    ok: bool,
    output: String,
    stdout: String,
}

struct Walk {
    /// Holds the copy of the repository (`repo`) and the install root (`cargo-root`).
    _dir: tempfile::TempDir,
    repo: PathBuf,
    /// CARGO_INSTALL_ROOT.
    install: PathBuf,
    path: String,
}

impl Walk {
    fn new(repo: &Path) -> Walk {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = duct::cmd(
            &cargo,
            ["build", "--release", "--bins", "--examples", "--quiet"],
        )
        .dir(repo)
        .stdout_null()
        .unchecked()
        .run()
        .expect("cargo runs");
        assert!(built.status.success(), "cargo build --release failed");
        let dir = tempfile::tempdir().expect("temporary directory");
        let copy = dir.path().join("repo");
        std::fs::create_dir(&copy).expect("mkdir");
        copy_tree(repo, &copy);
        std::fs::create_dir(copy.join("target")).expect("mkdir target");
        for profile in profile_dirs() {
            let name = profile.file_name().expect("a profile directory has a name");
            duct::cmd!("cp", "-a", &profile, copy.join("target").join(name))
                .run()
                .expect("cp target/PROFILE");
        }
        let install = dir.path().join("cargo-root");
        let path = format!(
            "{}:{}",
            install.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Walk {
            _dir: dir,
            repo: copy,
            install,
            path,
        }
    }

    fn run(&self, script: &str) -> Ran {
        let mut cmd = duct::cmd("bash", ["-euo", "pipefail", "-c", script])
            .dir(&self.repo)
            .env("PATH", &self.path)
            .env("CI", "true")
            .env_remove("NIX_CONFIG");
        for (k, _) in std::env::vars() {
            if k.starts_with("CARGO_") && k != "CARGO_HOME" {
                cmd = cmd.env_remove(k);
            }
        }
        let out = cmd
            .env("CARGO_INSTALL_ROOT", &self.install)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ran {
            ok: out.status.success(),
            output: format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
            stdout,
        }
    }
}

/// One block's outcome: its report line, and what went wrong.
struct Outcome {
    report: String,
    failures: Vec<String>,
}

/// Runs one command block and checks what its document says of it.
fn walk_block(walk: &Walk, block: &Block, output: Option<&Block>) -> Outcome {
    let cmds = commands(block);
    let first = cmds.first().map_or(String::new(), |c| {
        let line = c.text.lines().next().unwrap_or_default();
        match line.strip_suffix('\\') {
            Some(head) => format!("{} …", head.trim_end()),
            None => code(line).to_string(),
        }
    });
    let text = block.lines.join("\n");
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let mut script = String::new();
    let fixture = FIXTURES.iter().find(|f| text.contains(f.when));
    let fill = |text: &str| {
        fixture
            .map_or(&[][..], |f| f.placeholders)
            .iter()
            .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    };
    if let Some(f) = fixture {
        script.push_str(&fill(f.before));
        notes.push(format!("given {}", f.note));
    }
    let mut body = text.clone();
    for c in &cmds {
        let (run, note) = adapt(&c.text);
        if let Some(note) = note {
            body = body.replacen(&c.text, &run, 1);
            notes.push(format!("line {}: {note}", c.line));
        }
        if c.text.contains("cargo install") {
            notes.push(format!(
                "line {}: CARGO_INSTALL_ROOT is the walk's, its bin first on PATH",
                c.line
            ));
        }
    }
    body = fill(&body);
    for p in body.split('<').skip(1).filter_map(|r| r.split_once('>')) {
        if !p.0.is_empty() && p.0.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            failures.push(format!("placeholder <{}> has no value in the walk", p.0));
        }
    }
    script.push_str(&body);
    script.push('\n');
    if let Some(f) = fixture {
        script.push_str(&fill(f.after));
    }
    let ran = walk.run(&script);
    if !ran.ok {
        failures.push(format!("exits non-zero:\n{}", tail(&ran.output)));
    }
    let figures = machine_figures(&text);
    let mut claims: Vec<String> = Vec::new();
    let mut checked = Vec::new();
    if let Some(out) = output {
        let c: Vec<String> = out.lines.iter().filter_map(|l| claim(l, figures)).collect();
        checked.push(format!("{} lines of line {}", c.len(), out.line));
        claims.extend(c);
    }
    let rows: Vec<String> = block
        .after
        .iter()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| claim(l, figures))
        .collect();
    if !rows.is_empty() {
        checked.push(format!("{} table rows after it", rows.len()));
        claims.extend(rows);
    }
    for c in &cmds {
        if let Some(comment) = &c.comment_after {
            checked.push(format!("line {}'s comment", c.line + 1));
            claims.extend(claim(comment, figures));
        }
        if code(&c.text).starts_with("./")
            && let Some((_, said)) = c.text.split_once("  # ")
        {
            checked.push(format!("line {}'s comment (its output)", c.line));
            claims.extend(claim(said, figures));
        }
        command_claims(walk, c, &ran, &mut checked, &mut failures);
    }
    for m in missing(&claims, &ran.output, figures) {
        failures.push(format!("the document says the output has {m:?}"));
    }
    if fixture.is_some_and(|f| !f.after.is_empty()) {
        checked.push("the fixture's outputs".into());
    }
    let mut report = format!("{} line {} `{first}`", block.file, block.line);
    if cmds.len() > 1 {
        let _ = write!(report, " (+{} more)", cmds.len() - 1);
    }
    let _ = write!(
        report,
        ": {}",
        if failures.is_empty() { "ran" } else { "FAILED" }
    );
    for n in notes {
        let _ = write!(report, "; {n}");
    }
    if !checked.is_empty() {
        let _ = write!(report, "; checked {}", checked.join(", "));
    }
    Outcome {
        report,
        failures: failures
            .into_iter()
            .map(|f| format!("{} line {}: {f}", block.file, block.line))
            .collect(),
    }
}

/// What a command promises by its own flags.
fn command_claims(
    walk: &Walk,
    c: &Command,
    ran: &Ran,
    checked: &mut Vec<String>,
    failures: &mut Vec<String>,
) {
    let code = code(&c.text);
    if code.trim() == "abicut --version" {
        checked.push("the version".into());
        let want = format!("abicut {}", env!("CARGO_PKG_VERSION"));
        if !ran.stdout.lines().any(|l| l.trim() == want) {
            failures.push(format!("`abicut --version` does not print {want:?}"));
        }
    }
    if code.contains(" --hash") {
        checked.push("a hash".into());
        let hash = |l: &str| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        };
        if !ran.stdout.lines().any(hash) {
            failures.push(format!("line {}: no hash printed", c.line));
        }
    }
    let words: Vec<&str> = code.split_whitespace().collect();
    for pair in words.windows(2) {
        if matches!(pair[0], "-o" | "--out-dir" | "--output") && !pair[1].contains('$') {
            checked.push(format!("{} exists", pair[1]));
            if !walk.repo.join(pair[1]).exists() {
                failures.push(format!("line {}: {} was not written", c.line, pair[1]));
            }
        }
    }
}

/// Runs one `$ COMMAND` of an example block (`file`'s line `line`) and checks the lines its
/// document shows after it.
fn walk_example(walk: &Walk, file: &str, line: usize, command: &str, shown: &[String]) -> Outcome {
    let (run, note) = adapt(command);
    let figures = machine_figures(command) || note.is_some();
    let ran = walk.run(&run);
    let claims: Vec<String> = shown.iter().filter_map(|l| claim(l, figures)).collect();
    let mut failures = Vec::new();
    if !ran.ok {
        failures.push(format!("exits non-zero:\n{}", tail(&ran.output)));
    }
    for m in missing(&claims, &ran.output, figures) {
        failures.push(format!("the document says the output has {m:?}"));
    }
    let mut report = format!(
        "{file} line {line} `{}`: {}",
        code(command),
        if failures.is_empty() { "ran" } else { "FAILED" }
    );
    if let Some(note) = note {
        let _ = write!(report, "; {note}");
    }
    let _ = write!(report, "; checked {} lines shown after it", claims.len());
    Outcome {
        report,
        failures: failures
            .into_iter()
            .map(|f| format!("{file} line {line}: {f}"))
            .collect(),
    }
}

/// Copies the working tree's files as `git add -A` would commit them, with their modes and
/// modification times; outside a git checkout (an unpacked archive), every file but target/.
fn copy_tree(repo: &Path, copy: &Path) {
    let dest = copy.to_string_lossy().into_owned();
    let listed = duct::cmd!(
        "git",
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard"
    )
    .dir(repo)
    .stderr_null()
    .read();
    let files: Vec<String> = match &listed {
        Ok(files) => files
            .split('\0')
            .filter(|f| !f.is_empty() && repo.join(f).symlink_metadata().is_ok())
            .map(str::to_string)
            .collect(),
        Err(_) => std::fs::read_dir(repo)
            .expect("read the repository")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n != "target" && n != ".git")
            .collect(),
    };
    let mut args = vec!["-a", "--parents", "-t", dest.as_str()];
    args.extend(files.iter().map(String::as_str));
    duct::cmd("cp", &args).dir(repo).run().expect("cp the tree");
}

/// `target/release`, which [`Walk::new`] has just brought up to date, and the profile
/// directory this test binary runs from (`TARGET/PROFILE/deps/readme-…`), when another.
fn profile_dirs() -> Vec<PathBuf> {
    let own = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.to_path_buf()))
        .expect("the test binary sits in TARGET/PROFILE/deps");
    let release = own.with_file_name("release");
    if own == release {
        vec![release]
    } else {
        vec![release, own]
    }
}

fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Whether this machine can run every block: root (apt, Nix as README runs it) and the
/// tools. Under `CI=true` a missing one fails.
fn can_walk() -> bool {
    let root = duct::cmd!("id", "-u").read().is_ok_and(|u| u.trim() == "0");
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the README walk needs root under CI=true"
        );
        eprintln!("SKIPPED: the README walk needs root (apt-get, Nix as README runs them)");
        return false;
    }
    TOOLS.iter().all(|t| support::have(t))
}

/// The documents of [`DOCS`], read from the repository: README.md and every docs/*.md, in
/// the walk's order.
fn documents(repo: &Path) -> Vec<(&'static str, String)> {
    DOCS.iter()
        .map(|&d| {
            let text = std::fs::read_to_string(repo.join(d))
                .unwrap_or_else(|e| panic!("{d}, listed in DOCS: {e}"));
            (d, text)
        })
        .collect()
}

/// What is wrong with [`DOCS`] against the repository: a docs/*.md it does not list (whose
/// commands would never run), one README's documentation table does not link, or an order
/// docs/testing.md does not state.
fn docs_problems(repo: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = DOCS.iter().copied().collect();
    let entries = std::fs::read_dir(repo.join("docs")).expect("read docs/");
    for entry in entries {
        let name = entry.expect("a docs/ entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".md") && !listed.contains(format!("docs/{name}").as_str()) {
            problems.push(format!(
                "docs/{name} is not in DOCS (tests/readme.rs): the walk would skip its commands"
            ));
        }
    }
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    let testing = std::fs::read_to_string(repo.join("docs/testing.md")).expect("docs/testing.md");
    let mut at = 0;
    for doc in &DOCS[1..] {
        if !readme.contains(&format!("]({doc})")) {
            problems.push(format!("README.md does not link {doc}"));
        }
        let name = doc.trim_start_matches("docs/");
        match testing[at..].find(&format!("]({name})")) {
            Some(i) => at += i,
            None => problems.push(format!(
                "docs/testing.md does not list {doc} in the walk's order"
            )),
        }
    }
    problems
}

#[test]
fn readme_commands_run_as_written() {
    if !can_walk() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let problems = docs_problems(repo);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let documents = documents(repo);
    let start = std::time::Instant::now();
    let walk = Walk::new(repo);
    println!(
        "README walk in {}: the working tree's tracked and untracked files (modification times \
         kept) and a copy of target/release and of this test's profile, so cargo rebuilds \
         nothing; copied in {:.1} s; documents: {}",
        walk.repo.display(),
        start.elapsed().as_secs_f64(),
        DOCS.join(", ")
    );
    let all: Vec<Block> = documents
        .iter()
        .flat_map(|(d, t)| blocks(d, t.as_str()))
        .collect();
    let mut failures = Vec::new();
    let mut walked = 0;
    let mut examples = 0;
    for (k, block) in all.iter().enumerate() {
        if block.lang != "sh" {
            continue;
        }
        let output = all
            .get(k + 1)
            .filter(|next| next.file == block.file)
            .filter(|next| matches!(next.lang.as_str(), "text" | ""))
            .filter(|next| !next.lines.iter().any(|l| l.starts_with("$ ")))
            .filter(|next| next.line == block.line + block.lines.len() + block.after.len() + 2);
        let t = std::time::Instant::now();
        let outcome = walk_block(&walk, block, output);
        println!("{} [{:.0} s]", outcome.report, t.elapsed().as_secs_f64());
        failures.extend(outcome.failures);
        walked += 1;
    }
    for block in all.iter().filter(|b| b.lang == "text" || b.lang.is_empty()) {
        let starts: Vec<usize> = (0..block.lines.len())
            .filter(|&i| block.lines[i].starts_with("$ "))
            .collect();
        for (n, &i) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(block.lines.len());
            let command = &block.lines[i][2..];
            let t = std::time::Instant::now();
            let outcome = walk_example(
                &walk,
                block.file,
                block.line + i,
                command,
                &block.lines[i + 1..end],
            );
            println!("{} [{:.0} s]", outcome.report, t.elapsed().as_secs_f64());
            failures.extend(outcome.failures);
            examples += 1;
        }
    }
    println!(
        "README walk: {walked} command blocks and {examples} examples of {} documents, {:.0} s",
        DOCS.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every docs/*.md is walked, linked from README and listed in docs/testing.md's order
/// (checked without root, so a new document cannot slip past a machine that skips the walk).
#[test]
fn every_document_is_walked_and_linked() {
    let problems = docs_problems(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The walk's reading of README, on text shaped like README's blocks.
#[test]
fn blocks_commands_and_claims_are_read_as_the_walk_needs() {
    let readme = "Intro\n\n```sh\nsh make-graph.sh -o g.json\n# g.json: 34294 nodes\n\
                  cat > x.nix <<'EOF'\nnot a command\nEOF\nabicut a \\\n  --b c\n```\n\n\
                  ```text\n   1.84 s, 12 derivations built\n```\n## Next\n";
    let all = blocks("README.md", readme);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].line, all[0].lang.as_str()), (4, "sh"));
    let cmds = commands(&all[0]);
    let lines: Vec<usize> = cmds.iter().map(|c| c.line).collect();
    assert_eq!(
        lines,
        [4, 6, 9],
        "heredoc bodies and comments are not commands"
    );
    assert_eq!(
        cmds[0].comment_after.as_deref(),
        Some("g.json: 34294 nodes")
    );
    assert_eq!(cmds[2].text, "abicut a \\\n  --b c");
    assert_eq!(
        claim(&all[1].lines[0], false).as_deref(),
        Some("<time> s, 12 derivations built")
    );
    assert_eq!(
        claim("cp -a of the root      0.580 s   0.233 s", false).as_deref(),
        Some("cp -a of the root")
    );
    assert_eq!(claim("run 1     run 2     run 3     median", false), None);
    assert_eq!(
        claim("8 libraries; bfd: 24/24 combinations, 12/24", true).as_deref(),
        Some("N libraries; bfd: N/N(whole) combinations, N/M")
    );
}

/// What README shows whole must be whole; a figure README shows may be anything else.
#[test]
fn figures_are_wildcarded_but_whole_stays_whole() {
    let claims = [claim("lld: 1415/1416 combinations the same", true).unwrap_or_default()];
    assert!(missing(&claims, "lld: 6/6 combinations the same", true).is_empty());
    let claims = [claim("lld: 24/24 combinations the same", true).unwrap_or_default()];
    assert!(missing(&claims, "lld: 6/6 combinations the same", true).is_empty());
    assert_eq!(
        missing(&claims, "lld: 5/6 combinations the same", true).len(),
        1
    );
    let exact = [claim("mid_compute(2) = 42", false).unwrap_or_default()];
    assert_eq!(missing(&exact, "mid_compute(2) = 43", false).len(), 1);
}

/// The oracles run on the sample; libraries README names must still exist.
#[test]
fn oracles_run_on_the_sample() {
    let (run, note) = adapt("cargo run --release --example bindings");
    assert_eq!(
        run,
        format!("cargo run --release --example bindings -- {SAMPLE}")
    );
    assert!(note.is_some_and(|n| n.contains("every library")));
    let (run, _) = adapt(
        "cargo run --release --example bindings -- /usr/lib/x86_64-linux-gnu/{...the same eight}",
    );
    assert!(run.starts_with("ls -d /usr/lib/x86_64-linux-gnu/{...the >/dev/null && "));
    let (run, note) = adapt("cargo install --path .");
    assert_eq!((run.as_str(), note), ("cargo install --path .", None));
    assert_eq!(adapt("bash tests/run.sh").0, "bash tests/run.sh --list");
}
