//! Notion's pre-built actions: what each takes and gives (as JSON Schemas the catalogue shows),
//! and the code that runs it over a connection's transport. Inputs are checked here, before any
//! call, and a wrong one names its field.

mod calls;
mod database;
mod duplicate;
mod input;
mod page;
mod rows;

use ferry_provider::{
    ActionCall, ActionCatalogue, ActionError, ActionSpec, BoxFuture, DynTransport, FreshFile,
    InputSchema, SharedTransport,
};
use serde_json::{Value, json};

use crate::types::User;
use crate::{ApiVersion, Notion, NotionError};

use self::input::Input;

/// The typed client an action drives.
pub(crate) type Client<'a> = Notion<SharedTransport<'a>>;

pub(crate) static CATALOGUE: ActionCatalogue = ActionCatalogue {
    actions: all_actions,
    run,
    fresh_file_url,
};

/// The actions with code of their own, then those declared as one call each.
fn all_actions() -> &'static [ActionSpec] {
    static ALL: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
        ACTIONS
            .iter()
            .copied()
            .chain(calls::CALLS.iter().map(|c| c.spec))
            .collect()
    });
    &ALL
}

static ACTIONS: [ActionSpec; 6] = [
    ActionSpec {
        name: "fetch-database",
        description: "A database (or data source) with every row: properties complete past Notion's 25-item cut, and past the 10,000-row query cap.",
        endpoint: Some(("GET", "/databases/single")),
        input: InputSchema::Built(database::fetch_input),
        output: database::fetch_output,
    },
    ActionSpec {
        name: "create-database-row",
        description: "Adds a row to a database, mapping plain values onto its schema; property names match case-insensitively, and a wrong value is refused with its property named.",
        endpoint: Some(("POST", "/databases/row")),
        input: InputSchema::Built(rows::create_input),
        output: rows::create_output,
    },
    ActionSpec {
        name: "fetch-rich-page",
        description: "A page as GitHub-flavoured markdown with its metadata, optionally with its properties as YAML front matter.",
        endpoint: Some(("GET", "/pages/single")),
        input: InputSchema::Built(page::rich_page_input),
        output: page::rich_page_output,
    },
    ActionSpec {
        name: "list-users",
        description: "Every user of the workspace: people and bots.",
        endpoint: Some(("GET", "/users")),
        input: InputSchema::Built(list_users_input),
        output: list_users_output,
    },
    ActionSpec {
        name: "fetch-content-metadata",
        description: "What a Notion URL or id points at: a page, a database or a data source, with its title, parent and last edit.",
        endpoint: Some(("GET", "/contents/single")),
        input: InputSchema::Built(page::content_metadata_input),
        output: page::content_metadata_output,
    },
    ActionSpec {
        name: "duplicate-page",
        description: "Copies a page with its writable properties, icon, cover and whole block tree; what the API cannot create (child pages and databases, Notion-hosted files) is listed as skipped.",
        endpoint: None,
        input: InputSchema::Built(duplicate::input),
        output: duplicate::output,
    },
];

fn run<'a>(
    transport: &'a dyn DynTransport,
    call: ActionCall<'a>,
) -> BoxFuture<'a, Result<Value, ActionError>> {
    Box::pin(async move {
        let version = call
            .api_version
            .and_then(ApiVersion::parse)
            .unwrap_or(ApiVersion::DEFAULT);
        let notion = Notion::new(SharedTransport(transport), version);
        let input = Input::new(&call.input)?;
        match call.name {
            "fetch-database" => database::fetch(&notion, &input).await,
            "create-database-row" => rows::create(&notion, &input).await,
            "fetch-rich-page" => page::rich_page(&notion, &input, call.file_link).await,
            "list-users" => list_users(&notion).await,
            "fetch-content-metadata" => page::content_metadata(&notion, &input).await,
            "duplicate-page" => duplicate::duplicate(&notion, &input).await,
            other => match calls::find(other) {
                Some(call) => calls::run(&notion, call, &input).await,
                None => Err(ActionError::Unknown(other.to_string())),
            },
        }
    })
}

fn fresh_file_url<'a>(
    transport: &'a dyn DynTransport,
    block_id: &'a str,
    api_version: Option<&'a str>,
) -> BoxFuture<'a, Result<FreshFile, ActionError>> {
    Box::pin(async move {
        let version = api_version
            .and_then(ApiVersion::parse)
            .unwrap_or(ApiVersion::DEFAULT);
        let notion = Notion::new(SharedTransport(transport), version);
        page::fresh_file_url(&notion, block_id).await
    })
}

/// Notion's refusal as an action error, keeping its status, code and message.
pub(crate) fn failed(e: NotionError) -> ActionError {
    match e {
        NotionError::Api {
            status,
            code,
            message,
            ..
        } => ActionError::Provider {
            provider: "Notion",
            status,
            code,
            message,
        },
        NotionError::Transport(e) => ActionError::Transport(e),
        NotionError::Decode { .. } => ActionError::Unreadable(e.to_string()),
        NotionError::InvalidId { what, ref id } => ActionError::InvalidInput {
            field: what.to_string(),
            message: format!("`{id}` is not a valid Notion {what} id"),
        },
    }
}

fn list_users_input() -> Value {
    json!({"type": "object", "properties": {}, "additionalProperties": false})
}

fn list_users_output() -> Value {
    json!({
        "type": "object",
        "required": ["users"],
        "properties": {"users": {"type": "array", "items": user_schema()}}
    })
}

pub(crate) fn user_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "isBot"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
            "firstName": {"type": "string"},
            "lastName": {"type": "string"},
            "isBot": {"type": "boolean"},
            "avatarUrl": {"type": ["string", "null"]}
        }
    })
}

/// A user in the shape of Nango's `User` model, with the name and avatar kept.
pub(crate) fn user_json(user: &User) -> Value {
    let name = user.name.clone().unwrap_or_default();
    let (first, last) = match name.split_once(' ') {
        Some((first, last)) => (first.to_string(), last.to_string()),
        None => (name.clone(), String::new()),
    };
    json!({
        "id": user.id,
        "name": user.name,
        "email": user.email(),
        "firstName": first,
        "lastName": last,
        "isBot": user.is_bot(),
        "avatarUrl": user.avatar_url,
    })
}

async fn list_users(notion: &Client<'_>) -> Result<Value, ActionError> {
    let users = notion.users().all().await.map_err(failed)?;
    Ok(json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action's schemas are JSON Schema objects, and every name is unique.
    #[test]
    fn the_catalogue_is_well_formed() {
        let mut names = std::collections::HashSet::new();
        for spec in (CATALOGUE.actions)() {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            for schema in [spec.input.json(), (spec.output)()] {
                assert_eq!(schema["type"], "object", "{}", spec.name);
                assert!(schema["properties"].is_object(), "{}", spec.name);
            }
        }
    }
}
