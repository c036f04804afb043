//! The spec walked once: every operation with what the facade needs to know of it.
//!
//! `build.rs` (through [`crate::generate`]), `xtask` and the crate's tests all read
//! operations through [`operations`], so they cannot disagree about, say, global
//! `security`.

use serde_json::{Map, Value};

/// The HTTP methods an OpenAPI path item can hold, lower case as in the spec.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Where an operation takes `tenantId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantId {
    /// It takes none.
    None,
    /// As a query parameter.
    Query,
    /// As a path segment.
    Path,
}

/// One operation of the spec, borrowed from it.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    /// The `operationId`.
    pub id: &'a str,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template.
    pub path: &'a str,
    /// Whether the operation's security (or the spec's global one) names `api_key`.
    pub requires_api_key: bool,
    /// Where it takes `tenantId`.
    pub tenant_id: TenantId,
    /// The first line of its summary or description.
    pub summary: &'a str,
    /// The operation object itself.
    pub raw: &'a Map<String, Value>,
}

impl Operation<'_> {
    /// The method name progenitor gives the operation (typify's snake case, which is
    /// heck's for the alphanumeric ids of this spec).
    pub fn method_name(&self) -> String {
        heck::ToSnakeCase::to_snake_case(self.id)
    }

    /// The builder type progenitor generates for the operation.
    pub fn builder_name(&self) -> String {
        heck::ToPascalCase::to_pascal_case(self.id)
    }

    /// The group the operation belongs to: its first tag (`Public`, `Moderation`), or
    /// for an untagged one its resource, the first path segment after `/api/v1/`
    /// (`comments`, `sso-users`), else the path's first segment.
    pub fn group(&self) -> String {
        if let Some(tag) = self
            .raw
            .get("tags")
            .and_then(Value::as_array)
            .and_then(|tags| tags.first())
            .and_then(Value::as_str)
        {
            return tag.to_owned();
        }
        let path = self.path.strip_prefix("/api/v1/").unwrap_or(self.path);
        path.trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// The operation's parameters.
    pub fn parameters(&self) -> impl Iterator<Item = &Value> {
        self.raw
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }

    /// The parameter called `name`, if the operation takes it.
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.parameters().find(|p| p["name"] == name)
    }

    /// The schema of the `200` JSON response, or `Null`.
    pub fn success_schema(&self) -> &Value {
        self.raw
            .get("responses")
            .and_then(|r| r.pointer("/200/content/application~1json/schema"))
            .unwrap_or(&Value::Null)
    }
}

/// Every operation of `spec`, sorted by `operationId`.
///
/// Fails on what no client could be generated from: an operation without an
/// `operationId`, the same id twice, `tenantId` anywhere but the query or the path.
pub fn operations(spec: &Value) -> Result<Vec<Operation<'_>>, String> {
    let global_security = spec.get("security");
    let mut out = Vec::new();
    for (path, method, op) in raw_operations(spec) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{} {path} has no operationId", method.to_uppercase()))?;
        let requires_api_key = op
            .get("security")
            .or(global_security)
            .and_then(Value::as_array)
            .is_some_and(|reqs| reqs.iter().any(|r| r.get("api_key").is_some()));
        let mut operation = Operation {
            id,
            method: method.to_uppercase(),
            path,
            requires_api_key,
            tenant_id: TenantId::None,
            summary: "",
            raw: op,
        };
        operation.tenant_id = match operation.parameter("tenantId").map(|p| &p["in"]) {
            None => TenantId::None,
            Some(v) if v == "query" => TenantId::Query,
            Some(v) if v == "path" => TenantId::Path,
            Some(other) => return Err(format!("{id}: tenantId in {other} is not supported")),
        };
        operation.summary = op
            .get("summary")
            .or_else(|| op.get("description"))
            .and_then(Value::as_str)
            .and_then(|s| s.lines().next())
            .unwrap_or("");
        out.push(operation);
    }
    out.sort_by(|a, b| a.id.cmp(b.id));
    if let Some(pair) = out.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(format!("operationId {} appears twice", pair[0].id));
    }
    Ok(out)
}

/// `(path, method, operation)` for every operation object, in the spec's order.
pub fn raw_operations(spec: &Value) -> impl Iterator<Item = (&str, &str, &Map<String, Value>)> {
    spec.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            METHODS.into_iter().filter_map(move |m| {
                item.get(m)
                    .and_then(Value::as_object)
                    .map(|op| (path.as_str(), m, op))
            })
        })
}

/// Calls `f` on every operation object, mutably.
pub fn for_each_operation_mut(spec: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, op) in item.iter_mut() {
            if let (true, Some(op)) = (METHODS.contains(&method.as_str()), op.as_object_mut()) {
                f(op);
            }
        }
    }
}

/// The component schemas, by name.
pub fn components(spec: &Value) -> Option<&Map<String, Value>> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
}

/// Follows `$ref`s from `schema` to the schema itself; also returns the first component
/// name followed: the type a field or response of this schema has (typify makes every
/// alias in a chain a newtype of the next, so `A -> B -> {..}` is held as `A`). A
/// dangling or cyclic reference resolves to `Null`.
pub fn resolve<'a>(spec: &'a Value, mut schema: &'a Value) -> (&'a Value, Option<&'a str>) {
    let mut name = None;
    for _ in 0..64 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return (schema, name);
        };
        let component = reference.trim_start_matches("#/components/schemas/");
        name = name.or(Some(component));
        schema = components(spec)
            .and_then(|c| c.get(component))
            .unwrap_or(&Value::Null);
    }
    (&Value::Null, name)
}

/// Calls `f` on every JSON object of `value`, parents before children.
pub fn visit_objects(value: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            map.values().for_each(|v| visit_objects(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| visit_objects(v, f)),
        _ => {}
    }
}

/// Calls `f` on every JSON object of `value`, parents before children.
pub fn visit_objects_mut(value: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            map.values_mut().for_each(|v| visit_objects_mut(v, f));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| visit_objects_mut(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "security": [{"api_key": []}],
            "paths": {
                "/a/{tenantId}": {
                    "get": {"operationId": "GetA", "summary": "Gets A.\nMore.", "security": [],
                            "parameters": [{"name": "tenantId", "in": "path"}]},
                    "parameters": []
                },
                "/b": {
                    "post": {"operationId": "PostB", "parameters": [{"name": "tenantId", "in": "query"}]},
                    "delete": {"operationId": "DeleteB"}
                }
            }
        })
    }

    #[test]
    fn operations_resolve_global_security_and_tenant_placement() {
        let spec = spec();
        let ops = operations(&spec).unwrap();
        let view: Vec<(&str, &str, bool, TenantId, &str)> = ops
            .iter()
            .map(|o| {
                (
                    o.id,
                    o.method.as_str(),
                    o.requires_api_key,
                    o.tenant_id,
                    o.summary,
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("DeleteB", "DELETE", true, TenantId::None, ""),
                ("GetA", "GET", false, TenantId::Path, "Gets A."),
                ("PostB", "POST", true, TenantId::Query, ""),
            ]
        );
        assert_eq!(ops[1].method_name(), "get_a");
    }

    #[test]
    fn missing_and_duplicate_ids_and_header_tenants_are_refused() {
        let no_id = json!({"paths": {"/x": {"get": {}}}});
        assert!(operations(&no_id).unwrap_err().contains("GET /x"));
        let twice =
            json!({"paths": {"/x": {"get": {"operationId": "X"}, "put": {"operationId": "X"}}}});
        assert!(operations(&twice).unwrap_err().contains("twice"));
        let header = json!({"paths": {"/x": {"get": {"operationId": "X",
            "parameters": [{"name": "tenantId", "in": "header"}]}}}});
        assert!(operations(&header).unwrap_err().contains("tenantId"));
    }

    #[test]
    fn resolve_follows_chains_and_survives_cycles() {
        let spec = json!({"components": {"schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"type": "string"},
            "C": {"$ref": "#/components/schemas/C"}
        }}});
        let a = json!({"$ref": "#/components/schemas/A"});
        assert_eq!(resolve(&spec, &a), (&json!({"type": "string"}), Some("A")));
        let c = json!({"$ref": "#/components/schemas/C"});
        assert_eq!(resolve(&spec, &c).0, &Value::Null);
    }
}
