use super::*;

#[test]
fn file_names_keep_safe_characters_and_their_extension() {
    assert_eq!(
        sanitise_file_name("C:\\reports\\KDP Prior Month (EUR).xlsx").as_deref(),
        Some("KDP_Prior_Month__EUR_.xlsx")
    );
    assert_eq!(
        sanitise_file_name("../../.hidden.csv").as_deref(),
        Some("hidden.csv")
    );
    assert_eq!(sanitise_file_name("..").as_deref(), None);
    assert_eq!(sanitise_file_name("///").as_deref(), None);
    let long = format!("{}.xlsx", "a".repeat(300));
    let kept = sanitise_file_name(&long).unwrap_or_default();
    assert_eq!((kept.len(), kept.ends_with(".xlsx")), (MAX_FILE_NAME, true));
}

#[test]
fn a_job_id_names_its_company_and_its_key_names_the_job() {
    let id = JobId::new("biz_1");
    let parsed = JobId::parse(&id.to_string());
    assert_eq!(parsed.as_ref(), Some(&id));
    let key = format!("ingestions/biz_1/{}/r.csv", id.part);
    assert_eq!(JobId::of_object_key(&key), Some(id));
    for bad in [
        "ingestions/biz_1/nothex/r.csv",
        "ingestions/biz_1/0123",
        "other/biz_1/0190f3a1b2c3d4e5f60718293a4b5c6d/r.csv",
        "ingestions/biz#1/0190f3a1b2c3d4e5f60718293a4b5c6d/r.csv",
    ] {
        assert_eq!(JobId::of_object_key(bad), None, "{bad}");
    }
    assert_eq!(JobId::parse("biz_1"), None);
}

#[test]
fn event_keys_are_url_decoded_and_bad_escapes_refused() {
    assert_eq!(
        decode_event_key("a+b%2Fc.csv").as_deref(),
        Some("a b/c.csv")
    );
    assert_eq!(decode_event_key("%zz"), None);
    assert_eq!(decode_event_key("%e9").as_deref(), None, "not UTF-8");
    assert_eq!(decode_event_key("tail%4").as_deref(), Some("tail%4"));
}
