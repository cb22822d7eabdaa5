//! What `lucc diff` reports: one [`Change`] per difference in program
//! state, classified by what the update will do with it. These structs are
//! the `--json` output, so their field names are a stable interface
//! (documented in docs/lucc-diff.md): add fields, never rename them.

use serde::Serialize;

/// What the update does with a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Class {
    /// Transferred as is (bytes unchanged, at most moved or remapped).
    #[serde(rename = "auto")]
    Auto,
    /// Converted automatically; [`Change::conversion`] names how.
    #[serde(rename = "convert")]
    Convert,
    /// Cannot be inferred: the transform file must say what to do.
    #[serde(rename = "needs-transform")]
    NeedsTransform,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Auto => "auto",
            Class::Convert => "convert",
            Class::NeedsTransform => "needs-transform",
        }
    }
}

/// Which part of the program state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    Type,
    Field,
    Global,
    StaticLocal,
    Site,
    Function,
    /// The update as a whole (an engine error no single item explains).
    State,
}

impl Item {
    pub fn heading(self) -> &'static str {
        match self {
            Item::Type => "types",
            Item::Field => "fields",
            Item::Global => "globals",
            Item::StaticLocal => "static locals",
            Item::Site => "allocation sites",
            Item::Function => "functions",
            Item::State => "state",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Added,
    Removed,
    Changed,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
        }
    }
}

/// One side (old or new) of a changed item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The name in this version (differs from the other side's on a rename).
    pub name: String,
    /// C spelling of the type; empty for functions and untyped sites.
    #[serde(rename = "type")]
    pub ty: String,
    pub size: u64,
    /// Byte offset within the enclosing struct (fields only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// `bit_offset:bit_size` for bitfields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<String>,
}

/// A rename `lucc diff` guesses; `--template` writes it commented out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// `type`, `field` or `global` (static locals are globals written
    /// `function::name`).
    pub what: &'static str,
    /// For fields: the (new) struct the field is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
    pub old: String,
    pub new: String,
    /// Why it looks like a rename.
    pub because: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub item: Item,
    /// New name when the item exists in the new version, else the old one;
    /// fields as `struct s.field`, static locals as `function::name`,
    /// sites as their hex id.
    pub name: String,
    pub change: Kind,
    /// What about it changed: `size`, `offset`, `renamed`, `widened`,
    /// `narrowed`, `signedness`, `int_to_enum`, `enum_to_int`,
    /// `enumerators`, `array_resized`, `element_changed`,
    /// `nested_struct_changed`, `union_changed`, `bitfield_changed`,
    /// `pointer_target_changed`, `float_size`, `type_changed`,
    /// `incompatible`, `referenced_from_state`.
    pub aspects: Vec<&'static str>,
    pub class: Class,
    /// For `convert`: how (`widen`, `narrow+range-check`, `zero-fill`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<String>,
    /// The update itself would fail on it (the transfer engine refuses):
    /// `lucc update` rolls back. `false` for a needs-transform that is a
    /// judgement (a likely rename the update would treat as drop + add).
    pub blocking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Side>,
    /// For people: one line.
    pub detail: String,
    /// For needs-transform: why (the engine's own error when it refuses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Functions: the variables whose initial value points at it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_by: Vec<String>,
    /// A likely rename involving this item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Rename>,
}

impl Change {
    pub fn new(item: Item, name: impl Into<String>, change: Kind, class: Class) -> Change {
        Change {
            item,
            name: name.into(),
            change,
            aspects: Vec::new(),
            class,
            conversion: None,
            blocking: false,
            old: None,
            new: None,
            detail: String::new(),
            reason: None,
            held_by: Vec::new(),
            suggestion: None,
        }
    }

    /// Marks the change as refused by the engine with `error`.
    pub fn refuse(&mut self, error: String) {
        self.class = Class::NeedsTransform;
        self.conversion = None;
        self.blocking = true;
        self.reason = Some(error);
    }
}

/// Where a build came from.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    pub path: String,
    pub build_id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub auto: usize,
    pub convert: usize,
    pub needs_transform: usize,
    pub blocking: usize,
}

/// The whole `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Version of this document's shape.
    pub schema: u32,
    pub old: Build,
    pub new: Build,
    /// The transform file applied, if any.
    pub transform: Option<String>,
    /// `auto` (the update can proceed without a transform file, or with
    /// the one given) or `needs-transform`.
    pub verdict: Class,
    /// What the engine reports when it sets up the update (`Transfer::new`):
    /// the first error `lucc update` would stop at, if any.
    pub engine_error: Option<String>,
    pub counts: Counts,
    pub changes: Vec<Change>,
    pub suggestions: Vec<Rename>,
}

pub const SCHEMA: u32 = 1;
