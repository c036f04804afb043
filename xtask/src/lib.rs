//! The maintenance tasks behind `cargo xtask`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::process::Command;

use fastcomments_codegen::spec;
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

/// The difference between two specs' operations.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Operations only in the new spec.
    pub added: Vec<(String, OperationShape)>,
    /// Operations only in the old spec.
    pub removed: Vec<(String, OperationShape)>,
    /// Operations in both whose shape changed: id and one line per change.
    pub changed: Vec<(String, Vec<String>)>,
}

/// Compares the operations of `old` and `new`.
pub fn diff(old: &Value, new: &Value) -> Result<Diff, String> {
    let (old, new) = (operations(old)?, operations(new)?);
    let mut out = Diff::default();
    for (id, shape) in &new {
        match old.get(id) {
            None => out.added.push((id.clone(), shape.clone())),
            Some(before) if before != shape => {
                out.changed.push((id.clone(), changes(before, shape)))
            }
            Some(_) => {}
        }
    }
    out.removed = old
        .into_iter()
        .filter(|(id, _)| !new.contains_key(id))
        .collect();
    Ok(out)
}

fn changes(before: &OperationShape, after: &OperationShape) -> Vec<String> {
    let mut out = Vec::new();
    if (&before.method, &before.path) != (&after.method, &after.path) {
        out.push(format!(
            "{} {} -> {} {}",
            before.method, before.path, after.method, after.path
        ));
    }
    for p in after
        .parameters
        .iter()
        .filter(|p| !before.parameters.contains(p))
    {
        out.push(format!("+ parameter {p}"));
    }
    for p in before
        .parameters
        .iter()
        .filter(|p| !after.parameters.contains(p))
    {
        out.push(format!("- parameter {p}"));
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
        if self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() {
            return writeln!(f, "no operation changed");
        }
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
        for (id, lines) in &self.changed {
            writeln!(f, "changed  {id}:")?;
            for line in lines {
                writeln!(f, "           {line}")?;
            }
        }
        writeln!(
            f,
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
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

/// Builds the crate at `root` and checks that every operation of its `openapi.json` is
/// generated or hand-written.
pub fn check(root: &Path) -> Result<String, String> {
    let spec = parse_spec(
        &std::fs::read_to_string(root.join("openapi.json"))
            .map_err(|e| format!("reading openapi.json: {e}"))?,
    )?;
    let out_dir = build_out_dir(root)?;
    let manifest = std::fs::read_to_string(Path::new(&out_dir).join("operations.json"))
        .map_err(|e| format!("build.rs wrote no operations.json: {e}"))?;
    compare(
        &spec,
        &serde_json::from_str(&manifest).map_err(|e| e.to_string())?,
    )
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

/// Runs `cargo build` for the library and returns its build script's `OUT_DIR`.
fn build_out_dir(root: &Path) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--package",
            "fastcomments",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "generation failed (cargo build):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| {
            m["reason"] == "build-script-executed"
                && str_of(&m["package_id"]).contains("fastcomments")
        })
        .filter_map(|m| m["out_dir"].as_str().map(str::to_owned))
        .next()
        .ok_or_else(|| "cargo reported no build script output for fastcomments".into())
}
