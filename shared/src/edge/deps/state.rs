//! The state function's dependencies: the state table it reads and the emergency switches that
//! mark its answers stale.

use std::sync::Arc;

use crate::App;
use crate::aws::emergency::DynamoEmergencies;
use crate::aws::state::DynamoState;
use crate::domain::emergency::EmergencySwitch;
use crate::domain::ports::SystemClock;

/// Built once per cold start: the switches' cache lives as long as the warm function.
pub struct StateDeps {
    pub store: DynamoState,
    pub emergency: EmergencySwitch<DynamoEmergencies, SystemClock>,
}

impl StateDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            store: DynamoState::of(&app),
            emergency: super::sync::emergency_switch(&app),
        }
    }
}
