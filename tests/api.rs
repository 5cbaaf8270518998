//! The staff JSON API against the real daemon: tokens made with the CLI, a real HTTP client, an
//! SMTP sink for the mail, and the OpenAPI document checked by an independent validator.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};
use support::Tidings;
use support::serve::Serving;
use support::smtp::Sink;

const ISSUE: &str = "+++
list = \"news\"
slug = \"2026-12\"
title = \"Tech Newsletter, December 2026\"
date = 2026-12-01
+++

## Focus

◇ A piece of news. (Source: API test)
";

struct Api {
    t: Tidings,
    sink: Sink,
    server: Serving,
    http: Client,
}

impl Api {
    fn start() -> Self {
        let sink = Sink::start(&[]);
        let mut t = Tidings::new();
        t.set_env("TIDINGS_SMTP__TRANSPORT", "smtp");
        t.set_env("TIDINGS_SMTP__PORT", &sink.port.to_string());
        t.set_env("TIDINGS_SECURITY__SECRET_KEY", "api-test-key-0123456789abcdef0123456789");
        t.set_env("TIDINGS_CONTENT__ISSUES_DIR", &t.path().join("content").display().to_string());
        let server = Serving::start(&mut t);
        Self { t, sink, server, http: Client::new() }
    }

    /// A new API token with this role, made with the CLI.
    fn token(&self, name: &str, role: &str) -> String {
        self.t.json(&["token", "create", "--name", name, "--role", role])["token"].as_str().unwrap().to_string()
    }

    fn get(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.get(self.server.url(path)).bearer_auth(token)
    }

    fn post(&self, token: &str, path: &str) -> RequestBuilder {
        self.http.post(self.server.url(path)).bearer_auth(token)
    }

    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Answers with `status` and the one error shape; returns the error object.
fn refused(response: reqwest::blocking::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().expect("an error body is JSON");
    let error = body["error"].clone();
    assert!(error["code"].is_string() && error["message"].is_string(), "{body}");
    error
}

#[test]
fn a_script_with_tokens_imports_drafts_tests_sends_and_watches_a_send_finish() {
    let api = Api::start();
    let owner = api.token("deploy", "owner");
    let editor = api.token("editor-script", "editor");

    // A list.
    let list = api.post(&editor, "/api/v1/lists").json(&json!({"slug": "news", "name": "Tech News", "language": "en"})).send().unwrap();
    assert_eq!(list.status(), StatusCode::CREATED);
    let again = api.post(&editor, "/api/v1/lists").json(&json!({"slug": "news", "name": "Tech News"})).send().unwrap();
    refused(again, StatusCode::CONFLICT);

    // A CSV import as a background job: three good rows, one bad one reported by line.
    let csv = "email,name\nann@example.com,Ann\nbo@example.com,Bo\nnot-an-address,Bad\ncy@example.com,赵\n";
    let job = api.post(&editor, "/api/v1/lists/news/import?confirmed=true").header("content-type", "text/csv").body(csv).send().unwrap();
    assert_eq!(job.status(), StatusCode::ACCEPTED);
    let id = job.json::<Value>().unwrap()["id"].as_i64().unwrap();
    let mut report = Value::Null;
    api.wait_until("the import job", || {
        report = api.get(&editor, &format!("/api/v1/imports/{id}")).send().unwrap().json().unwrap();
        report["state"] != "running"
    });
    assert_eq!((report["state"].as_str(), report["imported"].as_i64(), report["skipped"].as_i64()), (Some("done"), Some(3), Some(1)), "{report}");
    assert_eq!(report["problems"][0]["line"], 4, "{report}");
    let wrong_type = api.post(&editor, "/api/v1/lists/news/import").header("content-type", "application/json").body("{}").send().unwrap();
    refused(wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A draft from Markdown; the same text again is an update; bad front matter says where.
    let created = api.post(&editor, "/api/v1/issues").header("content-type", "text/markdown").body(ISSUE).send().unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // An editor's draft whose date has come is still not public.
    assert_eq!(api.http.get(api.server.url("/issues/2026-12")).send().unwrap().status(), StatusCode::NOT_FOUND, "a draft is not on the archive");
    assert!(!api.http.get(api.server.url("/feed.xml")).send().unwrap().text().unwrap().contains("2026-12"), "nor in the feed");
    let updated = api.post(&editor, "/api/v1/issues").header("content-type", "text/markdown").body(ISSUE).send().unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let bad = api.post(&editor, "/api/v1/issues").body("+++\nlist = \"news\"\ntitle = 3\n+++\nbody").send().unwrap();
    let error = refused(bad, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().starts_with("line 3: "), "{error}");
    let text = api.get(&editor, "/api/v1/issues/2026-12?format=text").send().unwrap();
    assert_eq!(text.status(), StatusCode::OK);
    assert!(text.text().unwrap().contains("A piece of news"));

    // A test copy (an editor may), then the send to the list (only the owner may).
    let test = api.post(&editor, "/api/v1/issues/2026-12/send").json(&json!({"test": "proof@example.org"})).send().unwrap();
    assert_eq!(test.status(), StatusCode::ACCEPTED, "{:?}", test.text());
    api.wait_until("the test copy", || api.sink.recipients().contains(&"proof@example.org".to_string()));
    refused(api.post(&editor, "/api/v1/issues/2026-12/send").send().unwrap(), StatusCode::FORBIDDEN);
    let send = api.post(&owner, "/api/v1/issues/2026-12/send").send().unwrap();
    assert_eq!(send.status(), StatusCode::ACCEPTED);
    assert_eq!(send.json::<Value>().unwrap()["recipients"], 3);
    // A double-clicked send is refused, never a second send.
    refused(api.post(&owner, "/api/v1/issues/2026-12/send").send().unwrap(), StatusCode::CONFLICT);

    // Progress as Server-Sent Events until the send is done.
    let events = api.get(&owner, "/api/v1/issues/2026-12/events").timeout(Duration::from_secs(60)).send().unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut last = Value::Null;
    for line in BufReader::new(events).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            last = serde_json::from_str(data).unwrap();
        }
    }
    assert_eq!((last["status"].as_str(), last["deliveries"]["sent"].as_i64()), (Some("sent"), Some(3)), "{last}");
    assert_eq!(api.http.get(api.server.url("/issues/2026-12")).send().unwrap().status(), StatusCode::OK, "sent by the owner: public");
    let mut mailed = api.sink.recipients();
    mailed.sort();
    assert_eq!(mailed, ["ann@example.com", "bo@example.com", "cy@example.com", "proof@example.org"]);
    let status: Value = api.get(&owner, "/api/v1/issues/2026-12/status").send().unwrap().json().unwrap();
    assert_eq!(status["total"], 3);

    // The event log pages with a cursor and filters by type.
    let page: Value = api.get(&owner, "/api/v1/events?limit=2").send().unwrap().json().unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next: Value = api.get(&owner, &format!("/api/v1/events?limit=2&cursor={}", page["next_cursor"].as_str().unwrap())).send().unwrap().json().unwrap();
    assert!(next["items"][0]["id"].as_i64() < page["items"][1]["id"].as_i64());
    let imports: Value = api.get(&owner, "/api/v1/events?type=import.finished").send().unwrap().json().unwrap();
    assert_eq!(imports["items"].as_array().unwrap().len(), 1);
    assert_eq!(imports["items"][0]["actor"], "token:editor-script from 127.0.0.1", "staff changes name who made them and from where");
}

#[test]
fn each_role_may_do_its_own_operations_and_is_refused_the_others() {
    let api = Api::start();
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    let viewer = api.token("dashboard", "viewer");
    let editor = api.token("editor", "editor");
    let owner = api.token("release", "owner");

    refused(api.http.get(api.server.url("/api/v1/lists")).send().unwrap(), StatusCode::UNAUTHORIZED);
    refused(api.get("tid_forged", "/api/v1/lists").send().unwrap(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.get(&viewer, "/api/v1/lists").send().unwrap().status(), StatusCode::OK);
    refused(api.post(&viewer, "/api/v1/lists").json(&json!({"slug": "other", "name": "Other"})).send().unwrap(), StatusCode::FORBIDDEN);
    refused(api.post(&viewer, "/api/v1/subscribers").json(&json!({"email": "a@example.com", "list": "news"})).send().unwrap(), StatusCode::FORBIDDEN);

    // An editor manages subscribers.
    let add = api.post(&editor, "/api/v1/subscribers").json(&json!({"email": "Ann@Example.com", "name": "Ann", "list": "news", "confirmed": true, "attributes": {"city": "上海"}})).send().unwrap();
    assert_eq!(add.status(), StatusCode::CREATED);
    let bad = api.post(&editor, "/api/v1/subscribers").json(&json!({"email": "ann@", "list": "news"})).send().unwrap();
    assert_eq!(refused(bad, StatusCode::UNPROCESSABLE_ENTITY)["field"], "email");
    for i in 0..4 {
        api.post(&editor, "/api/v1/subscribers").json(&json!({"email": format!("reader{i}@example.com"), "list": "news", "confirmed": true})).send().unwrap();
    }
    let shown: Value = api.get(&viewer, "/api/v1/subscribers/ann@example.com").send().unwrap().json().unwrap();
    assert_eq!((shown["name"].as_str(), shown["attributes"]["city"].as_str()), (Some("Ann"), Some("上海")), "{shown}");

    // Search pages with a cursor, by list, status and the start of the address.
    let first: Value = api.get(&viewer, "/api/v1/subscribers?list=news&status=confirmed&limit=3").send().unwrap().json().unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = api.get(&viewer, &format!("/api/v1/subscribers?list=news&status=confirmed&limit=3&cursor={cursor}")).send().unwrap().json().unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let found: Value = api.get(&viewer, "/api/v1/subscribers?q=READER2").send().unwrap().json().unwrap();
    assert_eq!(found["items"].as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap()).collect::<Vec<_>>(), ["reader2@example.com"]);
    assert_eq!(refused(api.get(&viewer, "/api/v1/subscribers?status=gone").send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY)["field"], "status");

    // Erasure: the editor may, the viewer may not; afterwards nothing is known.
    refused(api.http.delete(api.server.url("/api/v1/subscribers/ann@example.com")).bearer_auth(&viewer).send().unwrap(), StatusCode::FORBIDDEN);
    assert_eq!(api.http.delete(api.server.url("/api/v1/subscribers/ann@example.com")).bearer_auth(&editor).send().unwrap().status(), StatusCode::NO_CONTENT);
    refused(api.get(&viewer, "/api/v1/subscribers/ann@example.com").send().unwrap(), StatusCode::NOT_FOUND);

    // Pausing a send is the owner's, and so is scheduling one through `send_at`.
    refused(api.post(&editor, "/api/v1/issues/none/pause").send().unwrap(), StatusCode::FORBIDDEN);
    let scheduled = ISSUE.replace("date = 2026-12-01", "date = 2026-12-01\nsend_at = 2026-12-01T08:00:00Z");
    let sneaky = api.post(&editor, "/api/v1/issues").header("content-type", "text/markdown").body(scheduled).send().unwrap();
    assert!(refused(sneaky, StatusCode::FORBIDDEN)["message"].as_str().unwrap().contains("send_at"));
    refused(api.get(&viewer, "/api/v1/issues/2026-12").send().unwrap(), StatusCode::NOT_FOUND);
    assert_eq!(api.post(&editor, "/api/v1/issues").header("content-type", "text/markdown").body(ISSUE).send().unwrap().status(), StatusCode::CREATED);
    // A send scheduled for years ahead: its progress stream says so once and ends.
    assert_eq!(api.post(&owner, "/api/v1/issues/2026-12/send").json(&json!({"at": "2036-01-01T08:00:00Z"})).send().unwrap().status(), StatusCode::ACCEPTED);
    let started = std::time::Instant::now();
    let stream = api.get(&owner, "/api/v1/issues/2026-12/events").timeout(Duration::from_secs(20)).send().unwrap().text().expect("the stream ends");
    assert!(stream.contains("\"scheduled\"") && started.elapsed() < Duration::from_secs(10), "{stream}");
    assert_eq!(api.post(&owner, "/api/v1/issues/2026-12/cancel").send().unwrap().status(), StatusCode::OK);
    // A subscriber's own copy carries their signed links: not for a viewer.
    refused(api.get(&viewer, "/api/v1/issues/2026-12?format=eml&to=reader1@example.com").send().unwrap(), StatusCode::FORBIDDEN);
    assert_eq!(api.get(&viewer, "/api/v1/issues/2026-12?format=eml").send().unwrap().status(), StatusCode::OK);
    refused(api.get(&viewer, "/api/v1/no-such-thing").send().unwrap(), StatusCode::NOT_FOUND);
    // Malformed requests answer in the same shape.
    refused(api.get(&viewer, "/api/v1/subscribers?limit=many").send().unwrap(), StatusCode::BAD_REQUEST);
    refused(api.get(&viewer, "/api/v1/imports/first").send().unwrap(), StatusCode::BAD_REQUEST);
    refused(api.post(&editor, "/api/v1/lists").header("content-type", "application/json").body("{\"slug\": 3}").send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    refused(api.post(&editor, "/api/v1/lists").body("slug=x").send().unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Revocation takes effect on the next request.
    api.t.ok(&["token", "revoke", "editor"]);
    refused(api.get(&editor, "/api/v1/lists").send().unwrap(), StatusCode::UNAUTHORIZED);
    let tokens = api.t.json(&["token", "ls"]);
    let dashboard = tokens.as_array().unwrap().iter().find(|t| t["name"] == "dashboard").unwrap();
    assert!(dashboard["last_used_at"].is_string(), "last use is recorded: {tokens}");
    assert!(!tokens.to_string().contains("tid_"), "tokens are never shown again");
}

#[test]
fn the_openapi_document_is_valid_and_lists_exactly_the_routes_the_server_answers() {
    let api = Api::start();
    let document: Value = api.http.get(api.server.url("/api/openapi.json")).send().unwrap().json().unwrap();
    let file = api.t.write("openapi.json", document.to_string());
    let report = support::python_check("check_openapi.py", &[&file]);
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["version"].as_str().unwrap().starts_with("3.1"), "{report}");

    let paths = document["paths"].as_object().unwrap();
    let contract = [
        "/api/v1/lists", "/api/v1/subscribers", "/api/v1/subscribers/{email}", "/api/v1/lists/{slug}/import", "/api/v1/imports/{id}", "/api/v1/issues",
        "/api/v1/issues/{slug}", "/api/v1/issues/{slug}/send", "/api/v1/issues/{slug}/pause", "/api/v1/issues/{slug}/resume", "/api/v1/issues/{slug}/cancel",
        "/api/v1/issues/{slug}/status", "/api/v1/issues/{slug}/events", "/api/v1/bounces", "/api/v1/events",
    ];
    // Parameters are where the server reads them: a path parameter is a segment of its path,
    // everything else is in the query (a current validator and every generated client rely on it).
    let mut queries = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                match param["in"].as_str().unwrap() {
                    "path" => assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: {name} is declared in the path but is not a segment of it"),
                    "query" => {
                        assert_ne!(param["required"], true, "{method} {path}: query {name} is optional");
                        queries.insert(name.to_string());
                    }
                    other => panic!("{method} {path}: {name} in {other}"),
                }
            }
        }
    }
    for name in ["cursor", "limit", "q", "status", "since", "type", "format", "confirmed"] {
        assert!(queries.contains(name), "{name} is a query parameter: {queries:?}");
    }
    // Every operation says what it answers without a token, in the one error shape; every JSON
    // body is closed (an unknown field is refused, as the server does).
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["responses"]["401"]["$ref"], "#/components/responses/Unauthorized", "{method} {path}");
            if let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                let name = schema.rsplit('/').next().unwrap();
                assert_eq!(document["components"]["schemas"][name]["additionalProperties"], false, "{method} {path}: {name}");
            }
        }
    }
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["Issue"]["properties"]["status"]["$ref"], "#/components/schemas/IssueStatus");
    assert_eq!(schemas["IssueStatus"]["enum"], json!(["draft", "scheduled", "sending", "paused", "sent", "cancelled"]));
    assert_eq!(schemas["SendAccepted"]["properties"]["outcome"]["$ref"], "#/components/schemas/SendOutcome");
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut expected = contract.to_vec();
    expected.sort();
    assert_eq!(documented, expected);
    // Every documented operation exists on the server: without a token it is 401, not 404/405.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys().filter(|m| ["get", "post", "delete"].contains(&m.as_str())) {
            let concrete = path.replace("{email}", "a@example.com").replace("{slug}", "news").replace("{id}", "1");
            let request = api.http.request(method.to_uppercase().parse().unwrap(), api.server.url(&concrete));
            assert_eq!(request.send().unwrap().status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
}

#[test]
fn the_server_refuses_what_its_document_refuses_and_takes_what_it_admits() {
    let api = Api::start();
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    let editor = api.token("editor", "editor");

    // `limit` is 1-500: outside, a 422 naming it rather than a page of another size.
    for limit in ["0", "501"] {
        assert_eq!(refused(api.get(&editor, &format!("/api/v1/subscribers?limit={limit}")).send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY)["field"], "limit");
        assert_eq!(refused(api.get(&editor, &format!("/api/v1/events?limit={limit}")).send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY)["field"], "limit");
    }
    assert_eq!(api.get(&editor, "/api/v1/subscribers?limit=500").send().unwrap().status(), StatusCode::OK);
    // The contract writes the queries with empty values: empty is no filter, as the document says.
    assert_eq!(api.get(&editor, "/api/v1/subscribers?list=&status=&q=&cursor=").send().unwrap().status(), StatusCode::OK);
    assert_eq!(api.get(&editor, "/api/v1/events?since=&type=&cursor=").send().unwrap().status(), StatusCode::OK);
    assert_eq!(api.get(&editor, "/api/v1/bounces?since=").send().unwrap().status(), StatusCode::OK);
    // Any base64url text is a position in the order of addresses, trailing bits and all.
    assert_eq!(api.get(&editor, "/api/v1/subscribers?cursor=AB").send().unwrap().status(), StatusCode::OK);
    assert_eq!(refused(api.get(&editor, "/api/v1/subscribers?cursor=A").send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY)["field"], "cursor");
    assert_eq!(refused(api.get(&editor, "/api/v1/events?cursor=%2B5").send().unwrap(), StatusCode::UNPROCESSABLE_ENTITY)["field"], "cursor");

    // A CSV without an email column is refused at once, not by a job that fails a moment later.
    let no_email = api.post(&editor, "/api/v1/lists/news/import").header("content-type", "text/csv").body("{}").send().unwrap();
    assert_eq!(refused(no_email, StatusCode::UNPROCESSABLE_ENTITY)["field"], "body");

    // Request bodies are closed: a misspelt field is refused, not ignored.
    let typo = api.post(&editor, "/api/v1/lists").json(&json!({"slug": "other", "name": "Other", "langauge": "de"})).send().unwrap();
    assert!(refused(typo, StatusCode::UNPROCESSABLE_ENTITY)["message"].as_str().unwrap().contains("langauge"));

    // The Markdown body: another type is a 415, bytes that are not UTF-8 a 400, both in the API's shape.
    let json_issue = api.post(&editor, "/api/v1/issues").header("content-type", "application/json").body(ISSUE).send().unwrap();
    refused(json_issue, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let latin1 = api.post(&editor, "/api/v1/issues").header("content-type", "text/markdown").body(b"+++\nlist = \"news\"\ntitle = \"Caf\xe9\"\n+++\n".to_vec()).send().unwrap();
    refused(latin1, StatusCode::BAD_REQUEST);

    // An erased address is on the suppression list: adding it again conflicts with that state.
    let add = || api.post(&editor, "/api/v1/subscribers").json(&json!({"email": "gone@example.com", "list": "news", "confirmed": true})).send().unwrap();
    assert_eq!(add().status(), StatusCode::CREATED);
    assert_eq!(api.http.delete(api.server.url("/api/v1/subscribers/gone@example.com")).bearer_auth(&editor).send().unwrap().status(), StatusCode::NO_CONTENT);
    refused(add(), StatusCode::CONFLICT);
}

/// schemathesis (every check; the examples, coverage, fuzzing and stateful phases) against the
/// running daemon with an owner's token and some data: the document is what the server does.
#[test]
fn the_api_passes_schemathesis_with_every_check() {
    let st = std::env::var("TIDINGS_TEST_SCHEMATHESIS").unwrap_or_else(|_| support::repo().join("target/checkers-venv/bin/st").display().to_string());
    assert!(Path::new(&st).exists(), "no schemathesis at {st}: run the tests with `bash .ci/run` once to install it, or set TIDINGS_TEST_SCHEMATHESIS");
    let api = Api::start();
    let owner = api.token("schemathesis", "owner");
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    for who in ["ann", "bo", "cy"] {
        let added = api.post(&owner, "/api/v1/subscribers").json(&json!({"email": format!("{who}@example.com"), "list": "news", "confirmed": true})).send().unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    // The issue the document's examples name (`2026-12`), so the issue operations reach it.
    assert_eq!(api.post(&owner, "/api/v1/issues").header("content-type", "text/markdown").body(ISSUE).send().unwrap().status(), StatusCode::CREATED);

    let started = Instant::now();
    let config = support::repo().join("tests/checks/schemathesis.toml");
    // One worker: hypothesis describing its strategies from several threads at once trips over
    // Python 3.11's AST parser ("AST constructor recursion depth mismatch"), and one is
    // reproducible. No example database: the seed alone decides what is sent.
    let out = Command::new(&st)
        .current_dir(api.t.path())
        .args(["--config-file", &config.display().to_string(), "run", &api.server.url("/api/openapi.json")])
        .args(["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--seed", "20261203", "--max-examples", "100", "--workers", "1"])
        .args(["--generation-database", "none", "--no-color", "--header", &format!("Authorization: Bearer {owner}")])
        .output()
        .expect("run schemathesis");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found failures ({:?}):\n{report}", out.status.code());
    let cases = report.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("no test-case count in:\n{report}"));
    let (generated, passed) = cases.trim().split_once(" generated, ").unwrap();
    assert!(passed.starts_with(&format!("{generated} passed")), "every generated case passes: {cases}\n{report}");
    assert!(report.contains("Tested: 19"), "every operation is tested:\n{report}");
    eprintln!("schemathesis: {} in {:.0?}", cases.trim(), started.elapsed());
}

#[test]
fn an_issue_in_the_text_layout_is_taken_as_text_plain_for_the_list_in_the_query() {
    let api = Api::start();
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    let editor = api.token("layout", "editor");
    let text = std::fs::read_to_string(support::repo().join("tests/fixtures/text-layout/2022-03.txt")).unwrap();
    let post = |query: &str| api.post(&editor, &format!("/api/v1/issues{query}")).header("content-type", "text/plain; charset=utf-8").body(text.clone()).send().unwrap();
    assert_eq!(refused(post(""), StatusCode::UNPROCESSABLE_ENTITY)["field"], "list");
    assert_eq!(refused(post("?list=news&date=28.03.2022"), StatusCode::UNPROCESSABLE_ENTITY)["field"], "date");
    let saved = post("?list=news&date=2022-03-28");
    assert_eq!(saved.status(), StatusCode::CREATED);
    let saved: Value = saved.json().unwrap();
    assert_eq!((saved["slug"].as_str(), saved["list"].as_str(), saved["saved"].as_str()), (Some("2022-03"), Some("news"), Some("created")), "{saved}");
    assert!(saved["warnings"].is_array());
    let html = api.get(&editor, "/api/v1/issues/2022-03?format=html").send().unwrap().text().unwrap();
    assert!(html.contains("<h2") && html.contains("◇"), "sections and items: {}", &html[..300.min(html.len())]);
    // Markdown with front matter as text/plain is still Markdown.
    let md = "+++\nlist = \"news\"\nslug = \"md-as-plain\"\ntitle = \"T\"\ndate = 2026-12-01\n+++\n\nBody.\n";
    let r = api.post(&editor, "/api/v1/issues").header("content-type", "text/plain").body(md).send().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[test]
fn an_erased_reader_is_not_left_in_an_import_report() {
    let api = Api::start();
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    api.t.ok(&["subscriber", "add", "left.reader@example.com", "--list", "news", "--confirmed"]);
    api.t.ok(&["unsubscribe", "left.reader@example.com", "--list", "news"]);
    let editor = api.token("imports", "editor");
    let job = api.post(&editor, "/api/v1/lists/news/import?confirmed=true").header("content-type", "text/csv").body("email\nleft.reader@example.com\nnew.reader@example.com\n").send().unwrap();
    let id = job.json::<Value>().unwrap()["id"].as_i64().unwrap();
    let mut report = Value::Null;
    api.wait_until("the import job", || {
        report = api.get(&editor, &format!("/api/v1/imports/{id}")).send().unwrap().json().unwrap();
        report["state"] != "running"
    });
    assert!(report["problems"].to_string().contains("left.reader@example.com"), "the report names the row for staff: {report}");
    api.t.ok(&["subscriber", "erase", "left.reader@example.com"]);
    let report: Value = api.get(&editor, &format!("/api/v1/imports/{id}")).send().unwrap().json().unwrap();
    assert!(!report.to_string().contains("left.reader") && report["problems"][0]["line"] == 2, "{report}");
    for file in ["tidings.db", "tidings.db-wal"] {
        let bytes = std::fs::read(api.t.path().join(file)).unwrap_or_default();
        assert!(!bytes.windows(11).any(|w| w == b"left.reader"), "{file} still holds the address");
    }
}

#[test]
fn a_token_may_hold_four_progress_streams_at_once() {
    let mut api = Api::start();
    // With the relay down the send stays under way, so its streams stay open.
    api.sink.stop();
    api.t.ok(&["list", "create", "news", "--name", "Tech News", "--language", "en"]);
    api.t.ok(&["subscriber", "add", "reader@example.com", "--list", "news", "--confirmed"]);
    let owner = api.token("watcher", "owner");
    assert_eq!(api.post(&owner, "/api/v1/issues").header("content-type", "text/markdown").body(ISSUE).send().unwrap().status(), StatusCode::CREATED);
    assert_eq!(api.post(&owner, "/api/v1/issues/2026-12/send").send().unwrap().status(), StatusCode::ACCEPTED);
    let open = |token: &str| api.get(token, "/api/v1/issues/2026-12/events").timeout(Duration::from_secs(60)).send().unwrap();
    let streams: Vec<_> = (0..4).map(|_| open(&owner)).collect();
    assert!(streams.iter().all(|s| s.status() == StatusCode::OK));
    let fifth = open(&owner);
    assert_eq!(fifth.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string()), Some("10".into()));
    assert_eq!(refused(fifth, StatusCode::TOO_MANY_REQUESTS)["code"], "too_many_streams");
    let other = api.token("another", "viewer");
    assert_eq!(open(&other).status(), StatusCode::OK, "another token has its own four");
    drop(streams);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = open(&owner);
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "a closed stream frees its place");
        std::thread::sleep(Duration::from_millis(200));
    }
}
