//! Byte ranges end to end: single, suffix, open-ended, multipart, unsatisfiable, on
//! empty, small (read whole) and big (streamed) files and on the committed sample.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use common::{
    BIG_LEN, SMALL_LEN, TestServer, big_content, client, parse_multipart, request, small_content,
};
use reqwest::Method;

/// What a ranged GET of `small.mp4` must answer.
#[derive(Debug)]
enum Expect {
    /// 200 with the whole file.
    Full,
    /// 206 with this one inclusive range.
    Partial(u64, u64),
    /// 206 `multipart/byteranges` with these parts, in this order.
    Multipart(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Checks a response to a ranged GET against `expect` and the file content.
fn check_range_reply(case: &str, reply: &common::Reply, content: &[u8], expect: &Expect) {
    let len = content.len() as u64;
    assert_eq!(
        reply.header("accept-ranges"),
        Some("bytes"),
        "{case}: Accept-Ranges"
    );
    if !matches!(expect, Expect::Unsatisfiable) {
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string().as_str()),
            "{case}: Content-Length matches the body"
        );
    }
    match expect {
        Expect::Full => {
            assert_eq!(reply.status, 200, "{case}: status");
            assert_eq!(reply.header("content-range"), None, "{case}: Content-Range");
            assert!(reply.body == content, "{case}: body is the whole file");
        }
        Expect::Partial(first, last) => {
            assert_eq!(reply.status, 206, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                Some(format!("bytes {first}-{last}/{len}").as_str()),
                "{case}: Content-Range"
            );
            assert!(
                reply.body == content[*first as usize..=*last as usize],
                "{case}: body is bytes {first}-{last}"
            );
        }
        Expect::Multipart(ranges) => {
            assert_eq!(reply.status, 206, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                None,
                "{case}: no top-level Content-Range"
            );
            let content_type = reply.header("content-type").expect("Content-Type");
            let boundary = content_type
                .strip_prefix("multipart/byteranges; boundary=")
                .unwrap_or_else(|| panic!("{case}: Content-Type {content_type:?}"));
            let parts = parse_multipart(&reply.body, boundary)
                .unwrap_or_else(|e| panic!("{case}: multipart body: {e}"));
            assert_eq!(parts.len(), ranges.len(), "{case}: number of parts");
            for (part, (first, last)) in parts.iter().zip(ranges) {
                assert_eq!(
                    part.content_range,
                    format!("bytes {first}-{last}/{len}"),
                    "{case}: part Content-Range"
                );
                assert_eq!(part.content_type, "video/mp4", "{case}: part Content-Type");
                assert!(
                    part.body == content[*first as usize..=*last as usize],
                    "{case}: part body is bytes {first}-{last}"
                );
            }
        }
        Expect::Unsatisfiable => {
            assert_eq!(reply.status, 416, "{case}: status");
            assert_eq!(
                reply.header("content-range"),
                Some(format!("bytes */{len}").as_str()),
                "{case}: Content-Range"
            );
        }
    }
}

#[tokio::test]
async fn range_requests_on_a_small_file() {
    let server = TestServer::start(&[]);
    let client = client();
    let content = small_content();
    let seventeen = (0..17)
        .map(|i| format!("{0}-{0}", i * 50))
        .collect::<Vec<_>>()
        .join(",");
    let sixteen_whole = vec!["0-"; 16].join(",");
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "first 100 bytes",
            "bytes=0-99".into(),
            Expect::Partial(0, 99),
        ),
        ("open-ended", "bytes=500-".into(), Expect::Partial(500, 999)),
        ("suffix", "bytes=-100".into(), Expect::Partial(900, 999)),
        (
            "last byte only",
            "bytes=999-999".into(),
            Expect::Partial(999, 999),
        ),
        (
            "end past the file is clamped",
            "bytes=990-1990".into(),
            Expect::Partial(990, 999),
        ),
        (
            "suffix longer than the file",
            "bytes=-5000".into(),
            Expect::Partial(0, 999),
        ),
        (
            "unit is case-insensitive",
            "Bytes=0-1".into(),
            Expect::Partial(0, 1),
        ),
        (
            "start at the length",
            "bytes=1000-".into(),
            Expect::Unsatisfiable,
        ),
        ("empty suffix", "bytes=-0".into(), Expect::Unsatisfiable),
        (
            "reversed range is ignored",
            "bytes=5-1".into(),
            Expect::Full,
        ),
        ("garbage is ignored", "bytes=abc".into(), Expect::Full),
        ("other unit is ignored", "items=0-1".into(), Expect::Full),
        (
            "two distant ranges",
            "bytes=0-9,500-509".into(),
            Expect::Multipart(vec![(0, 9), (500, 509)]),
        ),
        (
            "three ranges out of order are sent ascending",
            "bytes=900-909,0-9,400-409".into(),
            Expect::Multipart(vec![(0, 9), (400, 409), (900, 909)]),
        ),
        (
            "overlapping ranges are coalesced",
            "bytes=0-100,50-150".into(),
            Expect::Partial(0, 150),
        ),
        (
            "an unsatisfiable spec beside a good one is dropped",
            "bytes=2000-3000,0-1".into(),
            Expect::Partial(0, 1),
        ),
        (
            "17 ranges are ignored, never amplified",
            format!("bytes={seventeen}"),
            Expect::Full,
        ),
        (
            "16 whole-file ranges are one range, never amplified",
            format!("bytes={sixteen_whole}"),
            Expect::Partial(0, 999),
        ),
    ];
    for (case, range, expect) in &cases {
        let reply = request(
            &client,
            Method::GET,
            &server.url("/media/small.mp4"),
            &[("range", range)],
        )
        .await;
        check_range_reply(case, &reply, &content, expect);
        if !matches!(expect, Expect::Multipart(_)) {
            assert!(
                reply.body.len() <= SMALL_LEN,
                "{case}: body larger than the file"
            );
        }
    }
    let plain = request(&client, Method::GET, &server.url("/media/small.mp4"), &[]).await;
    check_range_reply("no Range header", &plain, &content, &Expect::Full);
}

#[tokio::test]
async fn ranges_on_an_empty_file() {
    let server = TestServer::start(&[]);
    let client = client();
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("whole empty file", None, 200),
        ("open range", Some("bytes=0-"), 416),
        ("suffix range is ignored", Some("bytes=-1"), 200),
    ];
    for (case, range, status) in cases {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let reply = request(
            &client,
            Method::GET,
            &server.url("/media/empty.mp4"),
            &headers,
        )
        .await;
        assert_eq!(reply.status, status, "{case}");
        if status == 200 {
            assert!(reply.body.is_empty(), "{case}: body");
            assert_eq!(reply.header("content-length"), Some("0"), "{case}");
        } else {
            assert_eq!(reply.header("content-range"), Some("bytes */0"), "{case}");
        }
        assert_eq!(reply.header("accept-ranges"), Some("bytes"), "{case}");
    }
}

#[tokio::test]
async fn big_file_is_streamed_byte_exact_whole_and_in_ranges() {
    let server = TestServer::start(&[]);
    let client = client();
    let content = big_content();
    let url = server.url("/media/big.mp4");

    let whole = request(&client, Method::GET, &url, &[]).await;
    check_range_reply("whole 3 MiB file", &whole, &content, &Expect::Full);
    assert_eq!(whole.body.len(), BIG_LEN);

    let cases: Vec<(&str, &str, Expect)> = vec![
        (
            "2 MB from the middle",
            "bytes=1000000-2999999",
            Expect::Partial(1_000_000, 2_999_999),
        ),
        (
            "last 700000 bytes",
            "bytes=-700000",
            Expect::Partial(2_445_728, 3_145_727),
        ),
        (
            "multipart larger than what is read whole",
            "bytes=0-9,1048576-2097151,3145000-",
            Expect::Multipart(vec![(0, 9), (1_048_576, 2_097_151), (3_145_000, 3_145_727)]),
        ),
    ];
    for (case, range, expect) in &cases {
        let reply = request(&client, Method::GET, &url, &[("range", range)]).await;
        check_range_reply(case, &reply, &content, expect);
    }
}

#[tokio::test]
async fn committed_sample_first_100_bytes() {
    let media = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/media");
    let sample = std::fs::read(media.join("caudal-sample.mp4")).expect("committed sample");
    let server = TestServer::start_serving(&media, &[]);
    let reply = request(
        &client(),
        Method::GET,
        &server.url("/media/caudal-sample.mp4"),
        &[("range", "bytes=0-99")],
    )
    .await;
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body.len(), 100);
    assert_eq!(reply.body, sample[..100]);
    assert_eq!(
        reply.header("content-range"),
        Some(format!("bytes 0-99/{}", sample.len()).as_str())
    );
    assert_eq!(reply.header("content-type"), Some("video/mp4"));
}
