//! The declarative transform file: what the programmer tells the update
//! that cannot be inferred from the two sidecars.
//!
//! Everything is keyed by the NEW version's names (the file is written
//! alongside the new code); `renamed_from` gives the old name. The file is
//! strict: an unknown key is an error naming the key, because a misspelt
//! `alow_truncate` silently ignored would turn into data loss at update
//! time. The format is documented with an example in `transfer/README.md`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::{Result, TransferError};

/// A parsed transform file. `Transform::default()` is the empty file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    /// Per type, keyed by the new C spelling (`"struct conn"`).
    #[serde(default)]
    pub types: BTreeMap<String, TypeRule>,
    /// Per global, keyed by the new name; static locals as
    /// `"function::name"`.
    #[serde(default)]
    pub globals: BTreeMap<String, VarRule>,
    /// Old globals that are intentionally gone.
    #[serde(default)]
    pub dropped_globals: Vec<String>,
    /// Whether words in untyped memory may be rewritten at all (see the
    /// policy in `convert`). On by default.
    #[serde(default = "yes")]
    pub trace_untyped: bool,
    #[serde(skip)]
    old_type_names: HashMap<String, String>,
    #[serde(skip)]
    old_global_names: HashMap<String, String>,
}

fn yes() -> bool {
    true
}

impl Default for Transform {
    fn default() -> Self {
        Transform {
            types: BTreeMap::new(),
            globals: BTreeMap::new(),
            dropped_globals: Vec::new(),
            trace_untyped: true,
            old_type_names: HashMap::new(),
            old_global_names: HashMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRule {
    /// The old spelling of this type.
    pub renamed_from: Option<String>,
    /// Per field, keyed by the new field name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRule>,
    /// Old fields that are intentionally gone.
    #[serde(default)]
    pub dropped: Vec<String>,
    /// Shrunk arrays in this type may lose non-zero elements.
    #[serde(default)]
    pub allow_truncate: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// The old name of this field.
    pub renamed_from: Option<String>,
    /// A constant for the new field instead of the converted old value.
    pub set: Option<Constant>,
    /// For a union-typed field: which member is active.
    pub active: Option<Active>,
    /// Shrunk arrays in this field may lose non-zero elements.
    #[serde(default)]
    pub allow_truncate: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarRule {
    pub renamed_from: Option<String>,
    pub set: Option<Constant>,
    #[serde(default)]
    pub allow_truncate: bool,
}

/// A union's active member chosen by the value of a sibling field (read from
/// the OLD value, so `tag_field` is the old field name).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Active {
    pub tag_field: String,
    /// Tag value (a TOML key, so written `0 = "i"`) -> member name.
    pub map: BTreeMap<String, String>,
}

/// A scalar constant for `set`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Constant {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Transform {
    /// Parses the TOML text of a transform file.
    pub fn parse(text: &str) -> Result<Transform> {
        let mut t: Transform =
            toml::from_str(text).map_err(|e| TransferError::Transform(e.message().to_string()))?;
        for (ty, rule) in &t.types {
            for (field, f) in &rule.fields {
                if let Some(a) = &f.active {
                    for key in a.map.keys() {
                        if key.parse::<i64>().is_err() {
                            return Err(TransferError::Transform(format!(
                                "types.\"{ty}\".fields.{field}.active.map: key `{key}` is not an integer tag value"
                            )));
                        }
                    }
                }
            }
        }
        t.index();
        Ok(t)
    }

    fn index(&mut self) {
        self.old_type_names = self
            .types
            .iter()
            .filter_map(|(new, r)| Some((r.renamed_from.clone()?, new.clone())))
            .collect();
        self.old_global_names = self
            .globals
            .iter()
            .filter_map(|(new, r)| Some((r.renamed_from.clone()?, new.clone())))
            .collect();
    }

    pub fn ty(&self, new_name: &str) -> Option<&TypeRule> {
        self.types.get(new_name)
    }

    pub fn field(&self, new_type: &str, new_field: &str) -> Option<&FieldRule> {
        self.types.get(new_type)?.fields.get(new_field)
    }

    /// The name an old type has in the new version.
    pub fn new_type_name<'a>(&'a self, old_name: &'a str) -> &'a str {
        self.old_type_names
            .get(old_name)
            .map(String::as_str)
            .unwrap_or(old_name)
    }

    /// The name an old global (or `function::name` static local) has in the
    /// new version.
    pub fn new_global_name<'a>(&'a self, old_name: &'a str) -> &'a str {
        self.old_global_names
            .get(old_name)
            .map(String::as_str)
            .unwrap_or(old_name)
    }

    /// The old name of a new field.
    pub fn old_field_name<'a>(&'a self, new_type: &str, new_field: &'a str) -> &'a str {
        self.field(new_type, new_field)
            .and_then(|f| f.renamed_from.as_deref())
            .unwrap_or(new_field)
    }

    pub fn global(&self, new_name: &str) -> Option<&VarRule> {
        self.globals.get(new_name)
    }
}

impl Active {
    /// (tag value, member name) pairs.
    pub fn cases(&self) -> impl Iterator<Item = (i64, &str)> {
        self.map
            .iter()
            .map(|(k, v)| (k.parse().expect("checked at parse time"), v.as_str()))
    }
}

impl Transform {
    /// The transform of the way back (new version -> old), keyed by the OLD
    /// version's names, as far as this one determines it: renamed types,
    /// fields and globals point back at their new names, and a union's
    /// `active` rule is re-keyed by the old type and field, its tag read by
    /// the tag's new name. Union members keep their names: the rule's
    /// members are new names, which are the old ones unless the union's own
    /// members were renamed, and that needs an explicit inverse. `dropped`,
    /// `dropped_globals`, `set` and `allow_truncate` have no inverse: what
    /// they discard does not come back. TOML text, as `parse` reads it.
    pub fn inverse(&self) -> String {
        use toml::{Table, Value};
        let mut types = Table::new();
        for (new_ty, rule) in &self.types {
            let old_ty = rule.renamed_from.as_deref().unwrap_or(new_ty);
            let mut fields = Table::new();
            for (new_field, f) in &rule.fields {
                let old_field = f.renamed_from.as_deref().unwrap_or(new_field);
                let mut back = Table::new();
                if old_field != new_field {
                    back.insert("renamed_from".into(), Value::String(new_field.clone()));
                }
                if let Some(a) = &f.active {
                    // The forward rule reads the tag by its old name; the way
                    // back reads it from the new value.
                    let tag = rule
                        .fields
                        .iter()
                        .find(|(_, g)| g.renamed_from.as_deref() == Some(a.tag_field.as_str()))
                        .map_or(a.tag_field.as_str(), |(n, _)| n.as_str());
                    let map: Table = a.map.iter().map(|(k, m)| (k.clone(), Value::String(m.clone()))).collect();
                    let mut active = Table::new();
                    active.insert("tag_field".into(), Value::String(tag.to_string()));
                    active.insert("map".into(), Value::Table(map));
                    back.insert("active".into(), Value::Table(active));
                }
                if !back.is_empty() {
                    fields.insert(old_field.to_string(), Value::Table(back));
                }
            }
            let mut back = Table::new();
            if old_ty != new_ty {
                back.insert("renamed_from".into(), Value::String(new_ty.clone()));
            }
            if !fields.is_empty() {
                back.insert("fields".into(), Value::Table(fields));
            }
            if !back.is_empty() {
                types.insert(old_ty.to_string(), Value::Table(back));
            }
        }
        let mut globals = Table::new();
        for (new_name, rule) in &self.globals {
            if let Some(old) = &rule.renamed_from {
                let mut back = Table::new();
                back.insert("renamed_from".into(), Value::String(new_name.clone()));
                globals.insert(old.clone(), Value::Table(back));
            }
        }
        let mut t = Table::new();
        if !self.trace_untyped {
            t.insert("trace_untyped".into(), Value::Boolean(false));
        }
        if !types.is_empty() {
            t.insert("types".into(), Value::Table(types));
        }
        if !globals.is_empty() {
            t.insert("globals".into(), Value::Table(globals));
        }
        toml::to_string(&t).expect("a table of strings and tables serialises")
    }
}

#[cfg(test)]
mod inverse_tests {
    use super::Transform;

    #[test]
    fn renames_and_active_members_point_back() {
        let forward = Transform::parse(
            r#"
            dropped_globals = ["legacy"]
            [globals.request_count]
            renamed_from = "total_requests"
            [types."struct user2"]
            renamed_from = "struct user"
            dropped = ["flags"]
            [types."struct user2".fields.years]
            renamed_from = "age"
            [types."struct user2".fields.kind]
            renamed_from = "type"
            [types."struct user2".fields.u]
            active = { tag_field = "type", map = { 0 = "i", 1 = "s" } }
            [types."struct other".fields.n]
            set = 3
            "#,
        )
        .unwrap();
        let back = Transform::parse(&forward.inverse()).unwrap();
        assert_eq!(back.new_global_name("request_count"), "total_requests");
        assert!(back.dropped_globals.is_empty());
        assert_eq!(back.new_type_name("struct user2"), "struct user");
        assert_eq!(back.old_field_name("struct user", "age"), "years");
        assert_eq!(back.old_field_name("struct user", "type"), "kind");
        let a = back.field("struct user", "u").and_then(|f| f.active.as_ref()).unwrap();
        assert_eq!(a.tag_field, "kind");
        assert_eq!(a.cases().collect::<Vec<_>>(), vec![(0, "i"), (1, "s")]);
        // `set` and `dropped` discard the old value: nothing to invert.
        assert!(back.ty("struct other").is_none());
        assert!(back.ty("struct user").unwrap().dropped.is_empty());
    }
}
