//! Finds the list operations: every GET that returns one collection and takes `skip`,
//! `page`, `afterId` or `cursor`. Each gets a pagination stream and a generic handler in
//! the mock server.

use heck::{ToPascalCase, ToSnakeCase};
use serde_json::Value;

use crate::spec::{Operation, resolve};

/// How a list operation pages, as `fastcomments::pagination::PagingMode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `skip`: an offset in items.
    Skip,
    /// `page`: a page number.
    Page,
    /// `afterId`: the last item's id.
    AfterId,
    /// `cursor`: the previous page's `nextCursor`.
    Cursor,
}

impl Paging {
    /// The variant's name in `PagingMode`.
    pub fn name(self) -> &'static str {
        match self {
            Paging::Skip => "Skip",
            Paging::Page => "Page",
            Paging::AfterId => "AfterId",
            Paging::Cursor => "Cursor",
        }
    }

    fn parameter(self) -> &'static str {
        match self {
            Paging::Skip => "skip",
            Paging::Page => "page",
            Paging::AfterId => "afterId",
            Paging::Cursor => "cursor",
        }
    }
}

/// The Rust type typify gives a numeric parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// `integer` (`i32`).
    I32,
    /// `integer` with `format: int64`.
    I64,
    /// `number` (`f64`).
    F64,
}

impl Number {
    fn of(schema: &Value) -> Option<Number> {
        match (schema["type"].as_str(), schema["format"].as_str()) {
            (Some("integer"), Some("int64")) => Some(Number::I64),
            (Some("integer"), _) => Some(Number::I32),
            (Some("number"), _) => Some(Number::F64),
            _ => None,
        }
    }

    /// The Rust type's name.
    pub fn rust(self) -> &'static str {
        match self {
            Number::I32 => "i32",
            Number::I64 => "i64",
            Number::F64 => "f64",
        }
    }
}

/// One list operation, as the stream and the mock need it.
#[derive(Debug, Clone)]
pub struct ListOperation {
    /// The `operationId`.
    pub id: String,
    /// The path template.
    pub path: String,
    /// The response's Rust type, when the response is a component.
    pub response_type: Option<String>,
    /// The paging modes, the default first.
    pub modes: Vec<Paging>,
    /// The Rust types of `skip` and `page`, when taken.
    pub skip_type: Option<Number>,
    /// See `skip_type`.
    pub page_type: Option<Number>,
    /// The page-size parameter (`limit`, `pageSize`, `count`) and its type.
    pub size: Option<(String, Number)>,
    /// The response field holding the items.
    pub items_field: String,
    /// Whether that field is required (a plain `Vec`, not an `Option`).
    pub items_required: bool,
    /// The items' Rust type.
    pub item_type: String,
    /// Whether items have an `id` (`_id` in the spec): `Some(required)`.
    pub item_id: Option<bool>,
    /// `hasMore` in the response: `Some(required)`.
    pub has_more: Option<bool>,
    /// `nextCursor` in the response: `Some(required)`.
    pub next_cursor: Option<bool>,
}

impl ListOperation {
    /// The builder type progenitor generates for it.
    pub fn builder_name(&self) -> String {
        self.id.to_pascal_case()
    }

    /// The builder setter of the page-size parameter.
    pub fn size_setter(&self) -> Option<String> {
        self.size.as_ref().map(|(name, _)| name.to_snake_case())
    }
}

/// The list operations among `operations` of the (rewritten) `spec`, sorted by id.
pub fn find(spec: &Value, operations: &[Operation<'_>]) -> Vec<ListOperation> {
    let mut out: Vec<ListOperation> = operations
        .iter()
        .filter(|op| op.method == "GET")
        .filter_map(|op| list_operation(spec, op))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn list_operation(spec: &Value, op: &Operation<'_>) -> Option<ListOperation> {
    let modes: Vec<Paging> = [Paging::Skip, Paging::Page, Paging::AfterId, Paging::Cursor]
        .into_iter()
        .filter(|m| op.parameter(m.parameter()).is_some())
        .collect();
    if modes.is_empty() {
        return None;
    }
    let (response, response_name) = resolve(spec, op.success_schema());
    let properties = response["properties"].as_object()?;
    // Required and not nullable: typify makes it a plain value, not an Option.
    let required = |name: &str| {
        response["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == name))
            && properties.get(name).is_none_or(|p| p["nullable"] != true)
    };
    let arrays: Vec<(&String, &Value)> = properties
        .iter()
        .filter(|(_, v)| v["type"] == "array")
        .collect();
    let [(field, array)] = arrays.as_slice() else {
        return None;
    };
    let (item_schema, item_name) = resolve(spec, &array["items"]);
    let item_name = item_name?;
    let item_props = item_schema["properties"].as_object();
    let item_id = ["id", "_id"]
        .into_iter()
        .find(|k| item_props.is_some_and(|p| p.contains_key(*k)))
        .map(|k| {
            item_schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == k))
        });
    if modes.contains(&Paging::AfterId) && item_id.is_none() {
        return None;
    }
    let number = |name: &str| op.parameter(name).and_then(|p| Number::of(&p["schema"]));
    Some(ListOperation {
        id: op.id.to_string(),
        path: op.path.to_string(),
        response_type: response_name.map(|n| n.to_pascal_case()),
        skip_type: number("skip"),
        page_type: number("page"),
        size: ["limit", "pageSize", "count"]
            .into_iter()
            .find_map(|n| number(n).map(|t| (n.to_string(), t))),
        items_field: field.to_string(),
        items_required: required(field),
        item_type: item_name.to_pascal_case(),
        item_id,
        has_more: properties
            .contains_key("hasMore")
            .then(|| required("hasMore")),
        next_cursor: properties
            .contains_key("nextCursor")
            .then(|| required("nextCursor")),
        modes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::operations;
    use serde_json::json;

    #[test]
    fn a_paged_get_returning_one_collection_is_a_list() {
        let spec = json!({
            "paths": {"/items": {"get": {"operationId": "GetItems", "security": [{"api_key": []}],
                "parameters": [{"name": "skip", "in": "query", "schema": {"type": "number"}},
                               {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                               {"name": "tenantId", "in": "query"}],
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Items"}}}}}}},
                "/one": {"get": {"operationId": "GetOne",
                "parameters": [{"name": "skip", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"type": "object",
                    "properties": {"a": {"type": "array"}, "b": {"type": "array"}}}}}}}}}},
            "components": {"schemas": {
                "Items": {"type": "object", "required": ["items"],
                          "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                                         "hasMore": {"type": "boolean"}}},
                "Item": {"type": "object", "required": ["_id"], "properties": {"_id": {"type": "string"}}}
            }}
        });
        let ops = operations(&spec).unwrap();
        let lists = find(&spec, &ops);
        assert_eq!(lists.len(), 1, "two arrays: not one collection");
        let list = &lists[0];
        assert_eq!(list.modes, [Paging::Skip]);
        assert_eq!(list.skip_type, Some(Number::F64));
        assert_eq!(list.size, Some(("limit".into(), Number::I32)));
        assert_eq!(
            (list.item_type.as_str(), list.item_id),
            ("Item", Some(true))
        );
        assert_eq!((list.has_more, list.next_cursor), (Some(false), None));
        assert_eq!(list.response_type.as_deref(), Some("Items"));
    }
}
