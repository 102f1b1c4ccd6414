//! AI meeting notes (2026-03-11): made from an uploaded recording or an audio block, moved
//! through processing by the admin API, and found by the query endpoint with its filters,
//! sorts and limit.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Emu, TOKEN, V2025, V2026, form, is_not_found, is_validation};

const ADA: &str = "a0000000-0000-4000-8000-000000000001";
const BOT: &str = "b0000000-0000-4000-8000-000000000001";

/// An uploaded file with `content_type`.
async fn upload(emu: &Emu, name: &str, content_type: &str) -> String {
    let created = emu
        .send(
            V2026,
            Method::POST,
            "/v1/file_uploads",
            json!({"filename": name, "content_type": content_type}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let (status, sent) = emu
        .send_form(
            V2026,
            TOKEN,
            &id,
            form(b"RIFF....", name, content_type, None),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    id
}

async fn query(emu: &Emu, body: Value) -> Value {
    emu.send(V2026, Method::POST, "/v1/blocks/meeting_notes/query", body)
        .await
}

fn titles(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["meeting_notes"]["title"][0]["plain_text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn meeting_notes_are_made_from_recordings_and_moved_through_processing() {
    let emu = Emu::start().await;
    let page = emu.find(V2026, "Engineering", "page").await;
    let recording = upload(&emu, "standup.mp3", "audio/mpeg").await;
    let note = emu
        .send(
            V2026,
            Method::POST,
            "/v1/blocks/meeting_notes",
            json!({"title": "Standup", "language": "en", "source": {"type": "file_upload", "file_upload_id": recording}, "parent": {"type": "page_id", "page_id": page}}),
        )
        .await;
    assert_eq!(note["object"], "block");
    assert_eq!(note["type"], "meeting_notes");
    assert_eq!(note["meeting_notes"]["status"], "transcription_in_progress");
    assert_eq!(note["meeting_notes"]["title"][0]["plain_text"], "Standup");
    assert!(
        note.get("parent").is_none(),
        "the SDK's shape has no parent"
    );
    let note_id = note["id"].as_str().unwrap();
    let children = emu.get(V2026, &format!("/v1/blocks/{page}/children")).await;
    let last = children["results"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["id"], note_id);
    let attached = emu
        .get(V2026, &format!("/v1/file_uploads/{recording}"))
        .await;
    assert_eq!(attached["expiry_time"], Value::Null);

    // From an audio block on a page: the note goes right after it, named after its file.
    let audio = upload(&emu, "retro.m4a", "audio/mp4").await;
    let appended = emu
        .send(
            V2026,
            Method::PATCH,
            &format!("/v1/blocks/{page}/children"),
            json!({"children": [
                {"type": "audio", "audio": {"type": "file_upload", "file_upload": {"id": audio}}},
                {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "after the audio"}}]}},
            ]}),
        )
        .await;
    let audio_block = appended["results"][0]["id"].as_str().unwrap();
    let from_block = emu
        .send(
            V2026,
            Method::POST,
            "/v1/blocks/meeting_notes",
            json!({"source": {"type": "block", "block_id": audio_block}, "options": {"kickoff_summary": false}}),
        )
        .await;
    assert_eq!(
        from_block["meeting_notes"]["title"][0]["plain_text"],
        "retro.m4a"
    );
    let children = emu.get(V2026, &format!("/v1/blocks/{page}/children")).await;
    let ids: Vec<&str> = children["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let at = ids.iter().position(|i| *i == audio_block).unwrap();
    assert_eq!(ids[at + 1], from_block["id"].as_str().unwrap());

    // Processing moves on through the admin API, as Notion's would.
    emu.admin(
        Method::POST,
        &format!("/_emulator/meeting_notes/{note_id}/status"),
        json!({"status": "notes_ready", "title": "Standup: shipped uploads"}),
    )
    .await;
    let ready = emu.get(V2026, &format!("/v1/blocks/{note_id}")).await;
    assert_eq!(ready["meeting_notes"]["status"], "notes_ready");
    assert_eq!(
        ready["meeting_notes"]["title"][0]["plain_text"],
        "Standup: shipped uploads"
    );

    // Refusals name their field.
    let text = upload(&emu, "notes.txt", "text/plain").await;
    let webm = upload(&emu, "call.webm", "audio/webm").await;
    let handbook = emu.find(V2026, "Acme Handbook", "page").await;
    let external_audio = emu
        .get(
            V2026,
            &format!("/v1/blocks/{handbook}/children?page_size=100"),
        )
        .await["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "audio")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (body, field) in [
        (
            json!({"source": {"type": "file_upload", "file_upload_id": text}, "parent": {"page_id": page}}),
            "body.source.file_upload_id",
        ),
        (
            json!({"source": {"type": "file_upload", "file_upload_id": webm}, "parent": {"page_id": page}}),
            "WebM",
        ),
        (
            json!({"source": {"type": "file_upload", "file_upload_id": recording}}),
            "body.parent",
        ),
        (
            json!({"source": {"type": "block", "block_id": external_audio}}),
            "Notion-hosted file",
        ),
        (
            json!({"source": {"type": "block", "block_id": audio_block}, "parent": {"page_id": page}}),
            "body.parent",
        ),
        (json!({"source": {"type": "url"}}), "body.source.type"),
        (
            json!({"source": {"type": "block", "block_id": audio_block}, "language": "xx"}),
            "body.language",
        ),
    ] {
        let (status, answer) = emu
            .call(V2026, Method::POST, "/v1/blocks/meeting_notes", Some(body))
            .await;
        is_validation(status, &answer, field);
    }
    let (status, body) = emu
        .call(
            V2026,
            Method::POST,
            "/v1/blocks/meeting_notes",
            Some(json!({"source": {"type": "block", "block_id": "0b1e4a3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c"}})),
        )
        .await;
    is_not_found(status, &body);
    let (status, body) = emu
        .call(
            V2025,
            Method::POST,
            "/v1/blocks/meeting_notes/query",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request_url"))
    );
}

#[tokio::test]
async fn meeting_notes_are_queried_by_title_people_and_time() {
    let emu = Emu::start().await;
    let page = emu.find(V2026, "Engineering", "page").await;
    for title in ["Standup Monday", "Standup Tuesday", "Design review"] {
        let recording = upload(&emu, "r.mp3", "audio/mpeg").await;
        emu.send(
            V2026,
            Method::POST,
            "/v1/blocks/meeting_notes",
            json!({"title": title, "source": {"type": "file_upload", "file_upload_id": recording}, "parent": {"page_id": page}}),
        )
        .await;
    }

    // Newest first by default; the seeded note is the oldest.
    let all = query(&emu, json!({})).await;
    assert_eq!(all["has_more"], false);
    assert_eq!(titles(&all).len(), 4);
    assert_eq!(titles(&all)[3], "Weekly sync");
    // A title condition, a sort and a limit.
    let standups = query(
        &emu,
        json!({"filter": {"property": "title", "filter": {"operator": "string_contains", "value": {"type": "exact", "value": "standup"}}}, "sort": [{"property": "title", "direction": "ascending"}], "limit": 1}),
    )
    .await;
    assert_eq!(titles(&standups), ["Standup Monday"]);
    assert_eq!(standups["has_more"], true);
    // People: attendees and authors.
    let attended = query(
        &emu,
        json!({"filter": {"operator": "and", "filters": [
            {"property": "attendees", "filter": {"operator": "is_not_empty"}},
            {"property": "attendees", "filter": {"operator": "person_contains", "value": [{"type": "exact", "value": {"table": "notion_user", "id": ADA}}]}},
        ]}}),
    )
    .await;
    assert_eq!(titles(&attended), ["Weekly sync"]);
    let by_bot = query(
        &emu,
        json!({"filter": {"property": "created_by", "filter": {"operator": "person_contains", "value": [{"type": "exact", "value": {"table": "notion_user", "id": BOT}}]}}, "sort": [{"property": "title", "direction": "descending"}]}),
    )
    .await;
    assert_eq!(
        titles(&by_bot),
        ["Standup Tuesday", "Standup Monday", "Design review"]
    );
    // Time: an `or` of a date condition and a title.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let recent = query(
        &emu,
        json!({"filter": {"operator": "or", "filters": [
            {"property": "created_time", "filter": {"operator": "date_is_on_or_after", "value": {"type": "exact", "value": {"type": "date", "start_date": "2100-01-01"}}}},
            {"property": "title", "filter": {"operator": "string_is", "value": {"type": "exact", "value": "design review"}}},
        ]}}),
    )
    .await;
    assert_eq!(titles(&recent), ["Design review"]);
    let on_day = query(
        &emu,
        json!({"filter": {"property": "created_time", "filter": {"operator": "date_is", "value": {"type": "exact", "value": {"type": "date", "start_date": today}}}}}),
    )
    .await;
    assert_eq!(titles(&on_day).len(), 4);

    // Bad queries name their field.
    for (body, field) in [
        (json!({"limit": 51}), "body.limit"),
        (
            json!({"filter": {"property": "mood", "filter": {"operator": "is_empty"}}}),
            "body.filter.property",
        ),
        (
            json!({"filter": {"property": "title", "filter": {"operator": "matches"}}}),
            "body.filter.filter.operator",
        ),
        (
            json!({"filter": {"property": "created_time", "filter": {"operator": "date_is", "value": {"type": "exact", "value": {"type": "date", "start_date": "yesterday"}}}}}),
            "start_date",
        ),
        (
            json!({"sort": [{"property": "title", "direction": "up"}]}),
            "body.sort[0].direction",
        ),
        (json!({"page_size": 10}), "body.page_size"),
    ] {
        let (status, answer) = emu
            .call(
                V2026,
                Method::POST,
                "/v1/blocks/meeting_notes/query",
                Some(body),
            )
            .await;
        is_validation(status, &answer, field);
    }
}

/// An OAuth install authorized by `user`, sharing everything: its access token.
async fn install_as(emu: &Emu, user: &str) -> String {
    use base64::Engine as _;
    let redirect = "http://127.0.0.1:9/callback";
    let (status, headers, _) = emu
        .raw(
            Method::GET,
            &format!("/v1/oauth/authorize?client_id=emulator-client-id&response_type=code&owner=user&redirect_uri={redirect}&state=s&user={user}"),
            &[],
            None,
        )
        .await;
    assert_eq!(status, 302);
    let location = headers["location"].to_str().unwrap();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode("emulator-client-id:emulator-client-secret")
    );
    let body = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect});
    let (status, _, bytes) = emu
        .raw(
            Method::POST,
            "/v1/oauth/token",
            &[("authorization", &basic)],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    let token: Value = serde_json::from_slice(&bytes).unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_oauth_install_finds_the_meeting_notes_its_user_attended() {
    let emu = Emu::start().await;
    let alan = "a0000000-0000-4000-8000-000000000003";
    for (user, expected) in [(ADA, vec!["Weekly sync"]), (alan, vec![])] {
        let token = install_as(&emu, user).await;
        let (status, found) = emu
            .call_as(
                &token,
                V2026,
                Method::POST,
                "/v1/blocks/meeting_notes/query",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(titles(&found), expected, "{user}");
    }
}
