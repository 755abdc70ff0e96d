use super::*;
use crate::cta::{ObjectType, StreamType, StreamingFormat};

/// Every key of CTA-5004's examples, with its values.
fn spec_example() -> Cmcd {
    Cmcd {
        br: Some(3200),
        d: Some(4004),
        ot: Some(ObjectType::Video),
        tb: Some(6000),
        bl: Some(21300),
        ltc: None,
        dl: Some(18500),
        mtp: Some(48100),
        nor: Some("..%2F300kbps%2Ftrack.m4v".into()),
        nrr: Some("12323-48763".into()),
        su: true,
        cid: Some("faec5fc2-ac30-11ea-bb37-0242ac130002".into()),
        pr: Some(1.08),
        sf: Some(StreamingFormat::Dash),
        sid: Some("6e2fb550-c457-11e9-bb97-0800200c9a66".into()),
        st: Some(StreamType::Vod),
        v: None,
        bs: true,
        rtp: Some(12000),
    }
}

const SPEC_QUERY: &str = "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22faec5fc2-ac30-11ea-bb37-0242ac130002%22%2Cd%3D4004%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%22..%252F300kbps%252Ftrack.m4v%22%2Cnrr%3D%2212323-48763%22%2Cot%3Dv%2Cpr%3D1.08%2Crtp%3D12000%2Csf%3Dd%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Cst%3Dv%2Csu%2Ctb%3D6000";

#[test]
fn the_query_form_matches_the_spec_example_byte_for_byte() {
    let url = append_to_url("https://cdn.example/seg.m4v", &spec_example());
    assert_eq!(url, format!("https://cdn.example/seg.m4v?{SPEC_QUERY}"));
    let url = append_to_url("/media/a.mp4?__token__=x#t=3", &spec_example());
    assert_eq!(url, format!("/media/a.mp4?__token__=x&{SPEC_QUERY}#t=3"));
}

#[test]
fn the_header_form_puts_each_key_in_its_header() {
    let headers = to_headers(&spec_example());
    assert_eq!(
        headers,
        vec![
            ("CMCD-Object", "br=3200,d=4004,ot=v,tb=6000".to_string()),
            (
                "CMCD-Request",
                "bl=21300,dl=18500,mtp=48100,nor=\"..%2F300kbps%2Ftrack.m4v\",nrr=\"12323-48763\",su"
                    .to_string()
            ),
            (
                "CMCD-Session",
                "cid=\"faec5fc2-ac30-11ea-bb37-0242ac130002\",pr=1.08,sf=d,sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",st=v"
                    .to_string()
            ),
            ("CMCD-Status", "bs,rtp=12000".to_string()),
        ]
    );
}

#[test]
fn both_forms_read_back_to_the_same_keys() {
    let query = format!("a=1&{SPEC_QUERY}&b=2");
    assert_eq!(from_query(&query), Some(Ok(spec_example())));
    let headers = to_headers(&spec_example());
    let read = from_headers(headers.iter().map(|(name, value)| (*name, value.as_str())));
    assert_eq!(read, Some(Ok(spec_example())));
}

#[test]
fn keys_in_any_order_from_other_players_are_read() {
    // As in the validator's examples: `bs` before `br`, `sf=o`, `st=l`.
    let query = "CMCD=bl%3D21300%2Cbs%2Cbr%3D3200%2Cot%3Dv%2Csf%3Do%2Csid%3D%22x%22%2Cst%3Dl%2Csu%2Ccom.example-k%3D4";
    let cmcd = from_query(query).expect("present").expect("valid");
    assert_eq!(cmcd.br, Some(3200));
    assert!(cmcd.bs && cmcd.su);
    assert_eq!(cmcd.sf, Some(StreamingFormat::Other));
    assert_eq!(cmcd.st, Some(StreamType::Live));
    // hls.js' header form, lower-case names, spaces after commas.
    let cmcd = from_headers([
        ("cmcd-request", "bl=8000, mtp=20000"),
        ("cmcd-session", "sid=\"s\", sf=h"),
        ("accept", "*/*"),
    ])
    .expect("present")
    .expect("valid");
    assert_eq!((cmcd.bl, cmcd.mtp), (Some(8000), Some(20000)));
    assert_eq!(cmcd.sid.as_deref(), Some("s"));
    assert_eq!(from_headers([("accept", "*/*")]), None);
}

#[test]
fn values_are_rounded_and_defaults_left_out_as_the_spec_says() {
    let cmcd = Cmcd {
        bl: Some(21_349),
        dl: Some(21_350),
        mtp: Some(40),
        rtp: Some(12_001),
        pr: Some(1.0),
        v: Some(1),
        ..Cmcd::default()
    };
    assert_eq!(to_query_value(&cmcd), "bl=21300,dl=21400,rtp=12100");
    let rate = Cmcd {
        pr: Some(1.5),
        v: Some(2),
        ..Cmcd::default()
    };
    assert_eq!(to_query_value(&rate), "pr=1.5,v=2");
    assert_eq!(to_query_value(&Cmcd::default()), "");
    assert_eq!(append_to_url("/a.mp4", &Cmcd::default()), "/a.mp4");
}

#[test]
fn strings_are_quoted_escaped_and_ids_clipped() {
    let cmcd = Cmcd {
        sid: Some(format!("a\"b\\c{}", "x".repeat(100))),
        ..Cmcd::default()
    };
    let value = to_query_value(&cmcd);
    assert!(value.starts_with("sid=\"a\\\"b\\\\c"), "{value}");
    let read = from_query(&append_to_url("/f", &cmcd)[3..])
        .expect("present")
        .expect("valid");
    let sid = read.sid.expect("sid");
    assert_eq!(sid.chars().count(), MAX_ID_LEN);
    assert!(sid.starts_with("a\"b\\c"));
}

#[test]
fn stripping_leaves_every_other_argument_as_sent() {
    let (rest, value) = strip_query("__token__=exp%3D1~hmac%3Dab&CMCD=bl%3D100&x=");
    assert_eq!(rest, "__token__=exp%3D1~hmac%3Dab&x=");
    assert_eq!(value, Some(Ok("bl=100".to_string())));
    assert_eq!(strip_query("a=1&b=2"), ("a=1&b=2".to_string(), None));
    assert_eq!(
        strip_query("CMCD="),
        (String::new(), Some(Ok(String::new())))
    );
}

#[test]
fn bad_values_are_errors_not_panics() {
    assert!(matches!(
        from_query("CMCD=bl%3D%22x%22"),
        Some(Err(CmcdError::Type("bl")))
    ));
    assert!(matches!(
        from_query("CMCD=bs%3Dtrue"),
        Some(Err(CmcdError::Type("bs")))
    ));
    assert!(matches!(
        from_query("CMCD=%2C%2C%3D"),
        Some(Err(CmcdError::Syntax(_)))
    ));
    assert!(matches!(
        from_query("CMCD=%FF"),
        Some(Err(CmcdError::Encoding))
    ));
    assert!(matches!(
        from_query("CMCD=ot%3Dzz"),
        Some(Err(CmcdError::Type("ot")))
    ));
    assert!(matches!(
        from_query("CMCD=bl%3D-5"),
        Some(Err(CmcdError::Type("bl")))
    ));
    assert_eq!(from_query("CMCD="), Some(Ok(Cmcd::default())));
}

#[test]
fn the_v2_live_latency_key_is_written_in_order_and_read_back() {
    let cmcd = Cmcd {
        bl: Some(480),
        ltc: Some(640),
        sid: Some("s".into()),
        st: Some(StreamType::Live),
        v: Some(2),
        ..Cmcd::default()
    };
    let payload = to_query_value(&cmcd);
    assert_eq!(payload, "bl=500,ltc=640,sid=\"s\",st=l,v=2");
    let read = parse_value(&payload).expect("valid");
    assert_eq!(read.ltc, Some(640));
    assert_eq!(read.v, Some(2));
    assert!(
        parse_value("ltc=\"slow\"").is_err(),
        "a string is no latency"
    );
}
