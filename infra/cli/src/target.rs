//! Which stack operator commands act on: the deployed stack whose function environment is exported
//! in this shell, else the running `churnsaver local`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use shared::{App, Config};

/// What a running `churnsaver local` writes to [`crate::local::state_file`] so other commands can
/// reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalStackState {
    pub base_url: String,
    /// The emulator's endpoint URL.
    pub endpoint: String,
    pub stack_name: String,
    pub webhook_secrets_id: Option<String>,
    /// The functions' environment ([`crate::local::LocalStack::environment`]). Absent from files
    /// written before it was added, hence the default.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

impl LocalStackState {
    /// Reads the running local stack's state file.
    pub fn read() -> anyhow::Result<Self> {
        Self::read_from(&crate::local::state_file())
    }

    pub fn read_from(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "no running local stack ({} is missing): start it with `cargo local`",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
    }

    pub fn write_to(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// The stack operator commands act on. With `STATE_TABLE` set, the shell carries a deployed
/// stack's function environment: real AWS through the default credential chain. Otherwise the
/// running local stack, configured from its state file against its emulator.
pub async fn connect() -> anyhow::Result<App> {
    if std::env::var_os("STATE_TABLE").is_some() {
        return App::from_env()
            .await
            .context("the exported stack environment (STATE_TABLE is set)");
    }
    let state = LocalStackState::read().context(
        "no stack to act on: export a deployed stack's function environment (STATE_TABLE, EVENTS_QUEUE_URL, …), or run the local stack",
    )?;
    if state.environment.is_empty() {
        bail!(
            "{} has no stack environment: it was written by an older `cargo local`; restart it",
            crate::local::state_file().display()
        );
    }
    let config = Config::from_lookup(&|var| state.environment.get(var).cloned())
        .map_err(|e| anyhow!("the local stack's environment does not validate: {e}"))?;
    let sdk = crate::local::emulator_sdk_config(&state.endpoint).await;
    Ok(App::new(config, &sdk)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_without_an_environment_still_reads() {
        let path = std::env::temp_dir().join(format!(
            "churnsaver-state-{}.json",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(
            &path,
            r#"{"base_url":"http://127.0.0.1:3000","endpoint":"http://127.0.0.1:5000","stack_name":"s","webhook_secrets_id":null}"#,
        )
        .unwrap();

        let state = LocalStackState::read_from(&path).unwrap();
        let _ = std::fs::remove_file(&path);

        assert_eq!(state.endpoint, "http://127.0.0.1:5000");
        assert!(state.environment.is_empty());
    }

    #[test]
    fn a_missing_state_file_says_how_to_start_the_local_stack() {
        let error = LocalStackState::read_from(Path::new("/nonexistent/local-stack.json"))
            .unwrap_err()
            .to_string();

        assert!(error.contains("start it with `cargo local`"), "{error}");
    }
}
