//! Role overrides: the Nix loader's guess (`buildInputs` → `lib`, the rest → `tool`) is
//! wrong for some edges, e.g. the C library inside a compiler wrapper is linked by
//! everything the wrapper compiles, so it should count as `lib`.
//!
//! ```json
//! {
//!   "version": 1,
//!   "rules": [
//!     { "input": "glibc", "user": "*-wrapper*", "role": "lib" },
//!     { "input": "cacert*", "role": "runtime" }
//!   ]
//! }
//! ```
//!
//! A rule matches an edge when `input` matches the input node and `user` (default `*`)
//! matches the node using it. A pattern matches a node's id, name or pname; `*` stands
//! for any run of characters and `?` for one. The first matching rule wins.

use super::{Node, Role};
use crate::error::Result;
use crate::fsx::{self, Versioned};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Checked by [`Versioned`] before the body is read; a field so that it is required.
    #[serde(rename = "version")]
    _version: u32,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    input: String,
    #[serde(default = "any")]
    user: String,
    role: Role,
}

fn any() -> String {
    "*".to_owned()
}

impl Overrides {
    pub fn load(path: &Path) -> Result<Overrides> {
        let format = Versioned {
            schema: None,
            version: 1,
            made_by: "`--roles` takes role rules written by hand (docs/planning.md)",
        };
        let o: Overrides = fsx::read_json(path, "role-override file", Some(format))?;
        Ok(o)
    }

    /// The role the first matching rule gives the edge `input` → `user`, if any.
    pub fn role_for(&self, input: &Node, user: &Node) -> Option<Role> {
        self.rules
            .iter()
            .find(|r| node_matches(&r.input, input) && node_matches(&r.user, user))
            .map(|r| r.role)
    }
}

fn node_matches(pattern: &str, node: &Node) -> bool {
    glob(pattern, &node.id)
        || glob(pattern, &node.name)
        || node.pname.as_deref().is_some_and(|p| glob(pattern, p))
}

/// `*`/`?` glob match, iterative with backtracking to the last `*` (linear for the short
/// names matched here, no recursion).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::{Overrides, glob};
    use crate::graph::{Node, Role};

    fn rules(json: &str) -> Overrides {
        serde_json::from_str(json).unwrap()
    }

    /// A node whose id, name and pname differ, so a test shows which one a pattern matched.
    fn node(id: &str, name: &str, pname: Option<&str>) -> Node {
        Node {
            name: name.to_owned(),
            pname: pname.map(str::to_owned),
            ..Node::new(id)
        }
    }

    #[test]
    fn a_pattern_matches_the_id_the_name_or_the_pname() {
        let o = rules(r#"{"version": 1, "rules": [{"input": "glibc*", "role": "lib"}]}"#);
        let user = Node::new("app");
        for input in [
            node("glibc-2.38.drv", "x", None),
            node("abc.drv", "glibc-2.38", None),
            node("abc.drv", "x", Some("glibc")),
        ] {
            assert_eq!(o.role_for(&input, &user), Some(Role::Lib), "{input:?}");
        }
        let other = node("abc.drv", "x", Some("musl"));
        assert_eq!(o.role_for(&other, &user), None);
    }

    /// `user` defaults to `*`; when given, it must match the node using the input.
    #[test]
    fn a_rule_matches_the_user_only_when_its_pattern_does() {
        let o = rules(
            r#"{"version": 1, "rules": [
                {"input": "glibc", "user": "*-wrapper*", "role": "lib"},
                {"input": "cacert", "role": "runtime"}
            ]}"#,
        );
        let glibc = Node::new("glibc");
        assert_eq!(
            o.role_for(&glibc, &Node::new("gcc-wrapper-13")),
            Some(Role::Lib)
        );
        assert_eq!(o.role_for(&glibc, &Node::new("gcc-13")), None);
        let cacert = Node::new("cacert");
        assert_eq!(o.role_for(&cacert, &Node::new("any")), Some(Role::Runtime));
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let o = rules(
            r#"{"version": 1, "rules": [
                {"input": "glibc", "user": "app", "role": "runtime"},
                {"input": "glib*", "role": "tool"},
                {"input": "glibc", "role": "lib"}
            ]}"#,
        );
        let glibc = Node::new("glibc");
        assert_eq!(o.role_for(&glibc, &Node::new("app")), Some(Role::Runtime));
        assert_eq!(o.role_for(&glibc, &Node::new("other")), Some(Role::Tool));
    }

    /// A misspelt field is refused rather than ignored, so a rule never silently matches
    /// everything.
    #[test]
    fn unknown_fields_are_refused() {
        let bad = r#"{"version": 1, "rules": [{"input": "a", "usr": "b", "role": "lib"}]}"#;
        assert!(serde_json::from_str::<Overrides>(bad).is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("glibc*", "glibc-2.38"));
        assert!(glob("*wrapper*", "gcc-wrapper-13"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("glibc", "glibc-2.38"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbd"));
    }
}
