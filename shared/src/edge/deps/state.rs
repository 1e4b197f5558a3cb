//! The state function's dependencies: the state table it reads.

use std::sync::Arc;

use crate::App;
use crate::aws::state::DynamoState;

/// Built once per cold start.
pub struct StateDeps {
    pub store: DynamoState,
}

impl StateDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            store: DynamoState::of(&app),
        }
    }
}
