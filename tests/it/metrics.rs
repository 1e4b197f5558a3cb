//! The template's dashboard and alarms name only metrics the code emits: every `ChurnSaver`
//! metric a widget or an alarm names is in the catalogue (`shared::domain::metrics::catalogue`,
//! whose constants are the only names an emitter can use) under the dimensions it names; AWS's
//! own metrics only with dimensions their namespace has. A renamed metric fails here, not as an
//! alarm that silently never fires.

use churnsaver::template::Template;
use serde_json::Value;
use shared::domain::metrics::catalogue;

/// AWS's own namespaces the template may name, with their dimension sets.
const BUILT_IN: &[(&str, &[&[&str]])] = &[
    ("AWS/Lambda", &[&["FunctionName"]]),
    ("AWS/SQS", &[&["QueueName"]]),
    (
        "AWS/ApiGateway",
        &[
            &["ApiId"],
            &["ApiId", "Stage"],
            &["ApiId", "Stage", "Route"],
        ],
    ),
];

/// A metric a widget or an alarm names.
#[derive(Debug)]
struct Named {
    place: String,
    namespace: String,
    name: String,
    dimensions: Vec<String>,
}

fn template_text() -> String {
    std::fs::read_to_string(churnsaver::template_path()).unwrap()
}

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The metric an alarm's `Properties` (or a metric-math item's `MetricStat.Metric`) names.
fn alarm_metric(place: &str, metric: &Value) -> Option<Named> {
    let text = |key: &str| metric.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(Named {
        place: place.to_owned(),
        namespace: text("Namespace")?,
        name: text("MetricName")?,
        dimensions: metric
            .get("Dimensions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("Name").and_then(Value::as_str).map(str::to_owned))
            .collect(),
    })
}

/// The dashboard body with every `${…}` of its `Fn::Sub` replaced by a placeholder, parsed.
fn dashboard_body(properties: &Value) -> Value {
    let body = &properties["DashboardBody"];
    let text = body
        .get("Fn::Sub")
        .map_or(body, |sub| sub.get(0).unwrap_or(sub))
        .as_str()
        .expect("DashboardBody is a string or an Fn::Sub of one");
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        plain.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${…}") + start;
        plain.push_str("placeholder");
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    serde_json::from_str(&plain).expect("the dashboard body is JSON")
}

/// What a `SEARCH('{Namespace,dim,…} MetricName="…"', …)` expression names.
fn searched(place: &str, expression: &str) -> Option<Result<Named, String>> {
    let query = expression.strip_prefix("SEARCH('{")?;
    let Some((schema, rest)) = query.split_once('}') else {
        return Some(Err(format!("{place}: unreadable {expression}")));
    };
    let mut schema = schema.split(',').map(|s| s.trim().to_owned());
    let namespace = schema.next().unwrap_or_default();
    let Some(name) = rest
        .split_once("MetricName=\"")
        .and_then(|(_, after)| after.split_once('"'))
        .map(|(name, _)| name.to_owned())
    else {
        return Some(Err(format!("{place}: a SEARCH without MetricName")));
    };
    Some(Ok(Named {
        place: place.to_owned(),
        namespace,
        name,
        dimensions: schema.collect(),
    }))
}

/// Every metric the template's alarms and dashboards name, and what could not be read.
fn named_metrics(template: &Template) -> (Vec<Named>, Vec<String>) {
    let (mut named, mut unreadable) = (Vec::new(), Vec::new());
    for (id, alarm) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        let properties = &alarm["Properties"];
        named.extend(alarm_metric(id, properties));
        for item in properties["Metrics"].as_array().into_iter().flatten() {
            named.extend(alarm_metric(id, &item["MetricStat"]["Metric"]));
        }
    }
    for (id, dashboard) in template.resources_of_type("AWS::CloudWatch::Dashboard") {
        let body = dashboard_body(&dashboard["Properties"]);
        for widget in body["widgets"].as_array().into_iter().flatten() {
            let title = widget["properties"]["title"].as_str().unwrap_or_default();
            let place = format!("{id} \"{title}\"");
            for entry in widget["properties"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
            {
                match entry.first() {
                    Some(Value::Object(math)) => {
                        let expression = math["expression"].as_str().unwrap_or_default();
                        match searched(&place, expression) {
                            Some(Ok(metric)) => named.push(metric),
                            Some(Err(problem)) => unreadable.push(problem),
                            None => {}
                        }
                    }
                    Some(Value::String(namespace)) if namespace != "." => {
                        let fields = strings(entry);
                        named.push(Named {
                            place: place.clone(),
                            namespace: namespace.clone(),
                            name: fields.get(1).cloned().unwrap_or_default(),
                            dimensions: fields.iter().skip(2).step_by(2).cloned().collect(),
                        });
                    }
                    _ => unreadable.push(format!(
                        "{place}: write every metric in full, not {entry:?}"
                    )),
                }
            }
        }
    }
    (named, unreadable)
}

fn same_set(a: &[&str], b: &[String]) -> bool {
    let mut a: Vec<&str> = a.to_vec();
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Why each named metric is not one the code emits or AWS publishes (empty: all are).
fn problems(template: &Template) -> Vec<String> {
    let (named, mut problems) = named_metrics(template);
    for metric in &named {
        let Named {
            place,
            namespace,
            name,
            dimensions,
        } = metric;
        let dims: Vec<&str> = dimensions.iter().map(String::as_str).collect();
        if namespace == shared::domain::metrics::NAMESPACE {
            match catalogue::entry(name) {
                None => problems.push(format!("{place}: `{name}` is not emitted")),
                Some(entry) if !entry.has_dimensions(&dims) => problems.push(format!(
                    "{place}: `{name}` is not emitted with the dimensions {dims:?}"
                )),
                Some(_) => {}
            }
        } else {
            match BUILT_IN.iter().find(|(ns, _)| ns == namespace) {
                None => problems.push(format!("{place}: unknown namespace {namespace}")),
                Some((_, sets)) if !sets.iter().any(|set| same_set(set, dimensions)) => problems
                    .push(format!(
                        "{place}: {namespace} has no dimension set {dims:?}"
                    )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[test]
fn every_dashboard_widget_and_alarm_names_a_metric_the_code_emits_with_its_dimensions() {
    let template = Template::parse(&template_text()).unwrap();

    assert_eq!(problems(&template), Vec::<String>::new());
    let (named, _) = named_metrics(&template);
    let ours = |place: &str| {
        named
            .iter()
            .filter(|m| m.place.starts_with(place) && m.namespace == "ChurnSaver")
            .count()
    };
    // The reader found them: the dashboard's and an alarm's own metrics are checked.
    assert!(ours("Dashboard") >= 30, "{named:?}");
    assert_eq!(ours("WhopProvider5xxRateAlarm"), 1);
}

#[test]
fn a_dashboard_or_alarm_naming_a_metric_the_code_does_not_emit_fails_the_check() {
    let renamed = template_text().replace("provider_latency", "provider_latency_ms");
    let undimensioned = template_text().replace(
        "{Name: function, Value: processor}",
        "{Name: queue, Value: processor}",
    );

    let renamed = problems(&Template::parse(&renamed).unwrap());
    let undimensioned = problems(&Template::parse(&undimensioned).unwrap());

    assert!(
        renamed
            .iter()
            .any(|p| p.starts_with("Dashboard ") && p.contains("provider_latency_ms")),
        "{renamed:?}"
    );
    assert!(
        renamed
            .iter()
            .any(|p| p.starts_with("WhopProviderLatencyAlarm:")),
        "{renamed:?}"
    );
    assert_eq!(
        undimensioned,
        [
            "WebhookProcessingFailuresAlarm: `events_failed` is not emitted with the dimensions [\"queue\"]"
        ]
    );
}

#[test]
fn every_function_has_a_log_group_with_retention_and_an_errors_alarm() {
    let template = Template::parse(&template_text()).unwrap();
    let groups: Vec<&Value> = template
        .resources_of_type("AWS::Logs::LogGroup")
        .map(|(_, group)| &group["Properties"])
        .collect();
    for group in &groups {
        assert!(group.get("RetentionInDays").is_some(), "{group}");
    }
    let errors_alarms: Vec<String> = template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .filter(|(_, alarm)| alarm["Properties"]["MetricName"] == "Errors")
        .map(|(_, alarm)| alarm["Properties"]["Dimensions"][0]["Value"]["Ref"].to_string())
        .collect();
    for (function, _) in template.resources_of_type("AWS::Serverless::Function") {
        let name = serde_json::json!({"Fn::Sub": format!("/aws/lambda/${{{function}}}")});
        assert!(
            groups.iter().any(|group| group["LogGroupName"] == name),
            "{function} has no log group"
        );
        assert!(
            errors_alarms.contains(&format!("\"{function}\"")),
            "{function} has no errors alarm"
        );
    }
}

#[test]
fn the_runbook_alarms_have_their_thresholds() {
    let template = Template::parse(&template_text()).unwrap();
    let properties = |id: &str| {
        template
            .resources()
            .find(|(logical, _)| *logical == id)
            .map(|(_, alarm)| alarm["Properties"].clone())
            .unwrap()
    };
    let settings = |p: &Value| {
        (
            p["Statistic"]
                .as_str()
                .or(p["ExtendedStatistic"].as_str())
                .unwrap()
                .to_owned(),
            p["Period"].as_u64().unwrap() * p["EvaluationPeriods"].as_u64().unwrap(),
            p["Threshold"].clone(),
        )
    };
    for provider in [
        "Whop", "Stripe", "Gumroad", "PayPal", "Resend", "SendGrid", "Twilio", "Google", "Ga4",
    ] {
        // 5xx on more than 5 % of attempts over 5 minutes; p95 above 5 s for 10 minutes.
        assert_eq!(
            settings(&properties(&format!("{provider}Provider5xxRateAlarm"))),
            ("Average".to_owned(), 300, serde_json::json!(0.05))
        );
        assert_eq!(
            settings(&properties(&format!("{provider}ProviderLatencyAlarm"))),
            ("p95".to_owned(), 600, serde_json::json!(5000))
        );
    }
    assert_eq!(
        settings(&properties("WebhookProcessingFailuresAlarm")),
        ("Sum".to_owned(), 600, serde_json::json!(10))
    );
    assert_eq!(
        settings(&properties("AuthFailuresAlarm")),
        (
            "Sum".to_owned(),
            3600,
            serde_json::json!({"Ref": "AuthFailuresPerHourThreshold"})
        )
    );
}
