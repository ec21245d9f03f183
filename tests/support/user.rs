//! An unprivileged user for the relocation tests (issue 19): someone who cannot have `/nix`,
//! cannot use namespaces, proot or chroot, and relocates a closure into a directory of
//! their own. Run as root, commands run as `nobody` through `setpriv` (no namespace); run as
//! any other user, they run as that user.

use std::path::{Path, PathBuf};

/// `nobody`'s side of a test: a short temporary directory (store directories below it stay
/// close to `/nix/store`'s length), a `$HOME` in it owned by the user, and a copy of abicut
/// the user can run (the build tree may not be readable by it).
pub struct Nobody {
    tmp: tempfile::TempDir,
    root: bool,
}

impl Nobody {
    /// `None` when run as root without `setpriv`.
    pub fn new(abicut: &Path) -> Option<Nobody> {
        let root = duct::cmd!("id", "-u").read().ok()?.trim() == "0";
        if root && !super::have("setpriv") {
            return None;
        }
        let tmp = tempfile::Builder::new()
            .prefix("")
            .rand_bytes(3)
            .tempdir_in("/tmp")
            .ok()?;
        let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(tmp.path(), open).ok()?;
        let nobody = Nobody { tmp, root };
        std::fs::create_dir(nobody.home()).ok()?;
        std::fs::copy(abicut, nobody.abicut()).ok()?;
        nobody.give(&nobody.home());
        Some(nobody)
    }

    pub fn is_root_run(&self) -> bool {
        self.root
    }

    /// `/tmp/XXX/h`: 10 characters, as `/nix/store`.
    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("h")
    }

    pub fn abicut(&self) -> PathBuf {
        self.tmp.path().join("abicut")
    }

    /// Makes `path` the user's (run as root; otherwise it is the user's already).
    pub fn give(&self, path: &Path) {
        if self.root {
            let out = duct::cmd!("chown", "-R", "nobody:nogroup", path)
                .unchecked()
                .run()
                .expect("chown runs");
            assert!(out.status.success(), "chown {}", path.display());
        }
    }

    /// The argument vector that runs `program ARGS` as the user.
    pub fn argv(&self, program: &Path, args: &[String]) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if self.root {
            argv.extend(
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                ]
                .map(String::from),
            );
        }
        argv.push(program.to_string_lossy().into_owned());
        argv.extend(args.iter().cloned());
        argv
    }

    /// `program ARGS` as the user, with its `$HOME`, both streams captured, unchecked.
    pub fn cmd(&self, program: &Path, args: &[String]) -> duct::Expression {
        let argv = self.argv(program, args);
        duct::cmd(&argv[0], &argv[1..])
            .env("HOME", self.home())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
    }

    /// `program ARGS` as the user where `/nix` is an empty directory (a private mount
    /// namespace made as root, for the oracle only: the user's own commands run without
    /// one), so a file that still reaches into `/nix/store` fails. Run as another user,
    /// `/nix` stays as it is and [`Nobody::cmd`] is all there is.
    pub fn cmd_without_nix(&self, program: &Path, args: &[String]) -> duct::Expression {
        if !self.root {
            return self.cmd(program, args);
        }
        let mut argv: Vec<String> = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-euc",
            "mount -t tmpfs -o ro abicut-no-nix /nix && exec \"$@\"",
            "sh",
        ]
        .map(String::from)
        .to_vec();
        argv.extend(self.argv(program, args));
        duct::cmd(&argv[0], &argv[1..])
            .env("HOME", self.home())
            .stdout_capture()
            .stderr_capture()
            .unchecked()
    }
}

/// `/tmp/nix`, the store directory the issue names (`/tmp/nix/store`, 4 characters longer
/// than `/nix/store`), held for one test and given to the user. A fixed path is shared by
/// every run on the machine: one this suite left (it holds [`TmpNix::MARK`]) is removed
/// first; anything else there is refused, never touched.
pub struct TmpNix;

impl TmpNix {
    const DIR: &'static str = "/tmp/nix";
    const MARK: &'static str = ".abicut-test-run";

    pub fn claim(user: &Nobody) -> TmpNix {
        let dir = Path::new(Self::DIR);
        if dir.symlink_metadata().is_ok() {
            assert!(
                dir.join(Self::MARK).is_file(),
                "{} exists and was not made by this test suite: move it away to run this test",
                Self::DIR
            );
            std::fs::remove_dir_all(dir).expect("remove the last run's /tmp/nix");
        }
        std::fs::create_dir(dir).expect("create /tmp/nix");
        std::fs::write(
            dir.join(Self::MARK),
            b"made by abicut's tests; removed by them\n",
        )
        .expect("mark /tmp/nix");
        user.give(dir);
        TmpNix
    }

    pub fn store(&self) -> PathBuf {
        Path::new(Self::DIR).join("store")
    }
}

impl Drop for TmpNix {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Self::DIR);
    }
}
