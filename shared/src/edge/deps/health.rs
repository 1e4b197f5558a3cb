//! The health function's dependencies: the clients it probes with, and the breakers and emergency
//! switches it reports.

use std::sync::Arc;

use crate::App;
use crate::aws::breaker::DynamoBreakers;
use crate::aws::emergency::DynamoEmergencies;
use crate::domain::breaker::SharedBreaker;
use crate::domain::emergency::EmergencySwitch;
use crate::domain::ports::SystemClock;

/// Breakers over the stack's state table with default settings and cache.
pub fn shared_breaker(app: &App) -> SharedBreaker<DynamoBreakers, SystemClock> {
    SharedBreaker::new(DynamoBreakers::of(app), SystemClock)
}

/// Built once per cold start. The HTTP client is the [`App`]'s, built on the first
/// `/health/external`.
pub struct HealthDeps {
    pub app: Arc<App>,
    pub breakers: SharedBreaker<DynamoBreakers, SystemClock>,
    pub emergency: EmergencySwitch<DynamoEmergencies, SystemClock>,
}

impl HealthDeps {
    pub fn build(app: Arc<App>) -> Self {
        Self {
            breakers: shared_breaker(&app),
            emergency: super::sync::emergency_switch(&app),
            app,
        }
    }
}
