//! The maintenance function's dependencies: none yet (its work is not built).

use std::sync::Arc;

use crate::App;

/// Built once per cold start.
pub struct MaintenanceDeps {
    pub app: Arc<App>,
}

impl MaintenanceDeps {
    pub fn build(app: Arc<App>) -> Self {
        Self { app }
    }
}
