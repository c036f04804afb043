//! One minimum Rust version: `Cargo.toml`'s `[workspace.package]`, inherited by every
//! crate of the workspace, and the README's "Rust X or newer" say the same.

#[test]
fn the_readme_and_every_crate_state_the_workspace_rust_version() {
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let manifest = read("Cargo.toml");
    let workspace = manifest
        .split("[workspace.package]")
        .nth(1)
        .and_then(|rest| rest.lines().find(|l| l.starts_with("rust-version")))
        .and_then(|line| line.split('"').nth(1))
        .expect("[workspace.package] rust-version");
    assert_eq!(
        workspace,
        env!("CARGO_PKG_RUST_VERSION"),
        "this crate inherits it"
    );
    for crate_manifest in ["Cargo.toml", "codegen/Cargo.toml", "xtask/Cargo.toml"] {
        let text = read(crate_manifest);
        let package = text.split("[package]").nth(1).unwrap();
        let package = package.split("\n[").next().unwrap();
        assert!(
            package.contains("rust-version.workspace = true"),
            "{crate_manifest} must inherit the workspace's rust-version"
        );
    }
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("Rust {workspace} or newer")),
        "README must say \"Rust {workspace} or newer\""
    );
}
