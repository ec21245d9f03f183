//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod bindings;
pub mod cache;
pub mod corrupt;
pub mod files;
pub mod linkcheck;
pub mod package;
pub mod real;
pub mod user;

use std::path::{Path, PathBuf};

/// The path of the abicut binary under test.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_abicut"))
}

/// Whether `tool` is a file in a PATH directory; asks without skipping or failing, to pick
/// one of several names a tool goes by.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false)
}

/// Whether `need` is there: a tool on PATH, or (when it names a path, with a `/`) a file
/// or directory such as a cross sysroot. A missing one fails the test under `CI=true` (CI
/// must have everything) and skips it, loudly, on a developer's machine.
pub fn have(need: &str) -> bool {
    let found = if need.contains('/') {
        Path::new(need).exists()
    } else {
        on_path(need)
    };
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{need} is required under CI=true but is not installed"
        );
        eprintln!("SKIPPED: {need} is not installed");
    }
    found
}

/// Runs a command, panicking with its stderr on failure.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str], dir: &Path) -> String {
    let out = duct::cmd(program.as_ref(), args)
        .dir(dir)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("command starts");
    assert!(
        out.status.success(),
        "{:?} {args:?} failed:\n{}",
        program.as_ref(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `abicut ARGS` in the current directory: (exit status, stdout, stderr).
pub fn run_abicut(args: &[&str]) -> (i32, String, String) {
    run_abicut_in(args, Path::new("."))
}

/// Runs `abicut ARGS` in `dir`: (exit status, stdout, stderr).
pub fn run_abicut_in(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = duct::cmd(bin_path(), args)
        .dir(dir)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("abicut starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Downloads Debian packages (`name` or `name=version`) with `apt-get download` and
/// unpacks them all with `dpkg -x` into `dir/root`, which it returns.
pub fn unpack_debs(specs: &[String], dir: &Path) -> PathBuf {
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let mut args = vec!["download"];
    args.extend(specs.iter().map(String::as_str));
    run("apt-get", &args, &debs);
    let root = dir.join("root");
    for deb in std::fs::read_dir(&debs).unwrap() {
        let deb = deb.unwrap().path();
        run(
            "dpkg",
            &["-x", deb.to_str().unwrap(), root.to_str().unwrap()],
            dir,
        );
    }
    root
}
