//! A company's notification settings: who is told about which signals, immediately and/or in a
//! daily digest at an hour of a time zone, whether members get messages (off by default), the
//! sender, and the phone numbers texted when an urgent signal opens. [`parse`] validates a whole
//! document and reports every problem at once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FieldProblem, parse_signal};
use crate::domain::state::model::SignalKind;

/// The largest settings document taken.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// The most recipients a company names.
pub const MAX_RECIPIENTS: usize = 20;
/// The longest sender name.
pub const MAX_SENDER_NAME: usize = 64;
/// The longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// The most phone numbers a company names for urgent texts.
pub const MAX_ALERT_PHONES: usize = 5;
/// The signals texted when a company names none: the ones that cost the creator the membership.
pub const DEFAULT_URGENT_SIGNALS: [SignalKind; 2] =
    [SignalKind::Churned, SignalKind::CancelScheduled];

/// A daily digest at `hour` (0–23) in the IANA time zone `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub hour: u8,
    pub time_zone: String,
}

/// Who is told about what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySettings {
    /// E-mail addresses told about the company's signals.
    pub recipients: Vec<String>,
    /// The signals they are told about.
    pub signals: Vec<SignalKind>,
    /// An alert as each signal opens or closes.
    pub immediate: bool,
    /// A daily digest, when set.
    pub digest: Option<Digest>,
    /// Whether members get messages (payment failed, win-back, …).
    pub member_messages: bool,
    /// The name messages are sent under; the deployment's default when `None`.
    pub sender_name: Option<String>,
    /// Where replies go; no `Reply-To` when `None`.
    pub reply_to: Option<String>,
    /// E.164 numbers texted when an urgent signal opens (none: no texts).
    #[serde(default)]
    pub alert_phones: Vec<String>,
    /// The signals that are urgent (default [`DEFAULT_URGENT_SIGNALS`]).
    #[serde(default = "default_urgent_signals")]
    pub urgent_signals: Vec<SignalKind>,
    /// The creator whose plan allowed `member_messages` when they were turned on; the notifier
    /// asks that plan again before each member message, so a downgrade stops them. Set by the
    /// settings route, never read from a request body; `None` when an operator turned them on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_messages_by: Option<String>,
}

fn default_urgent_signals() -> Vec<SignalKind> {
    DEFAULT_URGENT_SIGNALS.to_vec()
}

impl Default for CompanySettings {
    /// Nobody told, every signal chosen, no member messages.
    fn default() -> Self {
        Self {
            recipients: Vec::new(),
            signals: SignalKind::ALL.to_vec(),
            immediate: false,
            digest: None,
            member_messages: false,
            sender_name: None,
            reply_to: None,
            alert_phones: Vec::new(),
            urgent_signals: default_urgent_signals(),
            member_messages_by: None,
        }
    }
}

const FIELDS: [&str; 9] = [
    "recipients",
    "signals",
    "immediate",
    "digest",
    "member_messages",
    "sender_name",
    "reply_to",
    "alert_phones",
    "urgent_signals",
];

/// Whether `text` is an e-mail address we can send to: one `@`, a non-empty local part, a domain
/// with a dot and no empty label, printable ASCII without spaces, quotes or angle brackets.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= MAX_EMAIL
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'<' | b'>' | b',' | b';'))
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

/// Whether `text` is an E.164 number: `+` then 8 to 15 digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// A phone number as written by a person (`+1 415-555 0123`, `+1 (415) 555.0123`) in E.164
/// (`+14155550123`): spaces, dashes, dots and parentheses dropped. `None` when what is left is not
/// E.164.
pub fn normalise_phone(text: &str) -> Option<String> {
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    is_e164(&compact).then_some(compact)
}

/// Collects the problems of one document.
struct Check {
    problems: Vec<FieldProblem>,
}

impl Check {
    fn problem(&mut self, field: impl Into<String>, problem: impl Into<String>, fix: &str) {
        self.problems.push(FieldProblem::new(field, problem, fix));
    }

    fn boolean(&mut self, object: &Map<String, Value>, field: &str, default: bool) -> bool {
        match object.get(field) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(value)) => *value,
            Some(_) => {
                self.problem(field, "is not true or false", "write true or false");
                default
            }
        }
    }

    /// An optional string field; wrong types are problems.
    fn text<'a>(&mut self, object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
        match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(_) => {
                self.problem(field, "is not a string", "write a string, or null");
                None
            }
        }
    }

    /// An optional list field; wrong types are problems.
    fn list<'a>(&mut self, object: &'a Map<String, Value>, field: &str) -> Option<&'a [Value]> {
        match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.problem(field, "is not a list", "write a JSON array");
                None
            }
        }
    }

    fn recipients(&mut self, object: &Map<String, Value>) -> Vec<String> {
        let fix = "give e-mail addresses like alerts@example.com";
        let items = self.list(object, "recipients").unwrap_or_default();
        if items.len() > MAX_RECIPIENTS {
            self.problem(
                "recipients",
                format!(
                    "names {} addresses, more than {MAX_RECIPIENTS}",
                    items.len()
                ),
                "name fewer recipients (a mailing list counts as one)",
            );
        }
        let mut recipients: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("recipients[{i}]");
            match item.as_str().map(str::trim) {
                Some(email) if is_email(email) => {
                    if recipients.iter().any(|r| r.eq_ignore_ascii_case(email)) {
                        self.problem(
                            field,
                            "repeats an earlier address",
                            "name each address once",
                        );
                    } else {
                        recipients.push(email.to_owned());
                    }
                }
                Some(_) => self.problem(field, "is not an e-mail address", fix),
                None => self.problem(field, "is not a string", fix),
            }
        }
        recipients
    }

    fn alert_phones(&mut self, object: &Map<String, Value>) -> Vec<String> {
        let fix = "give numbers in international form like +14155550123";
        let items = self.list(object, "alert_phones").unwrap_or_default();
        if items.len() > MAX_ALERT_PHONES {
            self.problem(
                "alert_phones",
                format!(
                    "names {} numbers, more than {MAX_ALERT_PHONES}",
                    items.len()
                ),
                "name fewer numbers",
            );
        }
        let mut phones: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("alert_phones[{i}]");
            match item.as_str().map(normalise_phone) {
                Some(Some(phone)) if phones.contains(&phone) => {
                    self.problem(field, "repeats an earlier number", "name each number once");
                }
                Some(Some(phone)) => phones.push(phone),
                Some(None) => self.problem(field, "is not an E.164 phone number", fix),
                None => self.problem(field, "is not a string", fix),
            }
        }
        phones
    }

    fn signals(&mut self, object: &Map<String, Value>) -> Vec<SignalKind> {
        self.signal_list(object, "signals", SignalKind::ALL.to_vec())
    }

    fn urgent_signals(&mut self, object: &Map<String, Value>) -> Vec<SignalKind> {
        self.signal_list(object, "urgent_signals", default_urgent_signals())
    }

    /// A list of distinct signals, `default` when left out.
    fn signal_list(
        &mut self,
        object: &Map<String, Value>,
        name: &str,
        default: Vec<SignalKind>,
    ) -> Vec<SignalKind> {
        let fix = "use at_risk, cancel_scheduled, churned, recovered";
        let Some(items) = self.list(object, name) else {
            return default;
        };
        let mut signals = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("{name}[{i}]");
            match item.as_str().map(|text| (text, parse_signal(text))) {
                Some((_, Some(kind))) if signals.contains(&kind) => {
                    self.problem(field, "repeats an earlier signal", "name each signal once");
                }
                Some((_, Some(kind))) => signals.push(kind),
                Some((text, None)) => self.problem(field, format!("`{text}` is not a signal"), fix),
                None => self.problem(field, "is not a string", fix),
            }
        }
        signals
    }

    fn digest(&mut self, object: &Map<String, Value>) -> Option<Digest> {
        let digest = match object.get("digest") {
            None | Some(Value::Null) => return None,
            Some(Value::Object(digest)) => digest,
            Some(_) => {
                self.problem(
                    "digest",
                    "is not an object",
                    r#"write {"hour": 8, "time_zone": "Europe/Paris"}, or null for no digest"#,
                );
                return None;
            }
        };
        for field in digest
            .keys()
            .filter(|k| !matches!(k.as_str(), "hour" | "time_zone"))
        {
            self.problem(
                format!("digest.{field}"),
                "is not a digest field",
                "use hour and time_zone",
            );
        }
        let hour = match digest.get("hour").map(Value::as_u64) {
            Some(Some(hour @ 0..=23)) => u8::try_from(hour).ok(),
            _ => {
                self.problem(
                    "digest.hour",
                    "is not a whole hour from 0 to 23",
                    "give the local hour, 0–23",
                );
                None
            }
        };
        let time_zone = match digest.get("time_zone").and_then(Value::as_str) {
            Some(zone) if crate::domain::notify::digest::is_time_zone(zone) => {
                Some(zone.to_owned())
            }
            Some(zone) => {
                self.problem(
                    "digest.time_zone",
                    format!("`{zone}` is not an IANA time zone"),
                    "give a zone like Europe/Paris, America/New_York or UTC",
                );
                None
            }
            None => {
                self.problem(
                    "digest.time_zone",
                    "is missing",
                    "give a zone like Europe/Paris",
                );
                None
            }
        };
        Some(Digest {
            hour: hour?,
            time_zone: time_zone?,
        })
    }

    fn sender_name(&mut self, object: &Map<String, Value>) -> Option<String> {
        let name = self.text(object, "sender_name")?.trim();
        let printable = name
            .chars()
            .all(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '@'));
        if name.is_empty() || name.chars().count() > MAX_SENDER_NAME || !printable {
            self.problem(
                "sender_name",
                format!("is not 1–{MAX_SENDER_NAME} characters without quotes, angle brackets, @ or control characters"),
                "give a plain display name like Acme Support, or null",
            );
            return None;
        }
        Some(name.to_owned())
    }

    fn reply_to(&mut self, object: &Map<String, Value>) -> Option<String> {
        let email = self.text(object, "reply_to")?.trim();
        if is_email(email) {
            Some(email.to_owned())
        } else {
            self.problem(
                "reply_to",
                "is not an e-mail address",
                "give an address like support@example.com, or null",
            );
            None
        }
    }
}

/// A settings document (`PUT /companies/{company_id}/settings`'s body) as settings, or every
/// problem with it. A field left out takes its default ([`CompanySettings::default`]).
pub fn parse(body: &[u8]) -> Result<CompanySettings, Vec<FieldProblem>> {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(vec![FieldProblem::new(
                "",
                "the body is not a JSON object",
                "send a JSON object of settings",
            )]);
        }
        Err(error) => {
            return Err(vec![FieldProblem::new(
                "",
                format!("the body is not JSON: {error}"),
                "send a JSON object of settings",
            )]);
        }
    };
    let mut check = Check {
        problems: Vec::new(),
    };
    for field in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        check.problem(
            field.clone(),
            "is not a settings field",
            &format!("use only {}", FIELDS.join(", ")),
        );
    }
    let settings = CompanySettings {
        recipients: check.recipients(&object),
        signals: check.signals(&object),
        immediate: check.boolean(&object, "immediate", false),
        digest: check.digest(&object),
        member_messages: check.boolean(&object, "member_messages", false),
        sender_name: check.sender_name(&object),
        reply_to: check.reply_to(&object),
        alert_phones: check.alert_phones(&object),
        urgent_signals: check.urgent_signals(&object),
        member_messages_by: None,
    };
    let alerting = settings.immediate || settings.digest.is_some();
    if alerting
        && settings.recipients.is_empty()
        && !check
            .problems
            .iter()
            .any(|p| p.field.starts_with("recipients"))
    {
        check.problem(
            "recipients",
            "is empty while alerts or a digest are on",
            "name at least one recipient, or turn immediate off and the digest off",
        );
    }
    if check.problems.is_empty() {
        Ok(settings)
    } else {
        Err(check.problems)
    }
}
