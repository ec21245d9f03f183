//! Why an interface changed: the diff of two library interfaces or two interface trees.
//!
//! Every change gets a [`Reason`] and a [`Verdict`]: additions (symbols, version nodes,
//! files) are compatible, anything removed or changed is breaking. Two kinds of change are
//! compatible although nothing was added: *layout* (a symbol's `.dynsym` position, a data
//! object's alignment or region, which move a consumer's link output but never what a
//! symbol resolves to) and link warnings. FUNC versus IFUNC and function sizes are not in
//! the interface model, so they never show up here.

#![warn(missing_docs)]

use serde::Serialize;

mod interfaces;
mod trees;

pub use interfaces::{interfaces, libraries};
pub use trees::trees;

/// How bad a change is, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing a consumer can see changed (exit 0).
    Identical,
    /// Consumers of the old side still work with the new one: additions, layout, warnings (exit 1).
    Compatible,
    /// Something consumers of the old side rely on is gone or different (exit 2).
    Breaking,
}

/// Why something changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A symbol, version node or file appeared: compatible.
    Added,
    /// A symbol, version node or file disappeared: breaking.
    Removed,
    /// A data or TLS object's `st_size`.
    SizeChanged,
    /// Symbol type (func, object, tls, notype, common).
    TypeChanged,
    /// Global, weak or unique binding (a weak symbol may be absent or overridden).
    BindingChanged,
    /// Default or protected visibility (linkers refuse or warn on copy-relocating protected data).
    VisibilityChanged,
    /// A default version moved to another version node (`foo@@V1` → `foo@@V2`).
    VersionChanged,
    /// A default version became a hidden one (`foo@@V1` → `foo@V1`).
    MadeHidden,
    /// `st_other` bits beyond visibility, an absolute value, a local version index.
    OtherChanged,
    /// Data objects sharing an address now group differently.
    AliasChanged,
    /// `.dynsym` position, alignment or placement: not an ABI change.
    Layout,
    /// A strong import no library of the closure defines: every program must now define
    /// it (flex's `yylex`), or it dies at start with `undefined symbol`.
    ImportAdded,
    /// A weak import no library of the closure defines: a program may define it (a hook
    /// such as `__gmon_start__`); one that does not still runs.
    WeakImportAdded,
    /// An import the program owed is no longer needed: programs keep running, and a new
    /// link may stop exporting the program's definition of it.
    ImportRemoved,
    /// `DT_SONAME`: consumers record it as their `DT_NEEDED`, so it is the library's identity.
    SonameChanged,
    /// `DT_NEEDED`: what the library pulls in at link and load time.
    NeededChanged,
    /// A version node's parents or flags.
    VersionNodeChanged,
    /// ELF class, byte order, machine, flags or OS ABI.
    FileClassChanged,
    /// An architecture note or attribute section.
    SectionChanged,
    /// A link-time warning text.
    WarningChanged,
    /// A file's bytes (a header's tokens, in token mode).
    ContentChanged,
    /// A file's executable bit (a script or program stops or starts being runnable).
    ExecutableBitChanged,
    /// Where a symlink points.
    SymlinkTargetChanged,
    /// A file became a symlink or the other way round.
    FileTypeChanged,
}

impl Verdict {
    /// The JSON name, which the text report prints too.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::Compatible => "compatible",
            Verdict::Breaking => "breaking",
        }
    }
}

impl Reason {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Added => "added",
            Reason::Removed => "removed",
            Reason::SizeChanged => "size_changed",
            Reason::TypeChanged => "type_changed",
            Reason::BindingChanged => "binding_changed",
            Reason::VisibilityChanged => "visibility_changed",
            Reason::VersionChanged => "version_changed",
            Reason::MadeHidden => "made_hidden",
            Reason::OtherChanged => "other_changed",
            Reason::AliasChanged => "alias_changed",
            Reason::Layout => "layout",
            Reason::ImportAdded => "import_added",
            Reason::WeakImportAdded => "weak_import_added",
            Reason::ImportRemoved => "import_removed",
            Reason::SonameChanged => "soname_changed",
            Reason::NeededChanged => "needed_changed",
            Reason::VersionNodeChanged => "version_node_changed",
            Reason::FileClassChanged => "file_class_changed",
            Reason::SectionChanged => "section_changed",
            Reason::WarningChanged => "warning_changed",
            Reason::ContentChanged => "content_changed",
            Reason::ExecutableBitChanged => "executable_bit_changed",
            Reason::SymlinkTargetChanged => "symlink_target_changed",
            Reason::FileTypeChanged => "file_type_changed",
        }
    }

    /// The JSON name as the text report prints it, words apart (`size changed`).
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }

    fn verdict(self) -> Verdict {
        match self {
            Reason::Added
            | Reason::Layout
            | Reason::WarningChanged
            | Reason::WeakImportAdded
            | Reason::ImportRemoved => Verdict::Compatible,
            _ => Verdict::Breaking,
        }
    }
}

/// One change and why it matters.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// What changed: `symbol foo@@V1`, `version V2`, `soname`, `needed`, `file include/a.h`,
    /// and in a tree, a library's changes prefixed by its path.
    pub subject: String,
    /// What kind of change, one of the documented JSON names.
    pub reason: Reason,
    /// How bad it is; fixed by the reason.
    pub verdict: Verdict,
    /// Old and new value, where that says more than the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a changed text file: whether its C preprocessor tokens changed too (false means
    /// `--headers tokens` would not see the change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_changed: Option<bool>,
    /// For a changed text file: a unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl Change {
    fn new(subject: impl Into<String>, reason: Reason, detail: Option<String>) -> Change {
        Change {
            subject: subject.into(),
            reason,
            verdict: reason.verdict(),
            detail,
            tokens_changed: None,
            diff: None,
        }
    }
}

/// The `schema` field of diff JSON.
pub const SCHEMA: &str = "abicut-diff";
/// The diff JSON version this build writes.
pub const VERSION: u32 = 1;

/// The result of a diff: the worst verdict and every change, in a stable order;
/// `diff --json` prints it as it is.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`], so a reader can tell a diff from another abicut document.
    pub schema: &'static str,
    /// Always [`VERSION`]; bumped when the document changes incompatibly.
    pub version: u32,
    /// The worst verdict among the changes; the exit status of `abicut diff`.
    pub verdict: Verdict,
    /// Every change, in a stable order, so two runs compare byte for byte.
    pub changes: Vec<Change>,
    /// What the reader should know to read the changes: for an llvm-ifs side, what IFS
    /// cannot carry, so those differences are the format's loss, not the library's change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// The report for people: the verdict, then one line per change, each followed by its
    /// unified diff when `patches` is set. Words are the JSON names, so the two cannot drift.
    pub fn to_text(&self, patches: bool) -> String {
        let mut out = format!("{}\n", self.verdict.as_str());
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for change in &self.changes {
            out.push_str(&format!(
                "  {:<10} {}: {}",
                change.verdict.as_str(),
                change.subject,
                change.reason.words()
            ));
            if let Some(detail) = &change.detail {
                out.push_str(&format!(" ({detail})"));
            }
            match change.tokens_changed {
                Some(true) => out.push_str(" [tokens changed too]"),
                Some(false) => out.push_str(" [comments/whitespace only: same tokens]"),
                None => {}
            }
            out.push('\n');
            if let (true, Some(patch)) = (patches, &change.diff) {
                for line in patch.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
        out
    }

    fn from_changes(changes: Vec<Change>) -> Report {
        let verdict = changes
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Identical);
        Report {
            schema: SCHEMA,
            version: VERSION,
            verdict,
            changes,
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASONS: [Reason; 21] = [
        Reason::Added,
        Reason::Removed,
        Reason::SizeChanged,
        Reason::TypeChanged,
        Reason::BindingChanged,
        Reason::VisibilityChanged,
        Reason::VersionChanged,
        Reason::MadeHidden,
        Reason::OtherChanged,
        Reason::AliasChanged,
        Reason::Layout,
        Reason::SonameChanged,
        Reason::NeededChanged,
        Reason::VersionNodeChanged,
        Reason::FileClassChanged,
        Reason::SectionChanged,
        Reason::WarningChanged,
        Reason::ContentChanged,
        Reason::ExecutableBitChanged,
        Reason::SymlinkTargetChanged,
        Reason::FileTypeChanged,
    ];

    /// The text report and the JSON name every value alike.
    #[test]
    fn as_str_is_the_json_name() {
        for r in REASONS {
            assert_eq!(serde_json::to_value(r).ok(), Some(r.as_str().into()));
        }
        for v in [Verdict::Identical, Verdict::Compatible, Verdict::Breaking] {
            assert_eq!(serde_json::to_value(v).ok(), Some(v.as_str().into()));
        }
    }
}
