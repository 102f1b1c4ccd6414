//! Starting workspaces: `demo` (a realistic workspace that covers every block type,
//! rich-text annotation and mention, and every property type), `empty`, or a JSON file
//! exported from `GET /_emulator/export`.
//!
//! The demo is built through the same operations the API uses, acting as a person.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::{Uuid, uuid};

use crate::http::Caller;
use crate::model::{
    Block, CustomEmoji, Grant, Id, Integration, IntegrationKind, Parent, Stamps, User, UserKind,
    Workspace,
};
use crate::version::ApiVersion;

pub const DEMO_TOKEN: &str = "ntn_emulator_demo";
pub const DEMO_CLIENT_ID: &str = "emulator-client-id";
pub const DEMO_CLIENT_SECRET: &str = "emulator-client-secret";
pub const WORKSPACE_ID: Id = uuid!("5e1f0000-0000-4000-8000-000000000001");
pub const ADA: Id = uuid!("a0000000-0000-4000-8000-000000000001");
pub const GRACE: Id = uuid!("a0000000-0000-4000-8000-000000000002");
pub const ALAN: Id = uuid!("a0000000-0000-4000-8000-000000000003");
pub const DEMO_BOT: Id = uuid!("b0000000-0000-4000-8000-000000000001");
pub const INTERNAL_INTEGRATION: Id = uuid!("c0000000-0000-4000-8000-000000000001");
pub const PUBLIC_INTEGRATION: Id = uuid!("c0000000-0000-4000-8000-000000000002");
/// The workspace's `:ferry:` custom emoji.
pub const FERRY_EMOJI: Id = uuid!("c0ffee00-0000-4000-8000-000000000001");

#[derive(Debug, Clone, PartialEq)]
pub enum Seed {
    Demo,
    Empty,
    File(PathBuf),
}

impl std::str::FromStr for Seed {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "demo" => Seed::Demo,
            "empty" => Seed::Empty,
            path => Seed::File(PathBuf::from(path)),
        })
    }
}

impl Seed {
    pub fn build(&self) -> std::io::Result<Workspace> {
        match self {
            Seed::Empty => Ok(base()),
            Seed::Demo => Ok(demo()),
            Seed::File(path) => {
                let text = std::fs::read_to_string(path)?;
                serde_json::from_str(&text).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })
            }
        }
    }
}

/// People, the demo bot and the two demo integrations; no content.
fn base() -> Workspace {
    let person = |id, name: &str, email: &str| User {
        id,
        name: Some(name.to_string()),
        avatar_url: Some(format!(
            "https://avatars.example.com/{}.png",
            name.split(' ').next().unwrap_or("user").to_lowercase()
        )),
        kind: UserKind::Person {
            email: email.to_string(),
        },
    };
    let mut ws = Workspace {
        id: WORKSPACE_ID,
        name: "Acme Inc.".into(),
        icon: Some("🏢".into()),
        users: vec![
            person(ADA, "Ada Lovelace", "ada@acme.example"),
            person(GRACE, "Grace Hopper", "grace@acme.example"),
            person(ALAN, "Alan Turing", "alan@acme.example"),
            User {
                id: DEMO_BOT,
                name: Some("Emulator Demo".into()),
                avatar_url: None,
                kind: UserKind::Bot {
                    integration: INTERNAL_INTEGRATION,
                    owner: None,
                },
            },
        ],
        ..Workspace::default()
    };
    ws.custom_emojis = vec![
        CustomEmoji {
            id: FERRY_EMOJI,
            name: "ferry".into(),
            url: "https://emoji.example.com/ferry.png".into(),
        },
        CustomEmoji {
            id: uuid!("c0ffee00-0000-4000-8000-000000000002"),
            name: "shipit".into(),
            url: "https://emoji.example.com/shipit.png".into(),
        },
    ];
    ws.integrations.push(Integration {
        id: INTERNAL_INTEGRATION,
        name: "Emulator Demo".into(),
        kind: IntegrationKind::Internal {
            token: DEMO_TOKEN.into(),
        },
        bot: Some(DEMO_BOT),
        user_emails: true,
    });
    ws.integrations.push(Integration {
        id: PUBLIC_INTEGRATION,
        name: "Emulator OAuth Demo".into(),
        kind: IntegrationKind::Public {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            redirect_uris: vec!["http://127.0.0.1:*".into(), "http://localhost:*".into()],
        },
        bot: None,
        user_emails: true,
    });
    ws.grants.insert(
        DEMO_TOKEN.into(),
        Grant {
            integration: INTERNAL_INTEGRATION,
            bot: DEMO_BOT,
            owner: None,
            shared: HashSet::new(),
            refresh_token: None,
            issued_at: Utc::now(),
        },
    );
    ws
}

fn text(s: &str) -> Value {
    json!({"text": {"content": s}})
}

fn rt(s: &str) -> Value {
    json!([text(s)])
}

fn block(kind: &str, body: Value) -> Value {
    let mut b = json!({"object": "block", "type": kind});
    b[kind] = body;
    b
}

fn para(s: &str) -> Value {
    block("paragraph", json!({"rich_text": rt(s)}))
}

struct Builder {
    ws: Workspace,
    ada: Caller,
}

impl Builder {
    fn page(&mut self, body: Value) -> Id {
        let body = body.as_object().cloned().expect("seed bodies are objects");
        crate::api::pages_create(&mut self.ws, &self.ada, &body)
            .expect("the demo seed is valid")
            .0
    }

    fn append(&mut self, parent: Id, children: Vec<Value>) -> Vec<Id> {
        let body = json!({"children": children})
            .as_object()
            .cloned()
            .expect("object");
        crate::api::blocks_append(&mut self.ws, &self.ada, parent, &body)
            .expect("the demo seed is valid")
            .0
    }

    fn database(&mut self, body: Value) -> (Id, Id) {
        let body = body.as_object().cloned().expect("object");
        crate::api::databases_create(&mut self.ws, &self.ada, &body)
            .expect("the demo seed is valid")
    }

    /// Blocks that the API cannot create (read-only types), placed as Notion would hold them.
    fn raw_block(&mut self, parent: Id, kind: &str, content: Value) {
        let id = Uuid::new_v4();
        let now = Utc::now();
        self.ws.blocks.insert(
            id,
            Block {
                id,
                parent: Parent::Page { id: parent },
                stamps: Stamps::new(now, ADA),
                in_trash: false,
                kind: kind.into(),
                content,
                children: Vec::new(),
            },
        );
        if let Some(list) = self.ws.children_mut(parent) {
            list.push(id);
        }
    }
}

fn annotated(content: &str, annotations: Value) -> Value {
    json!({"text": {"content": content}, "annotations": annotations})
}

fn demo() -> Workspace {
    let mut b = Builder {
        ws: base(),
        ada: Caller::person(ApiVersion::V2025_09_03, ADA),
    };

    let handbook = b.page(json!({
        "parent": {"workspace": true},
        "icon": {"type": "emoji", "emoji": "📘"},
        "cover": {"type": "external", "external": {"url": "https://images.example.com/handbook-cover.jpg"}},
        "properties": {"title": {"title": rt("Acme Handbook")}},
    }));
    let engineering = b.page(json!({
        "parent": {"page_id": handbook},
        "icon": {"type": "emoji", "emoji": "🚀"},
        "properties": {"title": {"title": rt("Engineering")}},
        "children": [para("How the engineering team works."), block("heading_2", json!({"rich_text": rt("On call")}))],
    }));
    let runbooks = b.page(json!({
        "parent": {"page_id": engineering},
        "properties": {"title": {"title": rt("Runbooks")}},
        "children": [
            block("numbered_list_item", json!({"rich_text": rt("Check the dashboards"), "children": [
                block("bulleted_list_item", json!({"rich_text": rt("Latency"), "children": [para("p99 under 300 ms")]})),
            ]})),
            block("numbered_list_item", json!({"rich_text": rt("Page the owner")})),
        ],
    }));

    // Projects: an inline database inside the handbook.
    let (projects_db, projects) = b.database(json!({
        "parent": {"page_id": handbook},
        "title": rt("Projects"),
        "is_inline": true,
        "icon": {"type": "emoji", "emoji": "🗂️"},
        "initial_data_source": {"properties": {
            "Name": {"title": {}},
            "Stage": {"select": {"options": [{"name": "Discovery", "color": "yellow"}, {"name": "Build", "color": "blue"}, {"name": "Launched", "color": "green"}]}},
            "Budget": {"number": {"format": "euro"}},
            "Kickoff": {"date": {}},
        }},
    }));
    let stages = ["Discovery", "Build", "Launched"];
    let mut project_ids = Vec::new();
    for i in 0..30 {
        project_ids.push(b.page(json!({
            "parent": {"data_source_id": projects},
            "properties": {
                "Name": {"title": rt(&format!("Project {:02}", i + 1))},
                "Stage": {"select": {"name": stages[i % 3]}},
                "Budget": {"number": 1000 * (i + 1)},
                "Kickoff": {"date": {"start": format!("2026-{:02}-{:02}", i % 12 + 1, i % 28 + 1)}},
            },
        })));
    }

    // Tasks: every property type the data-source schema has.
    let (_, tasks) = b.database(json!({
        "parent": {"workspace": true},
        "title": rt("Tasks"),
        "description": rt("Everything the team is working on."),
        "icon": {"type": "emoji", "emoji": "✅"},
        "initial_data_source": {"properties": {
            "Name": {"title": {}},
            "Notes": {"rich_text": {}},
            "Estimate": {"number": {"format": "dollar"}},
            "Priority": {"select": {"options": [{"name": "P0", "color": "red"}, {"name": "P1", "color": "orange"}, {"name": "P2", "color": "gray"}]}},
            "Tags": {"multi_select": {"options": [{"name": "backend", "color": "blue"}, {"name": "frontend", "color": "purple"}, {"name": "infra", "color": "brown"}]}},
            "Status": {"status": {}},
            "Due": {"date": {}},
            "Assignees": {"people": {}},
            "Attachments": {"files": {}},
            "Done": {"checkbox": {}},
            "Link": {"url": {}},
            "Contact": {"email": {}},
            "Phone": {"phone_number": {}},
            "Estimate (formula)": {"formula": {"expression": "prop(\"Estimate\")"}},
            "Project": {"relation": {"data_source_id": projects, "type": "dual_property", "dual_property": {}}},
            "Project count": {"rollup": {"relation_property_name": "Project", "rollup_property_name": "Budget", "function": "count"}},
            "Project budget": {"rollup": {"relation_property_name": "Project", "rollup_property_name": "Budget", "function": "sum"}},
            "Created": {"created_time": {}},
            "Created by": {"created_by": {}},
            "Edited": {"last_edited_time": {}},
            "Edited by": {"last_edited_by": {}},
            "ID": {"unique_id": {"prefix": "TASK"}},
        }},
    }));
    let people = [ADA, GRACE, ALAN];
    let statuses = ["Not started", "In progress", "Done"];
    for i in 0..24usize {
        let priority = ["P0", "P1", "P2"][i % 3];
        let tag = ["backend", "frontend", "infra"][i % 3];
        let mut props = json!({
            "Name": {"title": rt(&format!("Task {:02}: {}", i + 1, ["Write the API", "Fix the login bug", "Plan the launch", "Review the budget"][i % 4]))},
            "Notes": {"rich_text": rt("Details are in the linked project.")},
            "Estimate": {"number": (i as f64) * 1.5 + 1.0},
            "Priority": {"select": {"name": priority}},
            "Tags": {"multi_select": [{"name": tag}]},
            "Status": {"status": {"name": statuses[i % 3]}},
            "Due": {"date": {"start": format!("2026-12-{:02}", i % 28 + 1)}},
            "Assignees": {"people": [{"id": people[i % 3]}]},
            "Attachments": {"files": [{"name": "spec.pdf", "external": {"url": "https://files.example.com/spec.pdf"}}]},
            "Done": {"checkbox": i % 3 == 2},
            "Link": {"url": format!("https://tracker.example.com/{}", i + 1)},
            "Contact": {"email": "ops@acme.example"},
            "Phone": {"phone_number": "+1 555 0100"},
            "Project": {"relation": [{"id": project_ids[i % 30]}]},
        });
        if i == 0 {
            // Long values, to show the 25-item truncation of page responses.
            props["Project"] = json!({"relation": project_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
            props["Notes"] = json!({"rich_text": (0..30).map(|n| text(&format!("part {n}; "))).collect::<Vec<_>>()});
            props["Assignees"] =
                json!({"people": people.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
        }
        b.page(json!({"parent": {"data_source_id": tasks}, "properties": props}));
    }
    let template = b.page(json!({
        "parent": {"data_source_id": tasks},
        "properties": {"Name": {"title": rt("Bug report")}, "Tags": {"multi_select": [{"name": "backend"}]}},
        "children": [block("heading_3", json!({"rich_text": rt("Steps to reproduce")})), block("to_do", json!({"rich_text": rt("Write the steps")}))],
    }));
    if let Some(page) = b.ws.pages.get_mut(&template) {
        page.is_template = true;
    }
    if let Some(ds) = b.ws.data_sources.get_mut(&tasks) {
        ds.rows.retain(|r| *r != template);
        ds.templates.push(template);
    }

    // Contacts: one database with two data sources.
    let (contacts_db, people_source) = b.database(json!({
        "parent": {"workspace": true},
        "title": rt("Contacts"),
        "initial_data_source": {"properties": {"Name": {"title": {}}, "Email": {"email": {}}}},
    }));
    if let Some(ds) = b.ws.data_sources.get_mut(&people_source) {
        ds.title = vec![crate::richtext::text("People")];
    }
    let companies = crate::api::data_sources_create(
        &mut b.ws,
        &b.ada,
        contacts_db,
        json!({
            "Name": {"title": {}}, "Website": {"url": {}}, "Employees": {"number": {}},
        }),
        "Companies",
    );
    for (name, email) in [
        ("Linus", "linus@example.org"),
        ("Margaret", "margaret@example.org"),
    ] {
        b.page(json!({"parent": {"data_source_id": people_source}, "properties": {"Name": {"title": rt(name)}, "Email": {"email": email}}}));
    }
    for (name, site) in [
        ("Initech", "https://initech.example"),
        ("Globex", "https://globex.example"),
    ] {
        b.page(json!({"parent": {"data_source_id": companies}, "properties": {"Name": {"title": rt(name)}, "Website": {"url": site}, "Employees": {"number": 120}}}));
    }

    // The handbook's content: every block type, annotation and mention.
    let all_annotations = json!([
        annotated("bold ", json!({"bold": true})),
        annotated("italic ", json!({"italic": true})),
        annotated("strike ", json!({"strikethrough": true})),
        annotated("underline ", json!({"underline": true})),
        annotated("code ", json!({"code": true})),
        annotated("red ", json!({"color": "red"})),
        annotated("on yellow ", json!({"color": "yellow_background"})),
        {"text": {"content": "a link", "link": {"url": "https://acme.example"}}},
        {"text": {"content": " and "}},
        {"equation": {"expression": "e^{i\\pi} + 1 = 0"}},
    ]);
    let mentions = json!([
        {"text": {"content": "Mentions: "}},
        {"mention": {"user": {"id": GRACE}}},
        {"text": {"content": ", "}},
        {"mention": {"page": {"id": runbooks}}},
        {"text": {"content": ", "}},
        {"mention": {"database": {"id": projects_db}}},
        {"text": {"content": ", "}},
        {"mention": {"date": {"start": "2026-12-01", "end": "2026-12-03"}}},
        {"text": {"content": ", "}},
        {"mention": {"link_preview": {"url": "https://github.com/acme/ferry/pull/1"}}},
        {"text": {"content": ", "}},
        {"mention": {"template_mention": {"template_mention_date": "today"}}},
        {"text": {"content": ", "}},
        {"mention": {"template_mention": {"template_mention_user": "me"}}},
    ]);
    let caption = rt("A caption");
    let blocks = b.append(handbook, vec![
        block("table_of_contents", json!({"color": "gray"})),
        block("heading_1", json!({"rich_text": rt("Welcome to Acme")})),
        block("paragraph", json!({"rich_text": all_annotations, "color": "default"})),
        block("paragraph", json!({"rich_text": mentions})),
        block("heading_2", json!({"rich_text": rt("Lists"), "is_toggleable": true, "children": [para("Inside a toggleable heading.")]})),
        block("bulleted_list_item", json!({"rich_text": rt("First bullet"), "children": [block("bulleted_list_item", json!({"rich_text": rt("Nested bullet")}))]})),
        block("numbered_list_item", json!({"rich_text": rt("First step"), "list_format": "numbers"})),
        block("to_do", json!({"rich_text": rt("Read the handbook"), "checked": true})),
        block("to_do", json!({"rich_text": rt("Set up your laptop"), "checked": false})),
        block("toggle", json!({"rich_text": rt("More details"), "children": [para("Hidden until opened.")]})),
        block("heading_3", json!({"rich_text": rt("Quotes and callouts")})),
        block("heading_4", json!({"rich_text": rt("A small heading")})),
        block("quote", json!({"rich_text": rt("Simplicity is prerequisite for reliability."), "color": "gray"})),
        block("callout", json!({"rich_text": rt("Remember to rotate your keys."), "icon": {"type": "emoji", "emoji": "💡"}, "color": "yellow_background"})),
        block("code", json!({"rich_text": rt("fn main() {\n    println!(\"hello\");\n}"), "language": "rust", "caption": caption})),
        block("equation", json!({"expression": "E = mc^2"})),
        block("divider", json!({})),
        block("breadcrumb", json!({})),
        block("image", json!({"external": {"url": "https://images.example.com/office.png"}, "caption": caption})),
        block("video", json!({"external": {"url": "https://videos.example.com/intro.mp4"}})),
        block("pdf", json!({"external": {"url": "https://files.example.com/policy.pdf"}})),
        block("audio", json!({"external": {"url": "https://files.example.com/welcome.mp3"}})),
        block("file", json!({"external": {"url": "https://files.example.com/benefits.docx"}, "name": "benefits.docx"})),
        block("bookmark", json!({"url": "https://acme.example/blog", "caption": caption})),
        block("embed", json!({"url": "https://maps.example.com/office"})),
        block("table", json!({"table_width": 2, "has_column_header": true, "has_row_header": false, "children": [
            block("table_row", json!({"cells": [rt("Tool"), rt("Owner")]})),
            block("table_row", json!({"cells": [rt("Ferry"), rt("Platform")]})),
        ]})),
        block("column_list", json!({"children": [
            block("column", json!({"children": [para("Left column")]})),
            block("column", json!({"width_ratio": 0.5, "children": [para("Right column")]})),
        ]})),
        block("link_to_page", json!({"page_id": engineering})),
        block("synced_block", json!({"synced_from": null, "children": [para("Synced content")]})),
        block("tab", json!({"children": [para("First tab"), para("Second tab")]})),
        block("template", json!({"rich_text": rt("Add a new teammate"), "children": [block("to_do", json!({"rich_text": rt("Send the welcome email")}))]})),
    ]);
    let original = blocks
        .iter()
        .copied()
        .find(|id| {
            b.ws.blocks
                .get(id)
                .is_some_and(|blk| blk.kind == "synced_block")
        })
        .expect("appended above");
    b.append(
        handbook,
        vec![block(
            "synced_block",
            json!({"synced_from": {"block_id": original}}),
        )],
    );
    b.raw_block(
        handbook,
        "image",
        json!({"type": "file", "file": {"name": "org-chart.png"}, "caption": []}),
    );
    b.raw_block(
        handbook,
        "link_preview",
        json!({"url": "https://github.com/acme/ferry/issues/1"}),
    );
    b.raw_block(
        handbook,
        "meeting_notes",
        json!({
            "title": rt_resp("Weekly sync"),
            "status": "notes_ready",
            "calendar_event": {
                "start_time": "2026-11-02T16:00:00.000Z",
                "end_time": "2026-11-02T16:30:00.000Z",
                "attendees": [ADA, GRACE],
            },
        }),
    );
    b.raw_block(handbook, "unsupported", json!({"block_type": "form"}));
    // Mentions that only Notion's editor makes (the API cannot create them).
    let annotations = crate::richtext::default_annotations();
    b.raw_block(handbook, "paragraph", json!({"color": "default", "icon": null, "rich_text": [
        {"type": "mention", "mention": {"type": "link_mention", "link_mention": {"href": "https://github.com/acme/ferry", "title": "acme/ferry", "link_provider": "GitHub"}},
         "annotations": annotations, "plain_text": "acme/ferry", "href": "https://github.com/acme/ferry"},
        {"type": "mention", "mention": {"type": "custom_emoji", "custom_emoji": {"id": "c0ffee00-0000-4000-8000-000000000001", "name": "ferry", "url": "https://emoji.example.com/ferry.png"}},
         "annotations": annotations, "plain_text": ":ferry:", "href": null},
    ]}));

    // Comments on the page and on a block.
    for (parent, words) in [
        (json!({"page_id": handbook}), "Great handbook!"),
        (
            json!({"block_id": blocks[2]}),
            "Can we add more examples here?",
        ),
    ] {
        let body = json!({"parent": parent, "rich_text": rt(words)})
            .as_object()
            .cloned()
            .expect("object");
        crate::api::comments_create(&mut b.ws, &b.ada, &body).expect("the demo seed is valid");
    }

    // Spread creation times over the past weeks so that timestamps and sorts look real.
    let now = Utc::now();
    let mut ids: Vec<Id> = b.ws.pages.keys().copied().collect();
    ids.sort();
    for (i, id) in ids.iter().enumerate() {
        if let Some(p) = b.ws.pages.get_mut(id) {
            let created = now - Duration::days(30) + Duration::minutes(i as i64 * 37);
            p.stamps.created_time = created;
            p.stamps.last_edited_time = created + Duration::minutes((i as i64 * 13) % 600);
        }
    }

    // The internal integration sees the whole workspace.
    let roots: HashSet<Id> = b.ws.roots.iter().copied().collect();
    if let Some(grant) = b.ws.grants.get_mut(DEMO_TOKEN) {
        grant.shared = roots;
    }
    b.ws
}

/// Rich text in the stored (response) shape, for blocks placed without the API.
fn rt_resp(s: &str) -> Value {
    json!([crate::richtext::text(s)])
}
