//! Nix store names: one reading of a derivation name, shared by the interface tree (its
//! version-free placeholders) and the planner (`--changed base` for `base-1.0`).

/// The name Nix's `builtins.parseDrvName` keeps: everything before the first `-` followed
/// by something other than a letter (`glibc-2.40-66` → `glibc`, `xorg-server-21.1` →
/// `xorg-server`). Plain derivations carry no `pname`, and users name a package without its
/// version.
pub fn pname(name: &[u8]) -> &[u8] {
    &name[..pname_len(name)]
}

/// [`pname`] of a UTF-8 name (it is cut at an ASCII `-`, so it stays UTF-8).
pub fn pname_str(name: &str) -> &str {
    &name[..pname_len(name.as_bytes())]
}

fn pname_len(name: &[u8]) -> usize {
    name.windows(2)
        .position(|w| w[0] == b'-' && !w[1].is_ascii_alphabetic())
        .unwrap_or(name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pname_is_parse_drv_names_name() {
        assert_eq!(pname(b"glibc-2.40-66"), b"glibc");
        assert_eq!(pname(b"xorg-server-21.1"), b"xorg-server");
        assert_eq!(pname_str("python3-3.11"), "python3");
        assert_eq!(pname_str("mid-"), "mid-");
        assert_eq!(pname_str("base"), "base");
    }
}
