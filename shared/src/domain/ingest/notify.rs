//! The creator's message when an ingestion ends: **ingestion completed** or **ingestion failed**
//! to the company's recipients, keyed by the job (a redelivered job sends it once).

use super::IngestionEnd;
use crate::domain::notify::Template;
use crate::domain::notify::company::{CompanyMail, company_key};

/// The mails an ingestion's end calls for, to `recipients`.
pub fn plan_ingestion_end(end: &IngestionEnd, recipients: &[String]) -> Vec<CompanyMail> {
    let template = if end.completed {
        Template::IngestionCompleted
    } else {
        Template::IngestionFailed
    };
    recipients
        .iter()
        .map(|recipient| CompanyMail {
            template,
            recipient: recipient.clone(),
            key: company_key(&end.company_id, template, &end.job_id, recipient),
        })
        .collect()
}
