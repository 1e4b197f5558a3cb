//! Reads `infra/template.yaml`: the SAM template is the single source of truth for the local stack's
//! tables, queues, secrets, function environments, routes, queue triggers and schedules.
//!
//! Short-form intrinsics (`!Ref`, `!GetAtt`, `!Sub`, `!If`, `!Equals`, `!Not`, `!Condition`) are
//! normalised to their long form on load; [`Resolver`] evaluates `Ref`, `Fn::GetAtt`, `Fn::Sub`
//! and `Fn::If` over the template's `Conditions` (built from `Fn::Equals`, `Fn::Not` and
//! `Condition`), only the branch taken, and rejects anything else by name.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};

/// The parsed template, intrinsics in long form.
#[derive(Debug, Clone)]
pub struct Template {
    pub root: Value,
}

impl Template {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the template {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
        Ok(Self {
            root: to_json(yaml)?,
        })
    }

    pub fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(id, resource)| (id.as_str(), resource))
    }

    /// Logical ids of the resources of one CloudFormation type, in template order.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.resources()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    /// Parameter defaults.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        self.root
            .get("Parameters")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| Some((name.clone(), scalar(p.get("Default")?)?)))
            .collect()
    }

    /// The `Conditions` section: name → its expression (evaluated by [`Resolver`] when an
    /// `Fn::If` names it).
    pub fn conditions(&self) -> BTreeMap<String, Value> {
        self.root
            .get("Conditions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, condition)| (name.clone(), condition.clone()))
            .collect()
    }

    /// The HTTP API Lambda authorizers: authorizer name → logical id of its function
    /// (`Auth.Authorizers.<name>.FunctionArn: !GetAtt <Function>.Arn`).
    pub fn authorizers(&self) -> BTreeMap<String, String> {
        self.resources_of_type("AWS::Serverless::HttpApi")
            .filter_map(|(_, api)| api.pointer("/Properties/Auth/Authorizers")?.as_object())
            .flatten()
            .filter_map(|(name, authorizer)| {
                let function = authorizer.pointer("/FunctionArn/Fn::GetAtt/0")?.as_str()?;
                Some((name.clone(), function.to_owned()))
            })
            .collect()
    }

    /// Every function with its events, environment (Globals merged) and handler binary.
    pub fn functions(&self) -> anyhow::Result<Vec<FunctionDef>> {
        let globals = self.root.pointer("/Globals/Function");
        let global_env = globals
            .and_then(|g| g.pointer("/Environment/Variables"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let global_timeout = globals
            .and_then(|g| g.get("Timeout"))
            .and_then(Value::as_u64);

        self.resources_of_type("AWS::Serverless::Function")
            .map(|(id, resource)| {
                let properties = resource.get("Properties").cloned().unwrap_or_default();
                let code_uri = properties
                    .get("CodeUri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{id} has no CodeUri"))?;
                let package = code_uri
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or(code_uri);
                let handler = resource
                    .pointer("/Metadata/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .unwrap_or(package)
                    .to_owned();
                let mut environment = global_env.clone();
                if let Some(own) = properties
                    .pointer("/Environment/Variables")
                    .and_then(Value::as_object)
                {
                    environment.extend(own.clone());
                }
                let events = properties
                    .get("Events")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(name, event)| EventDef::parse(id, name, event))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(FunctionDef {
                    logical_id: id.to_owned(),
                    handler,
                    timeout_secs: properties
                        .get("Timeout")
                        .and_then(Value::as_u64)
                        .or(global_timeout)
                        .unwrap_or(3),
                    environment,
                    events,
                })
            })
            .collect()
    }
}

/// A function of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub logical_id: String,
    /// The binary that serves it: `BuildProperties.Binary`, else the crate (CodeUri's last segment).
    pub handler: String,
    pub timeout_secs: u64,
    /// Environment variables, unresolved.
    pub environment: Map<String, Value>,
    pub events: Vec<EventDef>,
}

/// One trigger of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDef {
    Http(HttpRoute),
    Sqs {
        name: String,
        /// Logical id of the queue.
        queue: String,
        batch_size: i32,
        report_batch_item_failures: bool,
    },
    Schedule {
        name: String,
        expression: String,
        input: Value,
    },
}

/// An HTTP API route of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpRoute {
    pub method: String,
    pub path: String,
    pub authorizer: Option<String>,
}

impl EventDef {
    fn parse(function: &str, name: &str, event: &Value) -> anyhow::Result<Self> {
        let kind = event
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let properties = event.get("Properties").cloned().unwrap_or_default();
        let text = |key: &str| {
            properties
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match kind {
            "HttpApi" => Ok(Self::Http(HttpRoute {
                method: text("Method")
                    .unwrap_or_else(|| "ANY".to_owned())
                    .to_uppercase(),
                path: text("Path")
                    .ok_or_else(|| anyhow!("{function}.{name}: HttpApi event without Path"))?,
                authorizer: properties
                    .pointer("/Auth/Authorizer")
                    .and_then(Value::as_str)
                    .filter(|a| *a != "NONE")
                    .map(str::to_owned),
            })),
            "SQS" => {
                let queue = properties
                    .get("Queue")
                    .and_then(|q| q.pointer("/Fn::GetAtt/0"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        anyhow!("{function}.{name}: SQS Queue must be !GetAtt <Queue>.Arn")
                    })?;
                Ok(Self::Sqs {
                    name: name.to_owned(),
                    queue: queue.to_owned(),
                    batch_size: properties
                        .get("BatchSize")
                        .and_then(Value::as_i64)
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(10),
                    report_batch_item_failures: properties
                        .get("FunctionResponseTypes")
                        .and_then(Value::as_array)
                        .is_some_and(|t| t.iter().any(|v| v == "ReportBatchItemFailures")),
                })
            }
            "ScheduleV2" | "Schedule" => Ok(Self::Schedule {
                name: name.to_owned(),
                expression: text("ScheduleExpression").ok_or_else(|| {
                    anyhow!("{function}.{name}: schedule without ScheduleExpression")
                })?,
                input: match text("Input") {
                    Some(input) => serde_json::from_str(&input)
                        .with_context(|| format!("{function}.{name}: Input is not JSON"))?,
                    None => Value::Object(Map::new()),
                },
            }),
            other => bail!("{function}.{name}: event type {other} is not run by the local stack"),
        }
    }
}

/// Converts YAML to JSON, turning CloudFormation short tags into long-form intrinsics.
fn to_json(value: serde_yaml_ng::Value) -> anyhow::Result<Value> {
    use serde_yaml_ng::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut object = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    other => bail!("non-string key {other:?}"),
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let inner = to_json(tagged.value)?;
            let (name, argument) = match tag.trim_start_matches('!') {
                "Ref" => ("Ref", inner),
                "GetAtt" => {
                    let argument = match inner {
                        Value::String(s) => {
                            let (resource, attribute) = s
                                .split_once('.')
                                .ok_or_else(|| anyhow!("!GetAtt {s} needs Resource.Attribute"))?;
                            Value::from(vec![resource, attribute])
                        }
                        other => other,
                    };
                    ("Fn::GetAtt", argument)
                }
                "Sub" => ("Fn::Sub", inner),
                "If" => ("Fn::If", inner),
                "Equals" => ("Fn::Equals", inner),
                "Not" => ("Fn::Not", inner),
                "Condition" => ("Condition", inner),
                other => bail!(
                    "unsupported tag !{other}: the local stack resolves !Ref, !GetAtt, !Sub, !If, \
                     !Equals, !Not and !Condition"
                ),
            };
            let mut object = Map::new();
            object.insert(name.to_owned(), argument);
            Value::Object(object)
        }
    })
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What a provisioned resource answers to `Ref` and `Fn::GetAtt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Physical {
    pub reference: String,
    pub attributes: BTreeMap<String, String>,
}

/// Evaluates intrinsics against parameters, pseudo parameters and provisioned resources.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Physical>,
    /// The template's `Conditions` ([`Template::conditions`]).
    pub conditions: BTreeMap<String, Value>,
}

impl Resolver {
    /// The value with every intrinsic evaluated.
    pub fn resolve(&self, value: &Value) -> anyhow::Result<Value> {
        match value {
            Value::Object(object) if object.len() == 1 => {
                let Some((key, argument)) = object.iter().next() else {
                    return Ok(value.clone());
                };
                match key.as_str() {
                    "Ref" => Ok(Value::String(self.reference(as_str(argument)?)?)),
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> = argument
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        let [resource, attribute] = parts[..] else {
                            bail!("Fn::GetAtt needs [resource, attribute], got {argument}");
                        };
                        Ok(Value::String(self.attribute(resource, attribute)?))
                    }
                    "Fn::Sub" => Ok(Value::String(self.substitute(as_str(argument)?)?)),
                    "Fn::If" => {
                        let [condition, then, otherwise] =
                            argument.as_array().map(Vec::as_slice).unwrap_or_default()
                        else {
                            bail!(
                                "Fn::If needs [condition, value if true, value if false], got {argument}"
                            );
                        };
                        let branch = if self.condition(as_str(condition)?)? {
                            then
                        } else {
                            otherwise
                        };
                        self.resolve(branch)
                    }
                    other if other.starts_with("Fn::") => {
                        bail!(
                            "{other} is not supported by the local stack (Ref, Fn::GetAtt, Fn::Sub, Fn::If are)"
                        )
                    }
                    _ => Ok(Value::Object(self.resolve_members(object)?)),
                }
            }
            Value::Object(object) => Ok(Value::Object(self.resolve_members(object)?)),
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<anyhow::Result<_>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    /// Resolves to a string (numbers and booleans are rendered as CloudFormation does).
    pub fn resolve_string(&self, value: &Value) -> anyhow::Result<String> {
        let resolved = self.resolve(value)?;
        scalar(&resolved).ok_or_else(|| anyhow!("expected a scalar, got {resolved}"))
    }

    fn resolve_members(&self, object: &Map<String, Value>) -> anyhow::Result<Map<String, Value>> {
        object
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
            .collect()
    }

    /// The value of the condition `name` of the template.
    fn condition(&self, name: &str) -> anyhow::Result<bool> {
        let expression = self
            .conditions
            .get(name)
            .ok_or_else(|| anyhow!("Fn::If {name}: no such condition"))?;
        self.truth(expression)
    }

    /// A condition expression: `Fn::Equals`, `Fn::Not` or `Condition`.
    fn truth(&self, expression: &Value) -> anyhow::Result<bool> {
        let single = expression
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next());
        match single {
            Some((key, Value::Array(pair))) if key == "Fn::Equals" && pair.len() == 2 => {
                Ok(self.resolve_string(&pair[0])? == self.resolve_string(&pair[1])?)
            }
            Some((key, Value::Array(one))) if key == "Fn::Not" && one.len() == 1 => {
                Ok(!self.truth(&one[0])?)
            }
            Some((key, Value::String(name))) if key == "Condition" => self.condition(name),
            _ => bail!(
                "condition {expression} is not supported by the local stack (Fn::Equals, Fn::Not, Condition are)"
            ),
        }
    }

    fn reference(&self, name: &str) -> anyhow::Result<String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        self.resources
            .get(name)
            .map(|r| r.reference.clone())
            .ok_or_else(|| anyhow!("Ref {name}: no such parameter or provisioned resource"))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> anyhow::Result<String> {
        self.resources
            .get(resource)
            .and_then(|r| r.attributes.get(attribute))
            .cloned()
            .ok_or_else(|| anyhow!("GetAtt {resource}.{attribute}: not provisioned locally"))
    }

    fn substitute(&self, text: &str) -> anyhow::Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| anyhow!("unterminated ${{ in {text}"))?;
            let name = &after[..end];
            let value = match name.split_once('.') {
                Some((resource, attribute)) if !name.starts_with("AWS::") => {
                    self.attribute(resource, attribute)?
                }
                _ => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn as_str(value: &Value) -> anyhow::Result<&str> {
    value
        .as_str()
        .ok_or_else(|| anyhow!("expected a string, got {value}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage
        QUEUE: !Ref Jobs
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: worker}}
    Properties:
      CodeUri: ../functions/jobs
      Timeout: 30
      Environment: {Variables: {ARN: !GetAtt Jobs.Arn, NAME: !Sub "${AWS::StackName}-${Jobs.QueueName}"}}
      Events:
        Get: {Type: HttpApi, Properties: {Method: get, Path: "/jobs/{id}", Auth: {Authorizer: A}}}
        Q: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 5, FunctionResponseTypes: [ReportBatchItemFailures]}}
        S: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 hour), Input: '{"a":1}'}}
"#;

    fn resolver() -> Resolver {
        let mut resolver = Resolver::default();
        resolver.parameters.insert("Stage".into(), "local".into());
        resolver
            .parameters
            .insert("AWS::StackName".into(), "st".into());
        resolver.resources.insert(
            "Jobs".into(),
            Physical {
                reference: "http://q/jobs".into(),
                attributes: [
                    ("Arn".into(), "arn:q".into()),
                    ("QueueName".into(), "jobs".into()),
                ]
                .into(),
            },
        );
        resolver
    }

    #[test]
    fn reads_functions_with_their_events_and_merged_environment() {
        let template = Template::parse(TEMPLATE).unwrap();
        let functions = template.functions().unwrap();

        let [function] = &functions[..] else {
            panic!("{functions:?}")
        };
        assert_eq!(function.handler, "worker");
        assert_eq!(function.timeout_secs, 30);
        assert_eq!(
            function.events,
            [
                EventDef::Http(HttpRoute {
                    method: "GET".into(),
                    path: "/jobs/{id}".into(),
                    authorizer: Some("A".into())
                }),
                EventDef::Sqs {
                    name: "Q".into(),
                    queue: "Jobs".into(),
                    batch_size: 5,
                    report_batch_item_failures: true
                },
                EventDef::Schedule {
                    name: "S".into(),
                    expression: "rate(1 hour)".into(),
                    input: json!({"a": 1})
                },
            ]
        );
        let environment: BTreeMap<_, _> = function
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), resolver().resolve_string(v).unwrap()))
            .collect();
        assert_eq!(
            environment,
            [
                ("ARN".to_owned(), "arn:q".to_owned()),
                ("NAME".to_owned(), "st-jobs".to_owned()),
                ("QUEUE".to_owned(), "http://q/jobs".to_owned()),
                ("STAGE".to_owned(), "local".to_owned()),
            ]
            .into()
        );
    }

    #[test]
    fn reads_which_function_each_authorizer_invokes() {
        let template = Template::parse(
            "Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      Auth:\n        Authorizers:\n          A:\n            FunctionArn: !GetAtt AuthFn.Arn\n",
        )
        .unwrap();
        assert_eq!(
            template.authorizers(),
            [("A".to_owned(), "AuthFn".to_owned())].into()
        );
    }

    #[test]
    fn names_unsupported_intrinsics() {
        let error = resolver()
            .resolve(&json!({"Fn::Join": ["", []]}))
            .unwrap_err();
        assert!(error.to_string().contains("Fn::Join"), "{error}");
        let error = Template::parse("A: !Select [0, [1]]").unwrap_err();
        assert!(error.to_string().contains("!Select"), "{error}");
    }

    #[test]
    fn if_takes_the_branch_its_condition_names_and_resolves_only_that_one() {
        let template = Template::parse(
            "Conditions:\n  HasUrl: !Not [!Equals [!Ref Url, \"\"]]\n  NoUrl: !Not [!Condition HasUrl]\nA: !If [HasUrl, !Ref Url, !Sub \"https://${Unprovisioned}.example\"]\nB: !If [NoUrl, !Ref Missing, !Ref Url]\n",
        )
        .unwrap();
        let mut resolver = resolver();
        resolver.conditions = template.conditions();
        resolver
            .parameters
            .insert("Url".into(), "http://127.0.0.1:3000".into());
        for field in ["A", "B"] {
            assert_eq!(
                resolver.resolve_string(&template.root[field]).unwrap(),
                "http://127.0.0.1:3000",
                "{field}"
            );
        }
        resolver.parameters.insert("Url".into(), String::new());
        let error = resolver.resolve(&template.root["A"]).unwrap_err();
        assert!(error.to_string().contains("Unprovisioned"), "{error}");
        assert!(
            resolver
                .resolve(&json!({"Fn::If": ["Nope", 1, 2]}))
                .is_err()
        );
    }

    #[test]
    fn unknown_references_are_errors_not_blanks() {
        assert!(resolver().resolve(&json!({"Ref": "Nope"})).is_err());
        assert!(
            resolver()
                .resolve(&json!({"Fn::Sub": "${Jobs.Nope}"}))
                .is_err()
        );
    }
}
