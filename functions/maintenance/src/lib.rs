//! The maintenance function, fired by an EventBridge Scheduler schedule.

use std::sync::Arc;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::edge::deps::maintenance::MaintenanceDeps;
use shared::edge::error::EventError;

pub async fn handle(
    _deps: Arc<MaintenanceDeps>,
    _event: LambdaEvent<Value>,
) -> Result<Value, EventError> {
    Err(EventError::NotImplemented {
        what: "maintenance",
    })
}
