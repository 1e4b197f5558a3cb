//! The API contract (`docs/openapi.yaml`) is the code's: the same routes and methods as the
//! template's HTTP API and the functions' routers, and the same error codes as the code can answer.
//! The statuses and bodies are checked by fuzzing the local stack (`infra/contract/run`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use churnsaver::template::{EventDef, Template};
use serde_yaml_ng::Value;
use syn::visit::Visit;

use crate::helpers::start_stack;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn document() -> Value {
    let path = churnsaver::workspace_root().join("docs/openapi.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every operation of the document: (METHOD, path template) and the operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((
                    method.to_uppercase(),
                    path.as_str().unwrap().to_owned(),
                    operation.clone(),
                ));
            }
        }
    }
    found
}

fn template_routes() -> BTreeSet<(String, String, Option<String>)> {
    Template::load(&churnsaver::template_path())
        .unwrap()
        .functions()
        .unwrap()
        .into_iter()
        .flat_map(|f| f.events)
        .filter_map(|e| match e {
            EventDef::Http(route) => Some((route.method, route.path, route.authorizer)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_document_has_exactly_the_template_routes_and_each_authorized_one_needs_a_session() {
    let document = document();
    assert_eq!(document["openapi"].as_str(), Some("3.1.0"));
    let operations = operations(&document);
    let documented: BTreeSet<(String, String)> = operations
        .iter()
        .map(|(method, path, _)| (method.clone(), path.clone()))
        .collect();
    assert_eq!(documented.len(), operations.len());
    let routes = template_routes();
    let templated: BTreeSet<(String, String)> = routes
        .iter()
        .map(|(method, path, _)| (method.clone(), path.clone()))
        .collect();
    assert_eq!(documented, templated);

    for (method, path, authorizer) in &routes {
        let (_, _, operation) = operations
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .unwrap();
        if authorizer.is_some() {
            let security = operation["security"].as_sequence();
            assert!(
                security.is_some_and(|s| !s.is_empty()),
                "{method} {path} goes through the authorizer: its operation names the session"
            );
            assert!(
                operation["responses"].get("403").is_some(),
                "{method} {path}: the authorizer's 403 is documented"
            );
        }
    }
}

/// Whether the router's `path` is served by the document's `template` (`{name}` a segment).
fn matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-test sources of `dirs` (under the workspace root), parsed.
fn sources(dirs: &[&str]) -> Vec<(PathBuf, syn::File)> {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&churnsaver::workspace_root().join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter(|f| {
            !f.components().any(|c| c.as_os_str() == "tests")
                && f.file_name().is_some_and(|n| n != "tests.rs")
        })
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f, parsed)
        })
        .collect()
}

fn is_test_module(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

fn string_literal(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

/// The `.route(path, get(…).post(…))` calls of the functions' routers: (METHOD, path).
#[derive(Default)]
struct Routes(BTreeSet<(String, String)>);

impl Routes {
    fn methods(expr: &syn::Expr, out: &mut Vec<String>) {
        match expr {
            syn::Expr::MethodCall(call) => {
                let name = call.method.to_string();
                if METHODS.contains(&name.as_str()) {
                    out.push(name.to_uppercase());
                }
                Self::methods(&call.receiver, out);
            }
            syn::Expr::Call(call) => {
                if let syn::Expr::Path(path) = &*call.func
                    && let Some(name) = path.path.get_ident().map(ToString::to_string)
                    && METHODS.contains(&name.as_str())
                {
                    out.push(name.to_uppercase());
                }
            }
            _ => {}
        }
    }
}

impl<'ast> Visit<'ast> for Routes {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_module(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "route" && call.args.len() == 2 {
            let path = match &call.args[0] {
                syn::Expr::Path(path) => {
                    let name = quote_path(&path.path);
                    assert_eq!(
                        name, "shared::domain::notify::unsubscribe::PATH",
                        "a router's path constant this test does not know"
                    );
                    shared::domain::notify::unsubscribe::PATH.to_owned()
                }
                other => string_literal(other).expect("a route's path is a literal or a constant"),
            };
            let mut methods = Vec::new();
            Self::methods(&call.args[1], &mut methods);
            assert!(!methods.is_empty(), "no method for the route {path}");
            for method in methods {
                self.0.insert((method, path.clone()));
            }
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}

fn quote_path(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

#[test]
fn every_route_of_the_functions_routers_is_a_documented_operation_and_back() {
    let mut routes = Routes::default();
    for (_, file) in sources(&["functions"]) {
        routes.visit_file(&file);
    }
    assert!(
        routes.0.len() >= 32,
        "the routers were not found: {:?}",
        routes.0
    );
    let documented: Vec<(String, String)> = operations(&document())
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    for (method, path) in &routes.0 {
        assert!(
            documented
                .iter()
                .any(|(m, template)| m == method && matches(template, path)),
            "{method} {path} is served by a function's router but no operation of docs/openapi.yaml"
        );
    }
    for (method, template) in &documented {
        assert!(
            routes.0.contains(&(method.clone(), template.clone())),
            "{method} {template} is documented but no function's router declares it"
        );
    }
}

/// The error codes the code can answer: the `code: "…"` of every error built where `ApiError` is
/// used (and the literal first argument of a helper taking `code: &'static str` there), the codes
/// of every `reason_code` (the domain errors that `edge` maps to `ApiError`), and `ApiError::code`'s.
#[derive(Default)]
struct Codes {
    found: BTreeSet<String>,
    /// Whether the file at hand builds `ApiError`s.
    api: bool,
    /// Functions of the file taking `code: &'static str` first.
    helpers: BTreeSet<String>,
    /// Inside an `impl` for `ApiError`.
    in_api_error: bool,
    /// Inside a `fn reason_code` (or `ApiError::code`).
    in_code_fn: bool,
}

impl<'ast> Visit<'ast> for Codes {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_module(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let was = self.in_api_error;
        self.in_api_error =
            matches!(&*item.self_ty, syn::Type::Path(p) if p.path.is_ident("ApiError"));
        syn::visit::visit_item_impl(self, item);
        self.in_api_error = was;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let name = item.sig.ident.to_string();
        let was = self.in_code_fn;
        self.in_code_fn = name == "reason_code" || (self.in_api_error && name == "code");
        syn::visit::visit_impl_item_fn(self, item);
        self.in_code_fn = was;
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        if self.in_code_fn
            && let Some(code) = string_literal(&arm.body)
        {
            self.found.insert(code);
        }
        syn::visit::visit_arm(self, arm);
    }

    fn visit_field_value(&mut self, field: &'ast syn::FieldValue) {
        if self.api
            && let syn::Member::Named(name) = &field.member
            && name == "code"
            && let Some(code) = string_literal(&field.expr)
        {
            self.found.insert(code);
        }
        syn::visit::visit_field_value(self, field);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(path) = &*call.func
            && let Some(name) = path.path.get_ident()
            && self.api
            && self.helpers.contains(&name.to_string())
            && let Some(code) = call.args.first().and_then(string_literal)
        {
            self.found.insert(code);
        }
        syn::visit::visit_expr_call(self, call);
    }
}

/// The functions of `file` whose first parameter is `code: &'static str`.
fn code_helpers(file: &syn::File) -> BTreeSet<String> {
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .filter(|f| {
            matches!(f.sig.inputs.first(), Some(syn::FnArg::Typed(arg))
                if matches!(&*arg.pat, syn::Pat::Ident(p) if p.ident == "code"))
        })
        .map(|f| f.sig.ident.to_string())
        .collect()
}

#[test]
fn the_documented_error_codes_are_exactly_the_codes_the_code_answers() {
    let mut codes = Codes::default();
    for (path, file) in sources(&["shared/src", "functions"]) {
        let text = std::fs::read_to_string(&path).unwrap();
        codes.api = text.contains("ApiError");
        codes.helpers = code_helpers(&file);
        codes.visit_file(&file);
    }
    // Sanity: one code of each kind of source.
    for code in [
        "route_not_found",
        "session_revoked",
        "invalid_body",
        "not_operator",
    ] {
        assert!(
            codes.found.contains(code),
            "{code} was not found in the code"
        );
    }
    let documented: BTreeSet<String> = document()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let undocumented: Vec<_> = codes.found.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&codes.found).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "codes in the code but not in docs/openapi.yaml's ErrorCode: {undocumented:?}; \
         documented codes the code never answers: {unknown:?}"
    );
}

#[tokio::test]
async fn the_local_stack_serves_the_document() {
    let stack = start_stack().await;
    let response = reqwest::get(format!(
        "{}{}",
        stack.base_url(),
        churnsaver::local::OPENAPI_PATH
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/yaml"
    );
    let served = response.text().await.unwrap();
    let file =
        std::fs::read_to_string(churnsaver::workspace_root().join("docs/openapi.yaml")).unwrap();
    assert_eq!(served, file);
}

#[tokio::test]
async fn a_query_or_path_that_does_not_decode_is_a_json_400_on_the_public_routes() {
    let stack = start_stack().await;
    for path in ["/webhooks/%FF", "/webhooks/gumroad/%FF"] {
        let (status, body) = crate::helpers::call(&stack, "POST", path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_id")),
            "POST {path}: {body}"
        );
    }
    for (method, path) in [
        ("GET", "/unsubscribe?token=a&token=b"),
        ("POST", "/unsubscribe?token=a&token=b"),
        ("GET", "/auth/google/start?link=1&link=2"),
        ("GET", "/auth/google/callback?state=a&state=b"),
    ] {
        let (status, body) = crate::helpers::call(&stack, method, path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{method} {path}: {body}"
        );
    }
}
