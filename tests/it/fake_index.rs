//! Tests of the fake index itself: what it serves must be right before tack is tested on it.

use std::io::{Cursor, Read, Write};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_RANGE, ETAG, IF_NONE_MATCH, LOCATION, RANGE};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::wheel::sha256_hex;
use crate::common::{FakeIndex, Fault, FaultKind, Format, IndexOptions, Scenario};

const JSON: &str = "application/vnd.pypi.simple.v1+json";

fn scenario() -> Scenario {
    Scenario::from_toml(
        "harness",
        r#"
        [packages]
        b = ["1.0.0", "2.0.0"]

        [packages.Foo_Bar."1.0.0"]
        dependencies = ["b>=1", "colorama; sys_platform == 'win32'"]
        extras = { speed = ["b>=2"] }
        requires-python = ">=3.9,<4"
        tags = ["py3-none-any", "cp312-cp312-manylinux_2_17_x86_64"]
        sdist = true
        yanked-files = { "cp312-cp312-manylinux_2_17_x86_64" = "broken <build>" }

        [packages.Foo_Bar."0.9"]
        yanked = true

        [stages.later]
        foo-bar = ["2.0.0"]
        "#,
    )
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_json(index: &FakeIndex, path: &str) -> Value {
    let response = client()
        .get(format!("{}{path}", index.url()))
        .header(ACCEPT, JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], JSON);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn download(url: &str) -> Vec<u8> {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn json_page_lists_files_with_hashes_and_sizes() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let page = get_json(&index, "foo-bar/").await;
    assert_eq!(page["meta"]["api-version"], "1.1");
    assert_eq!(page["name"], "foo-bar");
    assert_eq!(page["versions"], serde_json::json!(["0.9", "1.0.0"]));
    let files = page["files"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "foo_bar-0.9-py3-none-any.whl",
            "foo_bar-1.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "foo_bar-1.0.0-py3-none-any.whl",
            "foo_bar-1.0.0.tar.gz",
        ]
    );
    for file in files {
        let filename = file["filename"].as_str().unwrap();
        let bytes = download(file["url"].as_str().unwrap()).await;
        assert_eq!(file["hashes"]["sha256"], sha256_hex(&bytes), "{filename}");
        assert_eq!(file["hashes"]["sha256"], index.file_sha256(filename));
        assert_eq!(file["size"], bytes.len(), "{filename}");
        assert_eq!(file["core-metadata"], false);
    }
    assert_eq!(files[0]["yanked"], true);
    assert_eq!(files[0]["requires-python"], Value::Null);
    assert_eq!(files[1]["yanked"], "broken <build>");
    assert_eq!(files[2]["yanked"], false);
    assert_eq!(files[2]["requires-python"], ">=3.9,<4");
    // Upload times follow version order.
    assert_eq!(files[0]["upload-time"], "2024-01-01T00:00:00Z");
    assert_eq!(files[2]["upload-time"], "2024-01-01T01:00:00Z");

    let root = get_json(&index, "").await;
    assert_eq!(
        root["projects"],
        serde_json::json!([{ "name": "b" }, { "name": "foo-bar" }])
    );
}

#[tokio::test]
async fn html_page_has_hashes_markers_and_relative_links() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let page_url = format!("{}foo-bar/", index.url());
    let response = client().get(&page_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    let wheel = "foo_bar-1.0.0-py3-none-any.whl";
    let sha = index.file_sha256(wheel);
    let href = format!("../../files/{wheel}#sha256={sha}");
    assert!(html.contains(&format!(
        "<a href=\"{href}\" data-requires-python=\"&gt;=3.9,&lt;4\">{wheel}</a>"
    )));
    assert!(html.contains("data-yanked=\"broken &lt;build&gt;\""));
    assert!(html.contains("data-yanked=\"\">foo_bar-0.9-py3-none-any.whl</a>"));
    assert!(!html.contains("data-core-metadata"));

    let url = url::Url::parse(&page_url).unwrap().join(&href).unwrap();
    let bytes = download(url.as_str()).await;
    assert_eq!(sha256_hex(&bytes), sha);

    let root = client()
        .get(index.url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(root.contains("<a href=\"foo-bar/\">foo-bar</a>"));
}

#[tokio::test]
async fn names_are_normalized_by_redirect_and_unknown_projects_are_404() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    for path in ["Foo_Bar/", "foo.bar/", "foo-bar"] {
        let response = client()
            .get(format!("{}{path}", index.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(response.headers()[LOCATION], "/simple/foo-bar/");
    }
    let response = client()
        .get(format!("{}nothing-here/", index.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client()
        .get(format!("{}/files/nothing.whl", index.server_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // A following client lands on the normalized page.
    let page = reqwest::Client::new()
        .get(format!("{}Foo_Bar/", index.url()))
        .header(ACCEPT, JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.url().path(), "/simple/foo-bar/");
}

#[tokio::test]
async fn formats_follow_options_and_accept() {
    let json_only = FakeIndex::start(
        &scenario(),
        IndexOptions {
            format: Format::Json,
            ..IndexOptions::default()
        },
    );
    let url = format!("{}b/", json_only.url());
    let html_asked = client()
        .get(&url)
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(html_asked.status(), StatusCode::NOT_ACCEPTABLE);
    let nothing_asked = client().get(&url).send().await.unwrap();
    assert_eq!(nothing_asked.headers()["content-type"], JSON);

    let html_only = FakeIndex::start(
        &scenario(),
        IndexOptions {
            format: Format::Html,
            ..IndexOptions::default()
        },
    );
    let response = client()
        .get(format!("{}b/", html_only.url()))
        .header(ACCEPT, JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("<a href="));
}

#[tokio::test]
async fn wheels_are_valid_zips_with_their_metadata() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let bytes = download(&index.file_url("foo_bar-1.0.0-py3-none-any.whl")).await;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut metadata = String::new();
    archive
        .by_name("foo_bar-1.0.0.dist-info/METADATA")
        .unwrap()
        .read_to_string(&mut metadata)
        .unwrap();
    insta::assert_snapshot!(metadata, @"
    Metadata-Version: 2.3
    Name: Foo_Bar
    Version: 1.0.0
    Summary: A fake package of the tack test index
    Requires-Python: >=3.9,<4
    Requires-Dist: b>=1
    Requires-Dist: colorama; sys_platform == 'win32'
    Requires-Dist: b>=2; extra == 'speed'
    Provides-Extra: speed
    ");
}

#[tokio::test]
async fn metadata_files_follow_the_option() {
    let wheel = "foo_bar-1.0.0-py3-none-any.whl";
    let off = FakeIndex::start(&scenario(), IndexOptions::default());
    let response = client()
        .get(format!("{}.metadata", off.file_url(wheel)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let on = FakeIndex::start(
        &scenario(),
        IndexOptions {
            metadata_files: true,
            ..IndexOptions::default()
        },
    );
    let metadata = download(&format!("{}.metadata", on.file_url(wheel))).await;
    let text = String::from_utf8(metadata.clone()).unwrap();
    assert!(text.starts_with("Metadata-Version: 2.3\nName: Foo_Bar\n"));
    let page = get_json(&on, "foo-bar/").await;
    let file = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["filename"] == wheel)
        .unwrap();
    assert_eq!(file["core-metadata"]["sha256"], sha256_hex(&metadata));
    assert_eq!(file["dist-info-metadata"]["sha256"], sha256_hex(&metadata));
    // Sdists have no PEP 658 file.
    let sdist = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["filename"] == "foo_bar-1.0.0.tar.gz")
        .unwrap();
    assert_eq!(sdist["core-metadata"], false);
    let html = client()
        .get(format!("{}foo-bar/", on.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(
        "data-core-metadata=\"sha256={}\"",
        sha256_hex(&metadata)
    )));
}

#[tokio::test]
async fn range_requests_and_ignoring_them() {
    let wheel = "foo_bar-1.0.0-py3-none-any.whl";
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let whole = index.file_bytes(wheel);
    let len = whole.len();
    let url = index.file_url(wheel);
    for (range, start, end) in [
        ("bytes=0-9".to_string(), 0, 9),
        ("bytes=-22".to_string(), len - 22, len - 1),
        (format!("bytes={}-", len - 100), len - 100, len - 1),
    ] {
        let response = client()
            .get(&url)
            .header(RANGE, &range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()[CONTENT_RANGE].to_str().unwrap(),
            format!("bytes {start}-{end}/{len}")
        );
        assert_eq!(response.headers()["accept-ranges"], "bytes");
        assert_eq!(
            response.bytes().await.unwrap(),
            whole[start..=end],
            "{range}"
        );
    }
    let response = client()
        .get(&url)
        .header(RANGE, format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let logged = index.requests();
    assert_eq!(logged[0].range.as_deref(), Some("bytes=0-9"));
    assert_eq!(logged[0].bytes_sent, 10);
    assert_eq!(logged[0].status, 206);

    let no_ranges = FakeIndex::start(
        &scenario(),
        IndexOptions {
            range_requests: false,
            ..IndexOptions::default()
        },
    );
    let response = client()
        .get(no_ranges.file_url(wheel))
        .header(RANGE, "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("accept-ranges").is_none());
    assert_eq!(response.bytes().await.unwrap(), whole);
}

#[tokio::test]
async fn pages_revalidate_with_etags() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let url = format!("{}foo-bar/", index.url());
    let first = client()
        .get(&url)
        .header(ACCEPT, JSON)
        .send()
        .await
        .unwrap();
    let etag = first.headers()[ETAG].clone();
    let again = client()
        .get(&url)
        .header(ACCEPT, JSON)
        .header(IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    // The HTML form is another representation with another tag.
    let html = client()
        .get(&url)
        .header(IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);

    // Publishing a stage changes the page, so the old tag no longer matches.
    index.publish("later");
    let changed = client()
        .get(&url)
        .header(ACCEPT, JSON)
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let page: Value = serde_json::from_slice(&changed.bytes().await.unwrap()).unwrap();
    assert_eq!(
        page["versions"],
        serde_json::json!(["0.9", "1.0.0", "2.0.0"])
    );
    let new = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["filename"] == "foo_bar-2.0.0-py3-none-any.whl")
        .unwrap();
    // Published later than everything in the base scenario.
    assert_eq!(new["upload-time"], "2024-12-31T00:00:00Z");
}

#[tokio::test]
async fn faults_fire_then_stop() {
    let options = IndexOptions {
        faults: vec![Fault::new("/simple/b/", FaultKind::Status(503)).times(2)],
        ..IndexOptions::default()
    };
    let index = FakeIndex::start(&scenario(), options);
    let url = format!("{}b/", index.url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(client().get(&url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200]);
    let other = client()
        .get(format!("{}foo-bar/", index.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn faults_of_every_kind() {
    let wheel = "foo_bar-1.0.0-py3-none-any.whl";
    let options = IndexOptions {
        faults: vec![
            Fault::new("/files/b-1.0.0", FaultKind::Drop).times(1),
            Fault::new("/files/b-2.0.0", FaultKind::Truncate),
            Fault::new(wheel, FaultKind::WrongBytes),
            Fault::new("/simple/b/", FaultKind::Delay(Duration::from_millis(300))),
            Fault::new("/simple/foo-bar/", FaultKind::Status(500)),
        ],
        ..IndexOptions::default()
    };
    let index = FakeIndex::start(&scenario(), options);

    let dropped = client()
        .get(index.file_url("b-1.0.0-py3-none-any.whl"))
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    // Only the first time.
    download(&index.file_url("b-1.0.0-py3-none-any.whl")).await;

    let truncated = client()
        .get(index.file_url("b-2.0.0-py3-none-any.whl"))
        .send()
        .await
        .unwrap();
    assert_eq!(truncated.status(), 200);
    assert!(truncated.bytes().await.is_err());
    let logged = index.requests();
    let last = logged.last().unwrap();
    assert_eq!(
        last.bytes_sent,
        index.file_bytes("b-2.0.0-py3-none-any.whl").len() as u64 / 2
    );

    let corrupted = download(&index.file_url(wheel)).await;
    assert_eq!(corrupted.len(), index.file_bytes(wheel).len());
    assert_ne!(sha256_hex(&corrupted), index.file_sha256(wheel));

    let start = Instant::now();
    let slow = client()
        .get(format!("{}b/", index.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    let failing = client()
        .get(format!("{}foo-bar/", index.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(failing.status(), 500);
    assert_eq!(index.requests().iter().filter(|r| r.status == 0).count(), 1);
}

#[tokio::test]
async fn basic_auth_is_required_when_configured() {
    let index = FakeIndex::start(
        &scenario(),
        IndexOptions {
            auth: Some(("alice".to_string(), "s3cret".to_string())),
            ..IndexOptions::default()
        },
    );
    let url = format!("{}b/", index.url());
    let anonymous = client().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = client()
        .get(&url)
        .basic_auth("alice", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client()
        .get(&url)
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    // Credentials in the URL work too, as a user would pass them.
    let in_url = format!("{}b/", index.url_with_credentials());
    assert!(in_url.contains("alice:s3cret@"));
    assert_eq!(client().get(&in_url).send().await.unwrap().status(), 200);
}

#[test]
fn bytes_are_deterministic_across_starts() {
    let first = FakeIndex::start(&scenario(), IndexOptions::default());
    let second = FakeIndex::start(&scenario(), IndexOptions::default());
    let filenames = first.filenames();
    assert_eq!(filenames, second.filenames());
    assert_eq!(filenames.len(), 6);
    for filename in &filenames {
        assert_eq!(first.file_sha256(filename), second.file_sha256(filename));
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", index.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "GET /simple/b/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {JSON}\r\n\r\n\
         HEAD /files/b-1.0.0-py3-none-any.whl HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
    assert!(answer.contains("Connection: keep-alive\r\n"));
    assert!(
        answer.ends_with("Connection: close\r\n\r\n"),
        "HEAD has no body: {answer}"
    );
    let requests = index.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "HEAD");
    assert_eq!(requests[1].bytes_sent, 0);
}

#[test]
fn dropping_the_index_stops_the_server() {
    let index = FakeIndex::start(&scenario(), IndexOptions::default());
    let port = index.port();
    let idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    drop(index);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    let mut idle = idle;
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buffer = [0; 1];
    assert_eq!(idle.read(&mut buffer).unwrap_or(0), 0);
}

#[tokio::test]
async fn every_scenario_file_is_served() {
    for entry in fs_err::read_dir(Scenario::dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let scenario = Scenario::from_path(&path).unwrap();
        let index = FakeIndex::start(&scenario, IndexOptions::default());
        let root = get_json(&index, "").await;
        let listed: Vec<&str> = root["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|project| project["name"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = scenario
            .packages
            .iter()
            .map(|package| package.normalized.as_ref())
            .collect();
        assert_eq!(listed, expected, "{}", path.display());
        for name in scenario.stages.keys() {
            index.publish(name);
        }
    }
}
