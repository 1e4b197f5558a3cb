//! The domain layer stays pure (see `docs/architecture.md`): no module under `shared/src/domain`
//! names an AWS, Lambda, axum or HTTP type, or reaches into the `aws`, `edge` or `providers`
//! layers (it reaches providers through its ports).
//!
//! Every file is parsed with `syn` and each path it names (in code, types, patterns and `use`
//! trees) is checked; comments and doc links do not count.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Crates the domain must not name. `aws_lc_rs` is a cryptography library (the domain seals
/// tokens with its AEAD), not an AWS service client.
fn forbidden_crate(name: &str) -> bool {
    (name.starts_with("aws_") && name != "aws_lc_rs")
        || name.starts_with("lambda_")
        || matches!(
            name,
            "axum" | "http" | "http_body" | "http_body_util" | "hyper" | "reqwest" | "tower"
        )
}

/// Modules and root re-exports of this crate that belong to the outer layers.
fn forbidden_crate_item(name: &str) -> bool {
    matches!(
        name,
        "aws" | "edge" | "providers" | "App" | "ApiError" | "Config"
    )
}

#[derive(Default)]
struct Names {
    found: Vec<String>,
}

impl Names {
    fn check(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let bad = forbidden_crate(first)
            || (first == "crate" && segments.get(1).is_some_and(|s| forbidden_crate_item(s)));
        if bad {
            self.found.push(segments.join("::"));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.check(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.check(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.check(prefix),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl Names {
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let mut path: Vec<String> = Vec::new();
        let mut colons = 0;
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Ident(ident) if path.is_empty() || colons == 2 => {
                    path.push(ident.to_string());
                    colons = 0;
                }
                proc_macro2::TokenTree::Punct(punct)
                    if punct.as_char() == ':' && !path.is_empty() =>
                {
                    colons += 1;
                }
                other => {
                    if path.len() > 1 {
                        self.check(&path);
                    }
                    path.clear();
                    colons = 0;
                    match other {
                        proc_macro2::TokenTree::Group(group) => self.tokens(group.stream()),
                        proc_macro2::TokenTree::Ident(ident) => path.push(ident.to_string()),
                        _ => {}
                    }
                }
            }
        }
        if path.len() > 1 {
            self.check(&path);
        }
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.check(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    /// Macro bodies are not parsed as code, so their tokens are read for `a::b` paths.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_extern_crate(&mut self, item: &'ast syn::ItemExternCrate) {
        self.check(&[item.ident.to_string()]);
    }
}

/// The forbidden paths `source` names.
fn violations(source: &str) -> Result<Vec<String>, syn::Error> {
    let file = syn::parse_file(source)?;
    let mut names = Names::default();
    names.visit_file(&file);
    Ok(names.found)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn the_domain_names_no_aws_lambda_axum_or_http_type_and_imports_no_outer_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let mut files = Vec::new();
    rust_files(&root, &mut files).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    files.sort();
    assert!(
        files.len() > 20,
        "the domain's files were not found under {}",
        root.display()
    );
    let mut report = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let found = violations(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for path in found {
            report.push(format!(
                "{}: {path}",
                file.strip_prefix(&root).unwrap().display()
            ));
        }
    }
    assert!(
        report.is_empty(),
        "the domain reaches outside its layer:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_check_sees_types_imports_and_layer_escapes_but_not_comments() {
    let source = r#"
        //! Adapters in [`crate::aws`] implement these; see `http::HeaderMap` (a comment).
        use http::HeaderMap;
        use crate::{domain::ports::Clock, edge::error::ApiError};
        use aws_lambda_events::sqs::*;
        fn status(_: axum::Json<()>) -> reqwest::StatusCode { todo!() }
        fn fine(_: crate::domain::ports::Clock, _: std::time::Duration) {}
        fn root(_: crate::ApiError) {}
        fn provider(_: &crate::providers::whop::api::Membership) { crate::providers::observe(); }
        mod tests { fn t() { let _ = lambda_runtime::Error::from("x"); assert_eq!(1, http::StatusCode::OK); } }
    "#;
    let mut found = violations(source).unwrap();
    found.sort();
    assert_eq!(
        found,
        [
            "aws_lambda_events::sqs",
            "axum::Json",
            "crate::ApiError",
            "crate::edge::error::ApiError",
            "crate::providers::observe",
            "crate::providers::whop::api::Membership",
            "http::HeaderMap",
            "http::StatusCode::OK",
            "lambda_runtime::Error::from",
            "reqwest::StatusCode",
        ]
    );
}
