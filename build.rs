//! Generates the low-level client from `openapi.json` into `OUT_DIR`.
//!
//! Two files come out:
//! - `progenitor.rs`: the client progenitor generates (Builder interface, merged tags,
//!   hooks expected from the facade, `schemars::JsonSchema` derived on every type);
//! - `operations.rs`: what the facade must know per operation of the *original* spec
//!   (API key or not, where `tenantId` goes, generated or written by hand), plus one
//!   tenant-scoped builder method per generated operation on `crate::Client`.
//!
//! Progenitor cannot take the spec as published. Before generation the spec is
//! rewritten in memory by the `rewrite_*` functions below, each named for what it does and
//! documenting what progenitor does wrong without it and what the rewrite loses. All
//! rewrites are deterministic: same spec in, same code out.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use heck::ToSnakeCase;
use serde_json::{Map, Value};

const SPEC: &str = "openapi.json";

/// Operations removed from the spec before generation, and the hand-written facade
/// method that replaces each one.
const HAND_WRITTEN: &[(&str, &str)] = &[("UploadImage", "Client::upload_image")];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");

    let text = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let mut spec: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SPEC} is not JSON: {e}"));

    let operations = collect_operations(&spec);
    let removed = rewrite_remove_multipart_operations(&mut spec);
    rewrite_unique_titles(&mut spec);
    rewrite_allow_unknown_fields(&mut spec);
    rewrite_merge_contradictory_all_of(&mut spec);
    rewrite_string_enum_any_of_as_one_enum(&mut spec);
    rewrite_default_response_as_error_ranges(&mut spec);

    let lists = list_operations(&spec);
    let code = generate(spec);
    assert_no_uninhabited_types(&code);

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    write_if_changed(&out.join("progenitor.rs"), &code);
    write_if_changed(
        &out.join("operations.rs"),
        &operations_table(&operations, &removed),
    );
    write_if_changed(&out.join("pagination.rs"), &pagination_impls(&lists));
    write_if_changed(&out.join("mock_lists.rs"), &mock_list_table(&lists));
    write_if_changed(
        &out.join("operations.json"),
        &operations_manifest(&operations, &removed),
    );
}

/// Where an operation takes `tenantId`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TenantId {
    None,
    Query,
    Path,
}

struct Operation {
    id: String,
    method: String,
    path: String,
    api_key: bool,
    tenant_id: TenantId,
    summary: String,
}

impl Operation {
    /// The name progenitor gives the client method (typify's `sanitize(.., Snake)`,
    /// which is heck's snake case for the alphanumeric ids of this spec).
    fn method_name(&self) -> String {
        self.id.to_snake_case()
    }
}

fn operations_of(spec: &Value) -> impl Iterator<Item = (&str, &str, &Map<String, Value>)> {
    spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |m| {
                item.get(*m)
                    .and_then(Value::as_object)
                    .map(|op| (path.as_str(), *m, op))
            })
        })
}

/// Reads, from the spec as published, what the facade needs per operation.
fn collect_operations(spec: &Value) -> Vec<Operation> {
    let global_security = spec.get("security");
    let mut ops: Vec<Operation> = operations_of(spec)
        .map(|(path, method, op)| {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_string();
            let security = op.get("security").or(global_security);
            let api_key = security
                .and_then(Value::as_array)
                .is_some_and(|reqs| reqs.iter().any(|r| r.get("api_key").is_some()));
            let tenant_id = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "tenantId")
                .map_or(TenantId::None, |p| match p["in"].as_str() {
                    Some("path") => TenantId::Path,
                    Some("query") => TenantId::Query,
                    other => panic!("{id}: tenantId in {other:?} is not supported"),
                });
            let summary = op
                .get("summary")
                .or_else(|| op.get("description"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            Operation {
                id,
                method: method.to_uppercase(),
                path: path.to_string(),
                api_key,
                tenant_id,
                summary,
            }
        })
        .collect();
    ops.sort_by(|a, b| a.id.cmp(&b.id));
    ops
}

/// Removes every operation with a `multipart/form-data` request body.
///
/// Without it progenitor refuses the whole spec ("unexpected content type:
/// multipart/form-data"). Lost: those operations from the generated client; each must be
/// listed in `HAND_WRITTEN` and written by hand in the facade, or the build fails here.
fn rewrite_remove_multipart_operations(spec: &mut Value) -> BTreeSet<String> {
    let mut removed = BTreeSet::new();
    let Some(paths) = spec["paths"].as_object_mut() else {
        return removed;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        item.retain(|method, op| {
            let multipart = METHODS.contains(&method.as_str())
                && op["requestBody"]["content"]
                    .as_object()
                    .is_some_and(|c| c.keys().any(|k| k.starts_with("multipart/")));
            if multipart {
                let id = op["operationId"].as_str().unwrap_or("?").to_string();
                assert!(
                    HAND_WRITTEN.iter().any(|(h, _)| *h == id),
                    "operation {id} has a multipart body progenitor cannot generate: write it \
                     by hand in the facade and list it in HAND_WRITTEN in build.rs"
                );
                removed.insert(id);
            }
            !multipart
        });
    }
    paths.retain(|_, item| {
        item.as_object()
            .is_some_and(|i| i.keys().any(|k| METHODS.contains(&k.as_str())))
    });
    removed
}

/// Makes every inline schema `title` unique and distinct from every component name,
/// compared the way typify names types (case and punctuation folded).
///
/// Without it typify reuses an existing type for an inline schema whose title names it,
/// without checking the shape: the method silently returns the wrong type. Lost: the
/// colliding inline types get a numbered name (`<Title>Inline<N>`).
fn rewrite_unique_titles(spec: &mut Value) {
    fn fold(name: &str) -> String {
        name.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }
    fn walk(v: &mut Value, taken: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(title)) = map.get_mut("title") {
                    let mut candidate = title.clone();
                    let mut n = 1;
                    while !taken.insert(fold(&candidate)) {
                        n += 1;
                        candidate = format!("{title}Inline{n}");
                    }
                    *title = candidate;
                }
                for (key, child) in map.iter_mut() {
                    if key == "properties" {
                        // Property names are not schemas: walk their values only.
                        if let Value::Object(props) = child {
                            props.values_mut().for_each(|p| walk(p, taken));
                        }
                    } else {
                        walk(child, taken);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, taken)),
            _ => {}
        }
    }
    let mut taken: BTreeSet<String> = spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| fold(name))
        .collect();
    walk(&mut spec["paths"], &mut taken);
    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            // A component's own title names the component itself: only its inner
            // schemas can collide.
            if let Some(map) = schema.as_object_mut() {
                map.remove("title");
                for child in map.values_mut() {
                    walk(child, &mut taken);
                }
            }
        }
    }
}

/// Removes `additionalProperties: false` everywhere.
///
/// Without it typify emits `#[serde(deny_unknown_fields)]` on ~200 types: one new field
/// added by FastComments would break every deployed client. Lost: nothing a client
/// needs; unknown fields are ignored on decode.
fn rewrite_allow_unknown_fields(spec: &mut Value) {
    match spec {
        Value::Object(map) => {
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            map.values_mut().for_each(rewrite_allow_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_allow_unknown_fields),
        _ => {}
    }
}

/// Merges an `allOf` whose parts define the same property differently into one object,
/// later parts winning.
///
/// tsoa writes TypeScript's `Omit<A, k> & B` as `allOf [A, B]` where `B` redefines a
/// property of `A` (e.g. `APIComment.date`: a nullable date-time string in
/// `APICommentBase`, a number in the second part). typify intersects the two, finds no
/// value satisfies both and emits an uninhabited `enum ApiComment {}` that can never
/// deserialize. Lost: the `allOf` structure (the merged type no longer converts
/// from/into the base type); the wire format is what the server sends (later part).
fn rewrite_merge_contradictory_all_of(spec: &mut Value) {
    let components = spec["components"]["schemas"].clone();
    let resolve = |part: &Value| -> Value {
        match part.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                components.get(name).cloned().unwrap_or(Value::Null)
            }
            None => part.clone(),
        }
    };
    fn walk(v: &mut Value, resolve: &dyn Fn(&Value) -> Value) {
        match v {
            Value::Object(map) => {
                if let Some(merged) = map
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|parts| merge_if_contradictory(parts, resolve))
                {
                    map.remove("allOf");
                    for (k, val) in merged {
                        map.entry(k).or_insert(val);
                    }
                }
                map.values_mut().for_each(|c| walk(c, resolve));
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, resolve)),
            _ => {}
        }
    }
    walk(spec, &resolve);
}

fn merge_if_contradictory(
    parts: &[Value],
    resolve: &dyn Fn(&Value) -> Value,
) -> Option<Map<String, Value>> {
    let resolved: Vec<Value> = parts.iter().map(resolve).collect();
    if resolved.len() < 2 || resolved.iter().any(|p| p.get("properties").is_none()) {
        return None;
    }
    let mut properties = Map::new();
    let mut required = BTreeSet::new();
    let mut additional = None;
    let mut contradictory = false;
    for part in &resolved {
        for (name, schema) in part["properties"].as_object().into_iter().flatten() {
            // Two parts typing one property differently, or a property beside a
            // record part whose value type it would have to satisfy as well.
            if properties.get(name).is_some_and(|prev| prev != schema) || additional.is_some() {
                contradictory = true;
            }
            properties.insert(name.clone(), schema.clone());
        }
        for name in part["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                required.insert(name.to_string());
            }
        }
        if let Some(record) = part.get("additionalProperties").filter(|a| a.is_object()) {
            contradictory |= !properties.is_empty();
            additional = Some(record.clone());
        }
    }
    if !contradictory {
        return None;
    }
    let mut merged = Map::new();
    merged.insert("type".into(), "object".into());
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert(
        "required".into(),
        Value::Array(required.into_iter().map(Value::String).collect()),
    );
    if let Some(record) = additional {
        merged.insert("additionalProperties".into(), record);
    }
    Some(merged)
}

/// Replaces an `anyOf` whose members are all string enums by one string enum holding
/// every value.
///
/// typify renders such an `anyOf` (e.g. `VoteResponse.status`: `APIStatus` or
/// `"pending-verification"`) as a struct of flattened optional members, which no JSON
/// string can deserialize into: every `CreateVote` answer would fail to decode. Lost:
/// the names of the member enums for that field (the union gets its own type).
fn rewrite_string_enum_any_of_as_one_enum(spec: &mut Value) {
    let components = spec["components"]["schemas"].clone();
    let string_enum_values = |part: &Value| -> Option<Vec<Value>> {
        let mut schema = part;
        while let Some(name) = schema.get("$ref").and_then(Value::as_str) {
            schema = components.get(name.trim_start_matches("#/components/schemas/"))?;
        }
        (schema["type"] == "string").then(|| schema["enum"].as_array().cloned())?
    };
    fn walk(v: &mut Value, values_of: &dyn Fn(&Value) -> Option<Vec<Value>>) {
        match v {
            Value::Object(map) => {
                let union = map
                    .get("anyOf")
                    .and_then(Value::as_array)
                    .and_then(|parts| {
                        let lists: Option<Vec<Vec<Value>>> = parts.iter().map(values_of).collect();
                        let mut all: Vec<Value> = lists?.into_iter().flatten().collect();
                        all.dedup();
                        Some(all)
                    });
                if let Some(values) = union {
                    map.remove("anyOf");
                    map.insert("type".into(), "string".into());
                    map.insert("enum".into(), Value::Array(values));
                }
                map.values_mut().for_each(|c| walk(c, values_of));
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, values_of)),
            _ => {}
        }
    }
    walk(spec, &string_enum_values);
}

/// Replaces each operation's `default` response by `4XX` and `5XX` responses of the
/// same schema, folding in specific error codes that answer that same schema.
///
/// Progenitor counts `default` among the success responses and asserts that all of them
/// share one type (`response_types.len() <= 1`): every `200: X` + `default: APIError`
/// operation of this spec makes it panic. Lost: nothing at run time; the facade turns
/// every non-2xx answer and every `status: "failed"` body into `crate::Error` before the
/// generated code decodes anything, so `default` only ever named the error type.
fn rewrite_default_response_as_error_ranges(spec: &mut Value) {
    for item in spec["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(responses) = op["responses"].as_object_mut() else {
                continue;
            };
            if let Some(default) = responses.remove("default") {
                // Specific error codes answering the same schema are folded into the
                // ranges; left beside them they would be unreachable match arms.
                responses.retain(|code, r| {
                    !(code.starts_with('4') || code.starts_with('5'))
                        || r.get("content") != default.get("content")
                });
                for range in ["4XX", "5XX"] {
                    responses.entry(range).or_insert_with(|| default.clone());
                }
            }
        }
    }
}

fn generate(spec: Value) -> String {
    let spec: openapiv3::OpenAPI =
        serde_json::from_value(spec).unwrap_or_else(|e| panic!("{SPEC} is not OpenAPI 3: {e}"));
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(quote::quote!(crate::client::Inner))
        .with_derive("schemars::JsonSchema");
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor failed on the rewritten {SPEC}: {e}"));
    let file: syn::File =
        syn::parse2(raw_reserved_idents(tokens)).expect("progenitor emitted invalid Rust");
    prettyplease::unparse(&file)
}

/// Escapes identifiers reserved since edition 2024 (`gen`, in typify's `JsonSchema`
/// impls) as raw identifiers, so the generated code compiles in this edition-2024 crate.
fn raw_reserved_idents(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, Ident, TokenTree};
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "gen" => {
                TokenTree::Ident(Ident::new_raw("gen", ident.span()))
            }
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), raw_reserved_idents(group.stream()));
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

/// Fails the build if typify produced a type no value can inhabit (`enum X {}`): that
/// type would fail to decode every response at run time, so better to stop here and add
/// a rewrite.
fn assert_no_uninhabited_types(code: &str) {
    let empty: Vec<&str> = code
        .lines()
        .filter(|l| l.trim_start().starts_with("pub enum ") && l.trim_end().ends_with("{}"))
        .collect();
    assert!(
        empty.is_empty(),
        "generation produced uninhabited types (a contradictory allOf?): {empty:?}"
    );
}

fn operations_table(ops: &[Operation], removed: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "// @generated by build.rs from openapi.json: the facade's view of every operation.\n\n",
    );
    out.push_str("/// Every operation of `openapi.json`, sorted by operation id.\n");
    out.push_str("pub static OPERATIONS: &[Operation] = &[\n");
    for op in ops {
        let tenant = match op.tenant_id {
            TenantId::None => "None",
            TenantId::Query => "Query",
            TenantId::Path => "Path",
        };
        let implementation = if removed.contains(&op.id) {
            let method = HAND_WRITTEN
                .iter()
                .find(|(h, _)| *h == op.id)
                .expect("listed")
                .1;
            format!("Implementation::HandWritten({method:?})")
        } else {
            "Implementation::Generated".to_string()
        };
        writeln!(
            out,
            "    Operation {{ id: {:?}, method_name: {:?}, method: {:?}, path: {:?}, \
             requires_api_key: {}, tenant_id: TenantIdIn::{tenant}, implementation: {implementation} }},",
            op.id,
            op.method_name(),
            op.method,
            op.path,
            op.api_key,
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    out.push_str(
        "/// Looks up an operation by the method name progenitor gives it (the\n\
         /// `operation_id` of `progenitor_client::OperationInfo`).\n\
         pub fn by_method_name(name: &str) -> Option<&'static Operation> {\n    \
         let index = match name {\n",
    );
    for (i, op) in ops.iter().enumerate() {
        writeln!(out, "        {:?} => {i},", op.method_name()).unwrap();
    }
    out.push_str("        _ => return None,\n    };\n    Some(&OPERATIONS[index])\n}\n\n");

    out.push_str(&tenant_scoped_methods(ops, removed));
    out
}

/// One method per generated operation on the facade `Client`, returning progenitor's
/// builder with `tenantId` preset from the client (a setter call on the builder
/// overrides it per call).
fn tenant_scoped_methods(ops: &[Operation], removed: &BTreeSet<String>) -> String {
    let mut out = String::from("impl crate::Client {\n");
    for op in ops.iter().filter(|op| !removed.contains(&op.id)) {
        let name = op.method_name();
        let builder = heck::ToPascalCase::to_pascal_case(op.id.as_str());
        let key = if op.api_key {
            "Sends the API key."
        } else {
            "Public: the API key is never sent."
        };
        let tenant = match op.tenant_id {
            TenantId::None => "",
            _ => " `tenantId` is preset from the client; call `.tenant_id(..)` to override.",
        };
        let summary = op.summary.replace('[', "\\[").replace(']', "\\]");
        let _ = writeln!(
            out,
            "    /// `{} {}` ({}). {summary}",
            op.method, op.path, op.id
        );
        let _ = writeln!(out, "    ///\n    /// {key}{tenant}");
        let _ = writeln!(
            out,
            "    pub fn {name}(&self) -> crate::generated::builder::{builder}<'_> {{"
        );
        match op.tenant_id {
            TenantId::None => {
                let _ = writeln!(out, "        self.raw().{name}()");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "        let builder = self.raw().{name}();\n        \
                     match self.tenant_id() {{ Some(t) => builder.tenant_id(t), None => builder }}"
                );
            }
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}

/// The operations and how each is reached, for `cargo xtask spec --check`.
fn operations_manifest(ops: &[Operation], removed: &BTreeSet<String>) -> String {
    let entries: Vec<Value> = ops
        .iter()
        .map(|op| {
            let how = if removed.contains(&op.id) {
                "hand-written"
            } else {
                "generated"
            };
            serde_json::json!({ "operationId": op.id, "implementation": how })
        })
        .collect();
    serde_json::to_string_pretty(&entries).expect("JSON")
}

/// How a list operation pages, as `crate::pagination::PagingMode` names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    Skip,
    Page,
    AfterId,
    Cursor,
}

impl Paging {
    fn name(self) -> &'static str {
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

/// A parameter's Rust type as typify spells it, for the casts in generated code.
fn rust_number_type(schema: &Value) -> Option<&'static str> {
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), Some("int64")) => Some("i64"),
        (Some("integer"), _) => Some("i32"),
        (Some("number"), _) => Some("f64"),
        _ => None,
    }
}

/// A GET operation that returns one collection and takes `skip`, `page`, `afterId` or
/// `cursor`: it gets a stream (`crate::pagination`).
struct ListOperation {
    id: String,
    path: String,
    /// Whether the API key is required (otherwise a public operation).
    api_key: bool,
    /// Whether `tenantId` is in the path.
    tenant_in_path: bool,
    /// Whether the operation takes a tenant at all (the moderation API does not).
    has_tenant: bool,
    /// The response's component type, when the response is a `$ref`.
    response_type: Option<String>,
    /// The paging modes it supports, the default first.
    modes: Vec<Paging>,
    /// The Rust type of `skip` / `page`, when taken.
    skip_type: Option<&'static str>,
    page_type: Option<&'static str>,
    /// The page-size parameter (`limit`, `pageSize`, `count`) and its Rust type.
    size: Option<(String, &'static str)>,
    /// The response field holding the items, whether it is required, the item type.
    items_field: String,
    items_required: bool,
    item_type: String,
    /// Whether items have a required `id` (`_id` in the spec).
    item_id: Option<bool>,
    /// `hasMore` / `nextCursor` in the response: whether required.
    has_more: Option<bool>,
    next_cursor: Option<bool>,
}

/// Finds the list operations in the (rewritten) spec.
fn list_operations(spec: &Value) -> Vec<ListOperation> {
    let components = &spec["components"]["schemas"];
    let resolve = |schema: &Value| -> (Value, Option<String>) {
        let mut schema = schema.clone();
        let mut name = None;
        while let Some(r) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            let n = r.trim_start_matches("#/components/schemas/").to_string();
            schema = components[&n].clone();
            name = Some(n);
        }
        (schema, name)
    };
    let mut out: Vec<ListOperation> = operations_of(spec)
        .filter(|(_, method, _)| *method == "get")
        .filter_map(|(path, _, op)| {
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            let param = |name: &str| params.iter().find(|p| p["name"] == name).copied();
            let modes: Vec<Paging> = [Paging::Skip, Paging::Page, Paging::AfterId, Paging::Cursor]
                .into_iter()
                .filter(|m| param(m.parameter()).is_some())
                .collect();
            if modes.is_empty() {
                return None;
            }
            let (response, response_name) =
                resolve(&op["responses"]["200"]["content"]["application/json"]["schema"]);
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
            let (item_schema, item_name) = resolve(&array["items"]);
            let item_name = item_name?;
            let item_props = item_schema["properties"].as_object();
            let item_id_key = ["id", "_id"]
                .into_iter()
                .find(|k| item_props.is_some_and(|p| p.contains_key(*k)));
            let item_id = item_id_key.map(|k| {
                item_schema["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == k))
            });
            if modes.contains(&Paging::AfterId) && item_id.is_none() {
                return None;
            }
            let number = |name: &str| param(name).and_then(|p| rust_number_type(&p["schema"]));
            let size = ["limit", "pageSize", "count"]
                .into_iter()
                .find_map(|n| number(n).map(|t| (n.to_string(), t)));
            Some(ListOperation {
                id: op["operationId"].as_str()?.to_string(),
                path: path.to_string(),
                api_key: op["security"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|s| s.get("api_key").is_some())),
                tenant_in_path: param("tenantId").is_some_and(|p| p["in"] == "path"),
                has_tenant: param("tenantId").is_some(),
                response_type: response_name
                    .map(|n| heck::ToPascalCase::to_pascal_case(n.as_str())),
                skip_type: number("skip"),
                page_type: number("page"),
                size,
                items_field: field.to_string(),
                items_required: required(field),
                item_type: heck::ToPascalCase::to_pascal_case(item_name.as_str()),
                item_id,
                has_more: properties
                    .contains_key("hasMore")
                    .then(|| required("hasMore")),
                next_cursor: properties
                    .contains_key("nextCursor")
                    .then(|| required("nextCursor")),
                modes,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// A `Paginated` impl per list operation, and the table of them.
fn pagination_impls(lists: &[ListOperation]) -> String {
    let mut out = String::from(
        "// @generated by build.rs from openapi.json: one `Paginated` impl per list operation.\n\n",
    );
    out.push_str(
        "/// Every operation with a stream, and the paging modes it supports (default first).\n",
    );
    out.push_str("pub static LIST_OPERATIONS: &[(&str, &[PagingMode])] = &[\n");
    for op in lists {
        let modes: Vec<String> = op
            .modes
            .iter()
            .map(|m| format!("PagingMode::{}", m.name()))
            .collect();
        let _ = writeln!(out, "    ({:?}, &[{}]),", op.id, modes.join(", "));
    }
    out.push_str("];\n\n");
    for op in lists {
        out.push_str(&pagination_impl(op));
    }
    out
}

fn pagination_impl(op: &ListOperation) -> String {
    let builder = heck::ToPascalCase::to_pascal_case(op.id.as_str());
    let modes: Vec<String> = op
        .modes
        .iter()
        .map(|m| format!("PagingMode::{}", m.name()))
        .collect();
    let mut at = String::from("        let builder = match position {\n");
    for mode in &op.modes {
        let arm = match mode {
            Paging::Skip => format!(
                "            Position::Offset(n) => self.skip(*n as {}),\n",
                op.skip_type.unwrap_or("i32")
            ),
            Paging::Page => format!(
                "            Position::Page(n) => self.page(*n as {}),\n",
                op.page_type.unwrap_or("i32")
            ),
            Paging::AfterId => {
                "            Position::AfterId(id) => self.after_id(id.clone()),\n".into()
            }
            Paging::Cursor => "            Position::Cursor(c) => self.cursor(c.clone()),\n".into(),
        };
        at.push_str(&arm);
    }
    at.push_str("            _ => self,\n        };\n");
    match &op.size {
        Some((name, ty)) => {
            let setter = name.to_snake_case();
            let _ = writeln!(
                at,
                "        match page_size {{ Some(n) => builder.{setter}(n as {ty}), None => builder }}"
            );
        }
        None => at.push_str("        let _ = page_size;\n        builder\n"),
    }
    let field = op.items_field.to_snake_case();
    let items = if op.items_required {
        format!("response.{field}")
    } else {
        format!("response.{field}.unwrap_or_default()")
    };
    let has_more = match op.has_more {
        Some(true) => "Some(response.has_more)",
        Some(false) => "response.has_more",
        None => "None",
    };
    let next_cursor = match op.next_cursor {
        Some(true) => "Some(response.next_cursor.clone())",
        Some(false) => "response.next_cursor.clone()",
        None => "None",
    };
    let item_id = match op.item_id {
        Some(true) => "Some(item.id.clone())",
        Some(false) => "item.id.clone()",
        None => "{ let _ = item; None }",
    };
    let size_param = op
        .size
        .as_ref()
        .map_or(String::from("None"), |(n, _)| format!("Some({n:?})"));
    format!(
        "impl<'a> Paginated<'a> for crate::builder::{builder}<'a> {{
    type Item = crate::types::{item};
    const OPERATION: &'static str = {id:?};
    const MODES: &'static [PagingMode] = &[{modes}];
    const PAGE_SIZE_PARAMETER: Option<&'static str> = {size_param};
    const DEFAULT_PAGE_SIZE: u64 = {default_size};

    fn at(self, position: &Position, page_size: Option<u64>) -> Self {{
{at}    }}

    fn fetch(self) -> futures::future::BoxFuture<'a, Result<Page<Self::Item>, crate::Error>> {{
        Box::pin(async move {{
            let response = self.send().await?.into_inner();
            Ok(Page {{
                has_more: {has_more},
                next_cursor: {next_cursor},
                items: {items},
            }})
        }})
    }}

    fn item_id(item: &Self::Item) -> Option<String> {{
        {item_id}
    }}
}}

",
        item = op.item_type,
        id = op.id,
        default_size = if op.id == "GetAuditLogs" { 1000 } else { 100 },
        modes = modes.join(", "),
    )
}

/// The mock server's table of list operations, served generically (`src/mock/lists.rs`).
fn mock_list_table(lists: &[ListOperation]) -> String {
    let mut out = String::from(
        "// @generated by build.rs from openapi.json: the list operations the mock serves.\n\n\
         pub(crate) fn list_operations() -> Vec<ListOperation> {\n    vec![\n",
    );
    for op in lists {
        let Some(response) = &op.response_type else {
            continue;
        };
        let modes: Vec<String> = op
            .modes
            .iter()
            .map(|m| format!("PagingMode::{}", m.name()))
            .collect();
        let _ = writeln!(
            out,
            "        ListOperation {{ operation: {:?}, path: {:?}, field: {:?}, modes: &[{}], \
             size_parameter: {:?}, api_key: {}, tenant_in_path: {}, has_tenant: {}, \
             respond: typed::<crate::types::{response}>, \
             response_schema: || schemars::schema_for!(crate::types::{response}), \
             item_schema: || schemars::schema_for!(crate::types::{item}) }},",
            op.id,
            op.path,
            op.items_field,
            modes.join(", "),
            op.size.as_ref().map(|(n, _)| n.as_str()),
            op.api_key,
            op.tenant_in_path,
            op.has_tenant,
            item = op.item_type,
        );
    }
    out.push_str("    ]\n}\n");
    out
}

/// Writes only when the content changed, so an unchanged spec does not touch the
/// generated files' timestamps.
fn write_if_changed(path: &std::path::Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        std::fs::write(path, content).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
    }
}
