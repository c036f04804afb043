//! The maintenance tasks behind `cargo xtask`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::process::Command;

use fastcomments_codegen::postprocess::http_methods::WITHOUT_SHORTHAND;
use fastcomments_codegen::{HAND_WRITTEN, Options, generate, lists, rewrite, spec};
use serde_json::Value;

/// What a client needs to know of one operation, to tell a change apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationShape {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path template.
    pub path: String,
    /// `name (in, required|optional, type)` per parameter, sorted.
    pub parameters: Vec<String>,
    /// The 200 response's schema, as a component name or `inline <type>`.
    pub response: String,
}

/// The operations of a spec by `operationId`, read as the code generator reads them.
pub fn operations(spec: &Value) -> Result<BTreeMap<String, OperationShape>, String> {
    if !spec["paths"].is_object() {
        return Err("the spec has no `paths` object".into());
    }
    Ok(spec::operations(spec)?
        .into_iter()
        .map(|op| {
            let mut parameters: Vec<String> = op
                .parameters()
                .map(|p| {
                    let required = if p["required"] == true {
                        "required"
                    } else {
                        "optional"
                    };
                    format!(
                        "{} ({}, {required}, {})",
                        str_of(&p["name"]),
                        str_of(&p["in"]),
                        schema_name(&p["schema"])
                    )
                })
                .collect();
            parameters.sort();
            let shape = OperationShape {
                method: op.method.clone(),
                path: op.path.to_string(),
                parameters,
                response: schema_name(op.success_schema()),
            };
            (op.id.to_string(), shape)
        })
        .collect())
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn schema_name(schema: &Value) -> String {
    match (
        schema.get("$ref").and_then(Value::as_str),
        schema.get("type").and_then(Value::as_str),
    ) {
        (Some(r), _) => r.rsplit('/').next().unwrap_or(r).to_string(),
        (None, Some("array")) => format!("array of {}", schema_name(&schema["items"])),
        (None, Some(t)) => t.to_string(),
        (None, None) if schema.is_null() => "none".into(),
        (None, None) => ["anyOf", "oneOf", "allOf"]
            .iter()
            .find(|k| schema.get(**k).is_some())
            .map_or("inline", |k| k)
            .to_string(),
    }
}

/// What changed between two specs, as a user deciding whether to take the new one needs
/// to see it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Operations only in the new spec.
    pub added: Vec<(String, OperationShape)>,
    /// Operations only in the old spec.
    pub removed: Vec<(String, OperationShape)>,
    /// Operations whose id changed only in case: `(old, new)`. The Rust method (snake
    /// case) is the same, so no caller breaks.
    pub renamed: Vec<(String, String)>,
    /// Operations in both whose shape changed: id and one line per change.
    pub changed: Vec<(String, Vec<String>)>,
    /// Operations in both whose success type kept its name but changed its fields: id and
    /// one line per field.
    pub reshaped: Vec<(String, Vec<String>)>,
    /// List operations (each a `.stream()`) only the new spec has.
    pub streams_gained: Vec<String>,
    /// List operations only the old spec had.
    pub streams_lost: Vec<String>,
    /// What generation drops, renames or works around in the new spec, with the reason.
    pub generation: Vec<String>,
}

/// Compares `old` and `new`: operations, streams, response shapes, and what generation
/// does to `new`.
pub fn diff(old: &Value, new: &Value) -> Result<Diff, String> {
    let (old_rewritten, new_rewritten) = (rewritten(old)?, rewritten(new)?);
    let before = as_generated(old, &old_rewritten)?;
    let after = as_generated(new, &new_rewritten)?;
    let (old_fields, new_fields) = (
        success_fields(&old_rewritten)?,
        success_fields(&new_rewritten)?,
    );
    let none = BTreeSet::new();
    let mut out = Diff::default();
    let folded: BTreeMap<String, &String> =
        before.keys().map(|id| (id.to_lowercase(), id)).collect();
    for (id, shape) in &after {
        let previous = before
            .get_key_value(id)
            .or_else(|| {
                folded
                    .get(&id.to_lowercase())
                    .and_then(|o| before.get_key_value(*o))
            })
            .filter(|(old_id, _)| *old_id == id || !after.contains_key(*old_id));
        let Some((old_id, previous)) = previous else {
            out.added.push((id.clone(), shape.clone()));
            continue;
        };
        if old_id != id {
            out.renamed.push((old_id.clone(), id.clone()));
        }
        if previous != shape {
            out.changed.push((id.clone(), changes(previous, shape)));
        }
        let fields = field_changes(
            old_fields.get(old_id).unwrap_or(&none),
            new_fields.get(id).unwrap_or(&none),
        );
        if previous.response == shape.response && !fields.is_empty() {
            out.reshaped.push((id.clone(), fields));
        }
    }
    let matched: Vec<&String> = out.renamed.iter().map(|(old, _)| old).collect();
    out.removed = before
        .into_iter()
        .filter(|(id, _)| !after.contains_key(id) && !matched.contains(&id))
        .collect();
    let (old_streams, new_streams) = (streams(&old_rewritten)?, streams(&new_rewritten)?);
    out.streams_gained = only_in(&new_streams, &old_streams);
    out.streams_lost = only_in(&old_streams, &new_streams);
    out.generation = generation_notes(new)?;
    Ok(out)
}

/// The operations of `published` with the success type generation gives each (from the
/// `rewritten` spec): `anyOf [X, APIError]` and `X` are the same type to a caller, so a
/// spec moving from one to the other changes nothing worth reporting.
fn as_generated(
    published: &Value,
    rewritten: &Value,
) -> Result<BTreeMap<String, OperationShape>, String> {
    let generated = operations(rewritten)?;
    let mut shapes = operations(published)?;
    for (id, shape) in &mut shapes {
        if let Some(as_generated) = generated.get(id) {
            shape.response.clone_from(&as_generated.response);
        }
    }
    Ok(shapes)
}

/// The spec as generation sees it (`fastcomments_codegen::rewrite`).
fn rewritten(spec: &Value) -> Result<Value, String> {
    let mut spec = spec.clone();
    let hand_written: Vec<&str> = HAND_WRITTEN.iter().map(|(id, _)| *id).collect();
    rewrite::apply_all(&mut spec, &hand_written)?;
    Ok(spec)
}

/// The list operations of a rewritten spec, by lower-case id so that a case-only rename
/// is neither gained nor lost.
fn streams(rewritten: &Value) -> Result<BTreeMap<String, String>, String> {
    Ok(lists::find(rewritten, &spec::operations(rewritten)?)
        .into_iter()
        .map(|l| (l.id.to_lowercase(), l.id))
        .collect())
}

/// The ids of `a`'s streams that `b` lacks.
fn only_in(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(folded, _)| !b.contains_key(*folded))
        .map(|(_, id)| id.clone())
        .collect()
}

/// Per operation, `name: type` per property of its success schema, as generated.
fn success_fields(rewritten: &Value) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    Ok(spec::operations(rewritten)?
        .iter()
        .map(|op| (op.id.to_owned(), fields_of(rewritten, op.success_schema())))
        .collect())
}

/// `name: type` per property of `schema`; `?` marks an optional one.
fn fields_of(rewritten: &Value, schema: &Value) -> BTreeSet<String> {
    let (schema, _) = spec::resolve(rewritten, schema);
    let required = |name: &str| {
        schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == name))
    };
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, p)| {
            let presence = if required(name) { "" } else { "?" };
            format!("{name}{presence}: {}", schema_name(p))
        })
        .collect()
}

fn field_changes(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    let added = after.difference(before).map(|f| format!("+ field {f}"));
    let removed = before.difference(after).map(|f| format!("- field {f}"));
    added.chain(removed).collect()
}

/// What generation drops, renames or works around in `spec`, one line each with why.
pub fn generation_notes(spec: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let ops = spec::operations(spec)?;
    for (id, facade) in HAND_WRITTEN {
        if ops.iter().any(|op| op.id == *id) {
            out.push(format!(
                "{id}: not generated (a multipart body progenitor cannot take); hand-written as {facade}"
            ));
        }
    }
    for op in ops.iter().filter(|op| {
        WITHOUT_SHORTHAND
            .iter()
            .any(|(_, method)| op.method == *method)
    }) {
        out.push(format!(
            "{}: {} {} sent through request(Method::{}, ..) (reqwest has no shorthand)",
            op.id, op.method, op.path, op.method
        ));
    }
    let mut stripped = spec.clone();
    let dropped = rewrite::error_variants::apply(&mut stripped);
    if dropped > 0 {
        out.push(format!(
            "APIError dropped from {dropped} success responses (anyOf [X, APIError] is X: every failure body is a fastcomments::Error::Api before the success type is decoded)"
        ));
    }
    for (id, name) in rewrite::implicit_names::collisions(&stripped) {
        out.push(format!(
            "{id}: its inline type would be named {name}, a component's name: generated as {name}Inline<N> instead"
        ));
    }
    let text = spec.to_string();
    if let Err(message) = generate(&text, Options { mock: true }) {
        out.push(format!("feature `mock` will not build: {message}"));
    }
    Ok(out)
}

/// `(required, string)` of `name (query, required, string)`.
fn detail(parameter: &str) -> String {
    parameter
        .split_once(", ")
        .map_or_else(|| parameter.to_owned(), |(_, rest)| format!("({rest}"))
}

fn changes(before: &OperationShape, after: &OperationShape) -> Vec<String> {
    let mut out = Vec::new();
    if (&before.method, &before.path) != (&after.method, &after.path) {
        out.push(format!(
            "{} {} -> {} {}",
            before.method, before.path, after.method, after.path
        ));
    }
    let gone: Vec<&String> = before
        .parameters
        .iter()
        .filter(|p| !after.parameters.contains(p))
        .collect();
    let new: Vec<&String> = after
        .parameters
        .iter()
        .filter(|p| !before.parameters.contains(p))
        .collect();
    // `name (in, ...)`: the same parameter when name and place agree.
    let key = |p: &str| p.split_once(", ").map_or(p, |(k, _)| k).to_owned();
    for p in &new {
        match gone.iter().find(|g| key(g) == key(p)) {
            Some(g) => out.push(format!("~ parameter {g} -> {}", detail(p))),
            None => out.push(format!("+ parameter {p}")),
        }
    }
    for g in gone
        .iter()
        .filter(|g| !new.iter().any(|p| key(p) == key(g)))
    {
        out.push(format!("- parameter {g}"));
    }
    if before.response != after.response {
        out.push(format!(
            "response {} -> {}",
            before.response, after.response
        ));
    }
    out
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, s) in &self.added {
            writeln!(
                f,
                "added    {id}: {} {} -> {}",
                s.method, s.path, s.response
            )?;
        }
        for (id, s) in &self.removed {
            writeln!(f, "removed  {id}: {} {}", s.method, s.path)?;
        }
        for (old, new) in &self.renamed {
            writeln!(f, "renamed  {old} -> {new} (case only: same Rust method)")?;
        }
        for (title, list) in [("changed ", &self.changed), ("reshaped", &self.reshaped)] {
            for (id, lines) in list {
                writeln!(f, "{title} {id}:")?;
                for line in lines {
                    writeln!(f, "           {line}")?;
                }
            }
        }
        for id in &self.streams_gained {
            writeln!(f, "stream+  {id}: now a list operation (.stream())")?;
        }
        for id in &self.streams_lost {
            writeln!(
                f,
                "stream-  {id}: no longer a list operation (.stream() is gone)"
            )?;
        }
        for note in &self.generation {
            writeln!(f, "generate {note}")?;
        }
        writeln!(
            f,
            "{} added, {} removed, {} renamed, {} changed, {} reshaped; streams {} gained, {} lost",
            self.added.len(),
            self.removed.len(),
            self.renamed.len(),
            self.changed.len(),
            self.reshaped.len(),
            self.streams_gained.len(),
            self.streams_lost.len()
        )
    }
}

/// Reads a spec from a file path or an `http://`/`https://` URL.
pub fn fetch(source: &str) -> Result<String, String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let mut response = ureq::get(source)
            .call()
            .map_err(|e| format!("fetching {source}: {e}"))?;
        response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("reading {source}: {e}"))
    } else {
        std::fs::read_to_string(source).map_err(|e| format!("reading {source}: {e}"))
    }
}

/// Compares two spec files (or URLs) and changes nothing.
pub fn diff_files(old: &str, new: &str) -> Result<Diff, String> {
    let old = parse_spec(&fetch(old)?).map_err(|e| format!("{old}: {e}"))?;
    let new_spec = parse_spec(&fetch(new)?).map_err(|e| format!("{new}: {e}"))?;
    diff(&old, &new_spec)
}

/// Parses a spec, refusing anything that is not an OpenAPI 3 document with operations.
pub fn parse_spec(text: &str) -> Result<Value, String> {
    let spec: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let version = spec["openapi"].as_str().unwrap_or("");
    if !version.starts_with("3.") {
        return Err(format!(
            "not an OpenAPI 3 document (openapi: {:?})",
            spec["openapi"]
        ));
    }
    if operations(&spec)?.is_empty() {
        return Err("the document has no operations".into());
    }
    Ok(spec)
}

/// Replaces `target` with the spec at `source`, byte for byte, and returns what changed.
/// Nothing is written unless the new spec parses.
pub fn refresh(source: &str, target: &Path) -> Result<Diff, String> {
    let text = fetch(source)?;
    let new = parse_spec(&text).map_err(|e| format!("{source}: {e}"))?;
    let old = std::fs::read_to_string(target)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| serde_json::json!({ "paths": {} }));
    let diff = diff(&old, &new)?;
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, &text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, target).map_err(|e| format!("replacing {}: {e}", target.display()))?;
    Ok(diff)
}

/// The feature sets `check` builds: what users build, the command-line tool (whose
/// subcommands come from the same operation table) included.
pub const FEATURE_SETS: &[(&str, &[&str])] = &[
    ("default features", &[]),
    ("--features mock", &["--features", "mock"]),
    (
        "the CLI, without its mock command",
        &["--package", "fastcomments-cli", "--no-default-features"],
    ),
];

/// Builds (`cargo check`) the crate at `root` from `spec` (its `openapi.json` when `None`,
/// which is then left as it is) with each of [`FEATURE_SETS`], and checks that every
/// operation is generated or hand-written. A feature set the spec lacks what it needs
/// for (`fastcomments_codegen::needs`) is reported, not failed: the build says so in one
/// message. Anything else failing (a rustc error, a panic) fails the check.
pub fn check(root: &Path, spec: Option<&Path>) -> Result<String, String> {
    let spec_path = match spec {
        Some(path) => std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => root.join("openapi.json"),
    };
    let parsed = parse_spec(
        &std::fs::read_to_string(&spec_path)
            .map_err(|e| format!("reading {}: {e}", spec_path.display()))?,
    )?;
    let mut report = Vec::new();
    for (name, args) in FEATURE_SETS {
        match build_out_dir(root, spec.map(|_| spec_path.as_path()), args) {
            Ok(out_dir) => {
                let manifest = std::fs::read_to_string(Path::new(&out_dir).join("operations.json"))
                    .map_err(|e| format!("build.rs wrote no operations.json: {e}"))?;
                let reached = compare(
                    &parsed,
                    &serde_json::from_str(&manifest).map_err(|e| e.to_string())?,
                )?;
                report.push(format!("{name}: builds; {reached}"));
            }
            Err(Failure::Unsupported(message)) => {
                report.push(format!("{name}: not supported by this spec:\n{message}"));
            }
            Err(Failure::Broken(message)) => {
                return Err(format!("{name}: {message}"));
            }
        }
    }
    Ok(report.join("\n"))
}

/// Why a build failed.
enum Failure {
    /// The spec lacks what a feature's hand-written code needs; the message names it.
    Unsupported(String),
    /// Anything else.
    Broken(String),
}

/// Compares a spec with build.rs's manifest of what it generated.
pub fn compare(spec: &Value, manifest: &Value) -> Result<String, String> {
    let reached: BTreeMap<&str, &str> = manifest
        .as_array()
        .ok_or("the manifest is not a list")?
        .iter()
        .map(|e| (str_of(&e["operationId"]), str_of(&e["implementation"])))
        .collect();
    let ops = operations(spec)?;
    let missing: Vec<&String> = ops
        .keys()
        .filter(|id| !reached.contains_key(id.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} operations of openapi.json are not reachable: {missing:?}",
            missing.len()
        ));
    }
    let hand = reached.values().filter(|h| **h == "hand-written").count();
    Ok(format!(
        "{} of {} operations reachable ({} generated, {hand} hand-written)",
        ops.len(),
        ops.len(),
        ops.len() - hand
    ))
}

/// Runs `cargo check` for the library (from `spec` when given) and returns its build
/// script's `OUT_DIR`.
fn build_out_dir(root: &Path, spec: Option<&Path>, features: &[&str]) -> Result<String, Failure> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "check",
            "--package",
            "fastcomments",
            "--message-format=json-render-diagnostics",
        ])
        .args(features);
    match spec {
        Some(path) => command.env("FASTCOMMENTS_SPEC", path),
        None => command.env_remove("FASTCOMMENTS_SPEC"),
    };
    let output = command
        .output()
        .map_err(|e| Failure::Broken(format!("running cargo: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let needs = "this spec lacks what the crate's hand-written code needs";
        if let Some(start) = stderr.find(needs) {
            let message = stderr[start..]
                .split_inclusive('\n')
                .scan(false, |ended, line| {
                    let this = (!*ended).then_some(line);
                    // The message ends with the line that points at the declarations.
                    *ended |= line.contains("needs.rs");
                    this
                })
                .collect::<String>();
            return Err(Failure::Unsupported(message.trim_end().to_owned()));
        }
        return Err(Failure::Broken(format!("cargo check failed:\n{stderr}")));
    }
    stdout
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| {
            m["reason"] == "build-script-executed"
                && str_of(&m["package_id"]).contains("fastcomments")
        })
        .filter_map(|m| m["out_dir"].as_str().map(str::to_owned))
        .next()
        .ok_or_else(|| {
            Failure::Broken("cargo reported no build script output for fastcomments".into())
        })
}
