//! DynamoDB adapters.

use aws_sdk_dynamodb::Client;

use super::dependency_error;
use crate::ports::{DependencyError, TableProbe, TableStatus};

impl TableProbe for Client {
    async fn describe_table(&self, table: &str) -> Result<TableStatus, DependencyError> {
        let output = self
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        let status = output
            .table()
            .and_then(|t| t.table_status())
            .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned());
        Ok(TableStatus { status })
    }
}
