//! Minimal valid instances of the spec's types, built from their schemars schemas: how
//! the mock seeds collections it has no dedicated code for and answers the operations
//! it keeps no state for.

use std::hash::{Hash, Hasher};

use schemars::schema::{InstanceType, RootSchema, Schema, SchemaObject, SingleOrVec};
use serde_json::{Map, Value, json};

/// Deep enough for every type of the spec; stops a cyclic type from recursing forever.
const MAX_DEPTH: usize = 12;

/// 2026-01-01T00:00:00Z: generated dates count back from it, so they do not depend on
/// the clock.
const EPOCH_MS: i64 = 1_767_225_600_000;

/// A generator of instances. Everything it makes follows from its seed: the same seed
/// gives the same values, ids included.
pub(crate) struct Fake {
    rng: fastrand::Rng,
}

impl Fake {
    /// A generator seeded with `seed` and everything in `parts` (a request's method,
    /// path, query and body), so that one request always gets one answer.
    pub(crate) fn seeded(seed: u64, parts: &[&[u8]]) -> Fake {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut hasher);
        parts.hash(&mut hasher);
        Fake {
            rng: fastrand::Rng::with_seed(hasher.finish()),
        }
    }

    /// An id shaped like FastComments' (24 hex digits).
    pub(crate) fn id(&mut self) -> String {
        format!("{:08x}{:016x}", self.rng.u32(..), self.rng.u64(..))
    }

    /// An instance of the root type with every required field set; `n` numbers it
    /// (strings and numbers carry `n`, the top-level `id`/`_id` is a fresh id).
    pub(crate) fn instance(&mut self, root: &RootSchema, n: usize) -> Value {
        self.value(&root.schema, root, n, 0)
    }

    /// An instance of `schema`, a part of `root` (whose definitions it refers to).
    pub(crate) fn instance_in(&mut self, schema: &Schema, root: &RootSchema) -> Value {
        self.schema_value(schema, root, 0, 0)
    }
}

impl Fake {
    fn value(&mut self, schema: &SchemaObject, root: &RootSchema, n: usize, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(reference) = &schema.reference {
            let name = reference.rsplit('/').next().unwrap_or_default();
            return match root.definitions.get(name) {
                Some(Schema::Object(target)) => self.value(target, root, n, depth + 1),
                _ => json!({}),
            };
        }
        if let Some(first) = schema.enum_values.as_ref().and_then(|v| v.first()) {
            return first.clone();
        }
        if let Some(constant) = &schema.const_value {
            return constant.clone();
        }
        if let Some(sub) = &schema.subschemas {
            if let Some(all) = &sub.all_of {
                let mut merged = Map::new();
                for part in all {
                    if let Value::Object(fields) = self.schema_value(part, root, n, depth + 1) {
                        merged.extend(fields);
                    }
                }
                return Value::Object(merged);
            }
            if let Some(first) = sub
                .any_of
                .as_ref()
                .or(sub.one_of.as_ref())
                .and_then(|v| v.first())
            {
                return self.schema_value(first, root, n, depth + 1);
            }
        }
        let kind = match &schema.instance_type {
            Some(SingleOrVec::Single(kind)) => Some(**kind),
            Some(SingleOrVec::Vec(kinds)) => {
                kinds.iter().copied().find(|k| *k != InstanceType::Null)
            }
            None => None,
        };
        match kind {
            Some(InstanceType::String) => self.string(schema.format.as_deref(), n),
            Some(InstanceType::Integer) => json!(n),
            Some(InstanceType::Number) => json!(n as f64),
            Some(InstanceType::Boolean) => json!(false),
            Some(InstanceType::Array) => json!([]),
            Some(InstanceType::Null) => Value::Null,
            Some(InstanceType::Object) | None => self.object(schema, root, n, depth),
        }
    }

    fn schema_value(
        &mut self,
        schema: &Schema,
        root: &RootSchema,
        n: usize,
        depth: usize,
    ) -> Value {
        match schema {
            Schema::Object(object) => self.value(object, root, n, depth),
            Schema::Bool(_) => json!({}),
        }
    }

    fn string(&mut self, format: Option<&str>, n: usize) -> Value {
        match format {
            Some("date-time") => {
                let seconds = i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(1000);
                let when =
                    chrono::DateTime::from_timestamp_millis(EPOCH_MS.saturating_sub(seconds))
                        .unwrap_or_default();
                json!(when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }
            Some("date") => json!("2026-01-01"),
            Some("uuid") => json!(format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                self.rng.u32(..),
                self.rng.u16(..),
                self.rng.u16(..0x1000),
                self.rng.u16(..0x1000),
                self.rng.u64(..1 << 48)
            )),
            _ => json!(format!("value-{n}")),
        }
    }

    fn object(
        &mut self,
        schema: &SchemaObject,
        root: &RootSchema,
        n: usize,
        depth: usize,
    ) -> Value {
        let mut out = Map::new();
        let Some(object) = &schema.object else {
            return Value::Object(out);
        };
        for name in &object.required {
            let field = match name.as_str() {
                "id" | "_id" if depth == 0 => json!(self.id()),
                _ => match object.properties.get(name) {
                    Some(property) => self.schema_value(property, root, n, depth + 1),
                    None => Value::Null,
                },
            };
            out.insert(name.clone(), field);
        }
        // A field the spec requires but allows to be null is an `Option` serde still wants
        // to see: schemars does not list it as required, so every nullable field is sent.
        for (name, property) in &object.properties {
            if !out.contains_key(name) && admits_null(property) {
                out.insert(name.clone(), Value::Null);
            }
        }
        // An optional id is set too: it is what `afterId` paging pages by.
        for key in ["id", "_id"] {
            if depth == 0 && object.properties.contains_key(key) && !out.contains_key(key) {
                out.insert(key.into(), json!(self.id()));
            }
        }
        Value::Object(out)
    }
}

fn admits_null(schema: &Schema) -> bool {
    let Schema::Object(object) = schema else {
        return false;
    };
    let typed_null = match &object.instance_type {
        Some(SingleOrVec::Single(kind)) => **kind == InstanceType::Null,
        Some(SingleOrVec::Vec(kinds)) => kinds.contains(&InstanceType::Null),
        None => false,
    };
    typed_null
        || object
            .subschemas
            .as_ref()
            .and_then(|s| s.any_of.as_ref())
            .is_some_and(|variants| variants.iter().any(admits_null))
}
