//! What a queue delivers, as the domain sees it (the edge converts the trigger's records).

/// One message delivered from a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundMessage {
    /// The queue's id of the message (what a batch reports as failed).
    pub message_id: Option<String>,
    pub body: Option<String>,
    /// Which delivery this is (`ApproximateReceiveCount`, 1 when absent).
    pub receive_count: u32,
}
