//! The emulated workspace: every stored object and the relations between them.
//!
//! Objects are stored in one canonical form (close to the newest API shape) and turned
//! into each version's wire shape by `render`. Timestamps keep millisecond precision here;
//! rounding to the minute happens only when rendered, as Notion does.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub type Id = Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Parent {
    Workspace,
    Page {
        id: Id,
    },
    Block {
        id: Id,
    },
    /// A database row or a data source's template; `database` is the data source's container.
    DataSource {
        id: Id,
        database: Id,
    },
}

impl Parent {
    /// The object this one hangs from, for ancestry walks.
    pub fn container(self) -> Option<Id> {
        match self {
            Parent::Workspace => None,
            Parent::Page { id } | Parent::Block { id } | Parent::DataSource { id, .. } => Some(id),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub kind: UserKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserKind {
    Person {
        email: String,
    },
    /// A bot belongs to one integration; `owner` is the person who installed it (OAuth).
    Bot {
        integration: Id,
        owner: Option<Id>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stamps {
    pub created_time: DateTime<Utc>,
    pub created_by: Id,
    pub last_edited_time: DateTime<Utc>,
    pub last_edited_by: Id,
}

impl Stamps {
    pub fn new(now: DateTime<Utc>, by: Id) -> Self {
        Self {
            created_time: now,
            created_by: by,
            last_edited_time: now,
            last_edited_by: by,
        }
    }

    pub fn touch(&mut self, now: DateTime<Utc>, by: Id) {
        self.last_edited_time = now;
        self.last_edited_by = by;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    pub id: Id,
    pub parent: Parent,
    pub stamps: Stamps,
    pub in_trash: bool,
    pub is_locked: bool,
    pub icon: Option<Value>,
    pub cover: Option<Value>,
    /// Stored values keyed by property id (`title` for pages outside a data source);
    /// each value is the read shape without its `id`/`type` wrapper.
    pub properties: BTreeMap<String, Value>,
    pub children: Vec<Id>,
    /// A data-source template rather than a row.
    #[serde(default)]
    pub is_template: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Block {
    pub id: Id,
    pub parent: Parent,
    pub stamps: Stamps,
    pub in_trash: bool,
    pub kind: String,
    /// The type-specific object in its read shape, e.g. `{"rich_text":[…],"color":"default"}`.
    pub content: Value,
    pub children: Vec<Id>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Database {
    pub id: Id,
    pub parent: Parent,
    pub stamps: Stamps,
    pub title: Vec<Value>,
    pub description: Vec<Value>,
    pub is_inline: bool,
    pub in_trash: bool,
    pub is_locked: bool,
    pub icon: Option<Value>,
    pub cover: Option<Value>,
    pub data_sources: Vec<Id>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PropertySchema {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    /// The type-specific configuration in its read shape, e.g. `{"options":[…]}`.
    pub config: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataSource {
    pub id: Id,
    pub database: Id,
    pub stamps: Stamps,
    pub title: Vec<Value>,
    pub description: Vec<Value>,
    pub icon: Option<Value>,
    pub in_trash: bool,
    pub properties: Vec<PropertySchema>,
    /// Rows in creation order; the default query order is newest edit first.
    pub rows: Vec<Id>,
    pub templates: Vec<Id>,
    pub next_unique_id: u64,
}

impl DataSource {
    pub fn property(&self, name_or_id: &str) -> Option<&PropertySchema> {
        self.properties
            .iter()
            .find(|p| p.name == name_or_id || p.id == name_or_id)
            .or_else(|| {
                let decoded = percent_decode(name_or_id);
                self.properties
                    .iter()
                    .find(|p| p.id == decoded || percent_decode(&p.id) == decoded)
            })
    }

    pub fn title_property(&self) -> Option<&PropertySchema> {
        self.properties.iter().find(|p| p.kind == "title")
    }
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A database view: how one of its data sources is filtered, sorted and shown (a dashboard
/// has no data source; its widgets are views naming it in `dashboard`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct View {
    pub id: Id,
    pub database: Id,
    pub data_source: Option<Id>,
    pub name: String,
    pub kind: String,
    pub filter: Option<Value>,
    pub sorts: Option<Value>,
    pub quick_filters: Option<Value>,
    pub configuration: Option<Value>,
    pub dashboard: Option<Id>,
    pub stamps: Stamps,
}

/// A view query's rows, kept for paging until `expires_at`.
#[derive(Debug, Clone)]
pub struct ViewQuery {
    pub id: Id,
    pub view: Id,
    pub rows: Vec<Id>,
    pub capped: bool,
    pub expires_at: DateTime<Utc>,
}

/// A custom emoji as Notion shows it: `{id, name, url}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomEmoji {
    pub id: Id,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: Id,
    pub parent: Parent,
    pub discussion_id: Id,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub created_by: Id,
    pub rich_text: Vec<Value>,
    pub display_name: Value,
    pub resolved: bool,
    /// Attached files in their stored shape (`{type:"file", file:{name, upload}}`).
    #[serde(default)]
    pub attachments: Vec<Value>,
}

/// An operation accepted with `allow_async`, and its result for polling.
#[derive(Debug, Clone)]
pub struct AsyncTask {
    pub id: String,
    /// Only the integration that started it may poll it.
    pub integration: Option<Id>,
    pub operation: &'static str,
    pub created_time: DateTime<Utc>,
    pub result: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    SinglePart,
    MultiPart,
    ExternalUrl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    Pending,
    Uploaded,
    Expired,
    Failed,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Pending => "pending",
            UploadStatus::Uploaded => "uploaded",
            UploadStatus::Expired => "expired",
            UploadStatus::Failed => "failed",
        }
    }
}

/// A file sent through the File Upload API. Only the integration that made it sees it; it
/// expires unless attached within its hour, and is kept for good once attached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileUpload {
    pub id: Id,
    pub integration: Id,
    pub stamps: Stamps,
    pub mode: UploadMode,
    pub status: UploadStatus,
    /// `None` once attached to something.
    pub expiry_time: Option<DateTime<Utc>>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// Multi-part uploads: how many parts were announced.
    pub number_of_parts: Option<u32>,
    pub external_url: Option<String>,
    pub file_import_result: Option<Value>,
    /// Multi-part uploads: the parts sent so far, by number.
    #[serde(skip)]
    pub parts: BTreeMap<u32, std::sync::Arc<[u8]>>,
    /// The file's bytes once uploaded; an export leaves them out.
    #[serde(skip)]
    pub content: Option<std::sync::Arc<[u8]>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IntegrationKind {
    Internal {
        token: String,
    },
    Public {
        client_id: String,
        client_secret: String,
        redirect_uris: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Integration {
    pub id: Id,
    pub name: String,
    pub kind: IntegrationKind,
    /// The bot of an internal integration; public ones get a bot per installation.
    pub bot: Option<Id>,
    /// Whether user emails are returned ("read user information including email").
    pub user_emails: bool,
}

/// One token's view of the workspace: an internal integration's token or one OAuth install.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub integration: Id,
    pub bot: Id,
    pub owner: Option<Id>,
    /// Objects picked (OAuth) or shared (internal); descendants are visible too.
    pub shared: HashSet<Id>,
    pub refresh_token: Option<String>,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub integration: Id,
    pub owner: Id,
    pub redirect_uri: Option<String>,
    pub pages: HashSet<Id>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Everything the emulator stores; serialisable so a workspace can be exported and reseeded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Id,
    pub name: String,
    pub icon: Option<String>,
    pub users: Vec<User>,
    pub pages: HashMap<Id, Page>,
    pub blocks: HashMap<Id, Block>,
    pub databases: HashMap<Id, Database>,
    pub data_sources: HashMap<Id, DataSource>,
    pub comments: Vec<Comment>,
    /// The workspace's own emojis, for icons and mentions.
    #[serde(default)]
    pub custom_emojis: Vec<CustomEmoji>,
    /// Database views, in creation order.
    #[serde(default)]
    pub views: Vec<View>,
    /// View queries' kept rows; they expire, so an export leaves them out.
    #[serde(skip)]
    pub view_queries: HashMap<Id, ViewQuery>,
    /// Async tasks by id; they hold results only for polling, so an export leaves them out.
    #[serde(skip)]
    pub async_tasks: HashMap<String, AsyncTask>,
    /// File uploads, in creation order.
    #[serde(default)]
    pub file_uploads: Vec<FileUpload>,
    /// Top-level objects of the workspace, in creation order.
    pub roots: Vec<Id>,
    pub integrations: Vec<Integration>,
    /// Access token → grant.
    pub grants: HashMap<String, Grant>,
    pub codes: HashMap<String, AuthorizationCode>,
    /// Refresh token → the access token it renews.
    pub refresh_tokens: HashMap<String, String>,
}

/// Which kind of object an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Page,
    Block,
    Database,
    DataSource,
}

impl Workspace {
    pub fn kind_of(&self, id: Id) -> Option<ObjectKind> {
        if self.pages.contains_key(&id) {
            Some(ObjectKind::Page)
        } else if self.blocks.contains_key(&id) {
            Some(ObjectKind::Block)
        } else if self.databases.contains_key(&id) {
            Some(ObjectKind::Database)
        } else if self.data_sources.contains_key(&id) {
            Some(ObjectKind::DataSource)
        } else {
            None
        }
    }

    /// The object an object hangs from (a data source hangs from its database).
    pub fn parent_of(&self, id: Id) -> Option<Id> {
        match self.kind_of(id)? {
            ObjectKind::Page => self.pages[&id].parent.container(),
            ObjectKind::Block => self.blocks[&id].parent.container(),
            ObjectKind::Database => self.databases[&id].parent.container(),
            ObjectKind::DataSource => Some(self.data_sources[&id].database),
        }
    }

    /// True when `id` or one of its ancestors is in `shared`.
    pub fn is_shared(&self, shared: &HashSet<Id>, id: Id) -> bool {
        let mut current = Some(id);
        let mut hops = 0;
        while let Some(node) = current {
            if shared.contains(&node) {
                return true;
            }
            hops += 1;
            if hops > 10_000 {
                return false;
            }
            current = self.parent_of(node);
        }
        false
    }

    pub fn user(&self, id: Id) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn file_upload(&self, id: Id) -> Option<&FileUpload> {
        self.file_uploads.iter().find(|u| u.id == id)
    }

    pub fn file_upload_mut(&mut self, id: Id) -> Option<&mut FileUpload> {
        self.file_uploads.iter_mut().find(|u| u.id == id)
    }

    pub fn integration(&self, id: Id) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id == id)
    }

    /// The children list of a page or block container.
    pub fn children_mut(&mut self, id: Id) -> Option<&mut Vec<Id>> {
        if let Some(page) = self.pages.get_mut(&id) {
            return Some(&mut page.children);
        }
        self.blocks.get_mut(&id).map(|b| &mut b.children)
    }

    pub fn children(&self, id: Id) -> Option<&Vec<Id>> {
        if let Some(page) = self.pages.get(&id) {
            return Some(&page.children);
        }
        self.blocks.get(&id).map(|b| &b.children)
    }

    /// Whether the object is in the trash itself or through an ancestor.
    pub fn is_trashed(&self, id: Id) -> bool {
        let mut current = Some(id);
        while let Some(node) = current {
            let trashed = match self.kind_of(node) {
                Some(ObjectKind::Page) => self.pages[&node].in_trash,
                Some(ObjectKind::Block) => self.blocks[&node].in_trash,
                Some(ObjectKind::Database) => self.databases[&node].in_trash,
                Some(ObjectKind::DataSource) => self.data_sources[&node].in_trash,
                None => false,
            };
            if trashed {
                return true;
            }
            current = self.parent_of(node);
        }
        false
    }

    /// The page a block ultimately belongs to, for webhook `page.content_updated`.
    pub fn owning_page(&self, id: Id) -> Option<Id> {
        let mut current = Some(id);
        while let Some(node) = current {
            if self.pages.contains_key(&node) {
                return Some(node);
            }
            current = self.parent_of(node);
        }
        None
    }

    pub fn page_title_text(&self, id: Id) -> String {
        let Some(page) = self.pages.get(&id) else {
            return String::new();
        };
        let title_key = match page.parent {
            Parent::DataSource { id: ds, .. } => self
                .data_sources
                .get(&ds)
                .and_then(|d| d.title_property())
                .map(|p| p.id.clone())
                .unwrap_or_else(|| "title".into()),
            _ => "title".into(),
        };
        page.properties
            .get(&title_key)
            .map(plain_text)
            .unwrap_or_default()
    }
}

/// Concatenated `plain_text` of a stored rich-text array.
pub fn plain_text(rich_text: &Value) -> String {
    rich_text
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("plain_text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}
