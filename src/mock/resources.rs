//! Resources found in the spec's paths: a collection path (`/api/v1/tenants`) with item
//! paths under it (`/api/v1/tenants/{id}`, `/api/v1/tickets/{id}/state`). Their
//! operations share one store per tenant, so what `CreateTenant` returns, `GetTenant`,
//! `UpdateTenant`, `DeleteTenant` and `GetTenants` see.
//!
//! Nothing here names a resource: the store, the item's key and where an item goes in an
//! answer all come from the paths and the response schemas. A resource's store is keyed
//! by its collection's path template, so the items of a nested collection
//! (`/email-templates/{id}/render-errors`) share one store whatever their parent.

use std::collections::BTreeMap;
use std::sync::Mutex;

use schemars::schema::{InstanceType, RootSchema, Schema, SchemaObject, SingleOrVec};
use serde_json::{Map, Value};

use super::fake::Fake;
use super::ground::{Known, fill};
use super::store::{Object, lock};
use super::table::{self, SpecOperation};
use crate::operations::{OPERATIONS, Operation};

/// What an operation does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `GET` on the collection.
    List,
    /// `POST` on the collection.
    Create,
    /// `GET` on an item.
    Get,
    /// `PUT` on an item.
    Replace,
    /// `PATCH` on an item.
    Update,
    /// `DELETE` on an item.
    Delete,
    /// Anything else on an item (`POST /{id}/send-invite`, `PATCH /{id}/state`): the
    /// item must exist; the body's fields the item has are stored.
    OnItem,
}

/// An operation of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bound {
    /// The collection's path template.
    pub(crate) collection: &'static str,
    pub(crate) action: Action,
    /// The path parameter naming the item (`id`, `tag`, `domain`), for item actions.
    pub(crate) item_param: Option<&'static str>,
}

/// The resource action of `op`, if its path belongs to a resource: a collection path the
/// spec lists or creates on, and item paths one `{parameter}` below it.
pub(crate) fn classify(op: &Operation) -> Option<Bound> {
    let segments: Vec<&'static str> = op.path.split('/').collect();
    let is_param = |s: &str| s.starts_with('{') && s != "{tenantId}";
    if let Some(k) = segments.iter().rposition(|s| s.starts_with('{'))
        && is_param(segments[k])
        && k > 1
    {
        let collection_len = segments[..k].iter().map(|s| s.len() + 1).sum::<usize>() - 1;
        let collection = &op.path[..collection_len];
        if is_collection(collection) {
            let action = match (k + 1 == segments.len(), op.method) {
                (true, "GET") => Action::Get,
                (true, "PUT") => Action::Replace,
                (true, "PATCH") => Action::Update,
                (true, "DELETE") => Action::Delete,
                _ => Action::OnItem,
            };
            let param = segments[k].trim_start_matches('{').trim_end_matches('}');
            return Some(Bound {
                collection,
                action,
                item_param: Some(param),
            });
        }
    }
    let has_items = OPERATIONS.iter().any(|o| {
        o.path
            .strip_prefix(op.path)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| is_param(rest) && !rest.contains('/'))
    });
    let action = match op.method {
        "GET" => Action::List,
        "POST" => Action::Create,
        _ => return None,
    };
    has_items.then_some(Bound {
        collection: op.path,
        action,
        item_param: None,
    })
}

/// The store of the collection at `path` (a path template): the public and the secured
/// routes of one resource (`/feed-posts/{tenantId}`, `/api/v1/feed-posts`) share it, so
/// what one API writes the other reads.
pub(crate) fn store_key(path: &str) -> String {
    path.strip_prefix("/api/v1")
        .unwrap_or(path)
        .replace("/{tenantId}", "")
}

/// Whether `path` is a collection: the spec lists (`GET`) or creates (`POST`) on it.
pub(crate) fn is_collection(path: &str) -> bool {
    OPERATIONS
        .iter()
        .any(|o| o.path == path && matches!(o.method, "GET" | "POST"))
}

/// Whether `item` is the one a path names with `value` in parameter `param`: by `id`,
/// `_id`, a field named like the parameter, or one the parameter's name starts with
/// (`domain` for `{domainToUpdate}`).
pub(crate) fn is_named(item: &Object, param: &str, value: &str) -> bool {
    let named = |key: &str| item.get(key).and_then(Value::as_str) == Some(value);
    named("id")
        || named("_id")
        || named(param)
        || item
            .iter()
            .any(|(k, v)| param.starts_with(k.as_str()) && v.as_str() == Some(value))
}

/// Where an operation's answer holds one item and where a list of items: the first
/// property (of the success variant) that is not `status`, `code` or `reason`.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    pub(crate) item: Option<(String, Schema)>,
    pub(crate) list: Option<(String, Schema)>,
}

/// The slots of `root`, the schema of an operation's response.
pub(crate) fn slots(root: &RootSchema) -> Slots {
    let mut out = Slots::default();
    let Some(object) = success_object(&root.schema, root) else {
        return out;
    };
    let Some(properties) = object.object.as_ref().map(|o| &o.properties) else {
        return out;
    };
    for (name, property) in properties {
        if ["status", "code", "reason"].contains(&name.as_str()) {
            continue;
        }
        let resolved = resolve(property, root);
        let array = resolved.is_some_and(|s| has_type(s, InstanceType::Array));
        match (array, &out.list, &out.item) {
            (true, None, _) => {
                let items = resolved
                    .and_then(|s| s.array.as_ref())
                    .and_then(|a| match &a.items {
                        Some(SingleOrVec::Single(item)) => Some((**item).clone()),
                        _ => None,
                    })
                    .unwrap_or(Schema::Bool(true));
                out.list = Some((name.clone(), items));
            }
            (false, _, None) if resolved.is_none_or(is_object_like) => {
                out.item = Some((name.clone(), property.clone()));
            }
            _ => {}
        }
    }
    out
}

/// The object schema a success answer follows: the schema itself, or the first variant
/// of an `anyOf`/`oneOf` that has more than `status`, `code` and `reason`.
pub(crate) fn success_object<'a>(
    schema: &'a SchemaObject,
    root: &'a RootSchema,
) -> Option<&'a SchemaObject> {
    if let Some(reference) = &schema.reference {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return match root.definitions.get(name) {
            Some(Schema::Object(target)) if target.reference.is_none() => {
                success_object(target, root)
            }
            _ => None,
        };
    }
    if schema.object.is_some() {
        return Some(schema);
    }
    let variants = schema
        .subschemas
        .as_ref()
        .and_then(|s| s.any_of.as_ref().or(s.one_of.as_ref()))?;
    variants.iter().find_map(|v| {
        let Schema::Object(v) = v else { return None };
        let v = success_object(v, root)?;
        let fields = &v.object.as_ref()?.properties;
        fields
            .keys()
            .any(|k| !["status", "code", "reason"].contains(&k.as_str()))
            .then_some(v)
    })
}

/// Follows a `$ref` to its definition.
pub(crate) fn resolve<'a>(schema: &'a Schema, root: &'a RootSchema) -> Option<&'a SchemaObject> {
    let Schema::Object(object) = schema else {
        return None;
    };
    match &object.reference {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            match root.definitions.get(name) {
                Some(target @ Schema::Object(_)) => resolve(target, root),
                _ => None,
            }
        }
        None => Some(object),
    }
}

fn has_type(schema: &SchemaObject, kind: InstanceType) -> bool {
    match &schema.instance_type {
        Some(SingleOrVec::Single(k)) => **k == kind,
        Some(SingleOrVec::Vec(kinds)) => kinds.contains(&kind),
        None => false,
    }
}

/// An object, or a schema that says nothing of its type (`{}`, an `anyOf`).
fn is_object_like(schema: &SchemaObject) -> bool {
    schema.instance_type.is_none() || has_type(schema, InstanceType::Object)
}

/// Whether `value` may go into a field of schema `property`: its JSON type is one the
/// schema allows and, for an enum, one of its values. A schema without a type takes any
/// value but null.
pub(crate) fn takes(property: &Schema, root: &RootSchema, value: &Value) -> bool {
    let Some(schema) = resolve(property, root) else {
        return !value.is_null();
    };
    if let Some(values) = &schema.enum_values {
        return values.contains(value);
    }
    let kind = match value {
        Value::Null => InstanceType::Null,
        Value::Bool(_) => InstanceType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => InstanceType::Integer,
        Value::Number(_) => InstanceType::Number,
        Value::String(_) => InstanceType::String,
        Value::Array(_) => InstanceType::Array,
        Value::Object(_) => InstanceType::Object,
    };
    match &schema.instance_type {
        None => !value.is_null(),
        Some(_) if kind == InstanceType::Integer && has_type(schema, InstanceType::Number) => true,
        Some(_) => has_type(schema, kind),
    }
}

/// One resource's item, as its operations' answers describe it.
pub(crate) struct ItemType {
    /// The item's schema and the response it came from (whose definitions it refers to).
    schema: Option<(Schema, &'static RootSchema)>,
    /// An operation whose answer holds one item, the slot, and an answer to put an item
    /// in: what a stored item is checked against.
    holder: Option<(&'static SpecOperation, String, Value)>,
}

impl ItemType {
    /// The item type of the resource at `collection` (a path template of the spec), found
    /// once and kept: the spec has a few dozen collections.
    pub(crate) fn of(collection: &str) -> &'static ItemType {
        static FOUND: Mutex<BTreeMap<String, &'static ItemType>> = Mutex::new(BTreeMap::new());
        if let Some(found) = lock(&FOUND).get(collection) {
            return found;
        }
        // Found outside the lock: finding builds schemas, which may take a while.
        let found: &'static ItemType = Box::leak(Box::new(ItemType::find(collection)));
        lock(&FOUND).entry(collection.to_string()).or_insert(found)
    }

    /// The item type from the resource's operations' answers: the one-item slot of a get,
    /// create, replace or update, else a list's items.
    fn find(collection: &str) -> ItemType {
        let mut found = ItemType {
            schema: None,
            holder: None,
        };
        let siblings = OPERATIONS
            .iter()
            .filter_map(|op| Some((classify(op)?, op)))
            .filter(|(bound, _)| bound.collection == collection);
        let mut by_action: BTreeMap<u8, (&'static SpecOperation, Slots)> = BTreeMap::new();
        for (bound, op) in siblings {
            let rank = match bound.action {
                Action::Get => 0,
                Action::Create => 1,
                Action::Replace => 2,
                Action::Update => 3,
                Action::List => 4,
                _ => continue,
            };
            if let Some(spec) = table::find(op.id) {
                by_action.insert(rank, (spec, slots(spec.response_schema())));
            }
        }
        for (spec, slots) in by_action.into_values() {
            if let (None, Some((name, schema))) = (&found.holder, &slots.item) {
                let answer = Fake::seeded(0, &[]).instance(spec.response_schema(), 0);
                found.holder = Some((spec, name.clone(), answer));
                found.schema = Some((schema.clone(), spec.response_schema()));
            }
            if let (None, Some((_, items))) = (&found.schema, &slots.list) {
                found.schema = Some((items.clone(), spec.response_schema()));
            }
        }
        found
    }

    /// A new item from a create or replace body: generated from the item's schema, the
    /// body's fields the item takes laid over it, a fresh id where the item has one.
    pub(crate) fn build(&self, fake: &mut Fake, body: &Value, known: &Known) -> Object {
        let mut item = match &self.schema {
            Some((schema, root)) => match fake.instance_in(schema, root) {
                Value::Object(item) => item,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        self.overlay(&mut item, body);
        if let Some((schema, root)) = &self.schema {
            let mut filled = Value::Object(item.clone());
            fill(&mut filled, schema, root, known);
            if let Value::Object(filled) = filled {
                item = filled;
            }
        }
        let keys = self.key_fields();
        for key in keys {
            item.insert((*key).into(), fake.id().into());
        }
        if !self.fits(&item) {
            // The body's fields made an item the spec does not allow: keep the generated one.
            let mut plain = self.build(fake, &Value::Null, &Known::default());
            plain.extend(item.into_iter().filter(|(k, _)| keys.contains(&k.as_str())));
            return plain;
        }
        item
    }

    /// Lays `body`'s fields over `item`, each only if the item's schema takes it (every
    /// field when the item's schema says nothing of its fields); the key fields stay.
    pub(crate) fn overlay(&self, item: &mut Object, body: &Value) {
        let Value::Object(fields) = body else { return };
        let properties = self.properties();
        for (name, value) in fields {
            if value.is_null() || self.key_fields().contains(&name.as_str()) {
                continue;
            }
            let takes = match (&properties, &self.schema) {
                (Some(properties), Some((_, root))) => {
                    properties.get(name).is_some_and(|p| takes(p, root, value))
                }
                _ => true,
            };
            if takes {
                item.insert(name.clone(), value.clone());
            }
        }
    }

    /// Whether a stored item still fits the answer that holds one (always, when no
    /// answer holds a single item).
    pub(crate) fn fits(&self, item: &Object) -> bool {
        let Some((spec, slot, answer)) = &self.holder else {
            return true;
        };
        let mut body = answer.clone();
        put(&mut body, slot, Value::Object(item.clone()));
        (spec.fits)(&body)
    }

    fn properties(&self) -> Option<&schemars::Map<String, Schema>> {
        let (schema, root) = self.schema.as_ref()?;
        let object = resolve(schema, root)?.object.as_ref()?;
        (!object.properties.is_empty()).then_some(&object.properties)
    }

    /// The id fields the item has (`id` when its schema says nothing of its fields).
    fn key_fields(&self) -> &'static [&'static str] {
        match self.properties() {
            None => &["id"],
            Some(p) => match (p.contains_key("id"), p.contains_key("_id")) {
                (true, true) => &["id", "_id"],
                (true, false) => &["id"],
                (false, true) => &["_id"],
                (false, false) => &[],
            },
        }
    }
}

/// Sets `body[field]` when `body` is an object.
pub(crate) fn put(body: &mut Value, field: &str, value: Value) {
    if let Value::Object(fields) = body {
        fields.insert(field.to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(id: &str) -> Option<Bound> {
        classify(OPERATIONS.iter().find(|o| o.id == id).unwrap())
    }

    #[test]
    fn public_and_secured_routes_of_a_resource_share_a_store() {
        assert_eq!(store_key("/feed-posts/{tenantId}"), "/feed-posts");
        assert_eq!(store_key("/api/v1/feed-posts"), "/feed-posts");
        assert_eq!(store_key("/api/v1/tenants"), "/tenants");
    }

    #[test]
    fn collections_and_items_are_found_in_the_paths() {
        let tenants = "/api/v1/tenants";
        let cases = [
            ("GetTenants", tenants, Action::List, None),
            ("CreateTenant", tenants, Action::Create, None),
            ("GetTenant", tenants, Action::Get, Some("id")),
            ("UpdateTenant", tenants, Action::Update, Some("id")),
            ("DeleteTenant", tenants, Action::Delete, Some("id")),
            (
                "ChangeTicketState",
                "/api/v1/tickets",
                Action::OnItem,
                Some("id"),
            ),
            (
                "PutDomainConfig",
                "/api/v1/domain-configs",
                Action::Replace,
                Some("domainToUpdate"),
            ),
            (
                "DeleteFeedPostPublic",
                "/feed-posts/{tenantId}",
                Action::Delete,
                Some("postId"),
            ),
        ];
        for (id, collection, action, item_param) in cases {
            assert_eq!(
                bound(id),
                Some(Bound {
                    collection,
                    action,
                    item_param
                }),
                "{id}"
            );
        }
        for id in ["GetUser", "GetPagesPublic", "GetOnlineUsers", "Aggregate"] {
            assert_eq!(bound(id), None, "{id}");
        }
    }

    #[test]
    fn items_are_named_by_id_or_by_the_parameter() {
        let item: Object =
            serde_json::from_value(serde_json::json!({"id": "a", "domain": "x.com"})).unwrap();
        assert!(is_named(&item, "id", "a"));
        assert!(is_named(&item, "domain", "x.com"));
        assert!(is_named(&item, "domainToUpdate", "x.com"));
        assert!(!is_named(&item, "domain", "a.com"));
    }
}
