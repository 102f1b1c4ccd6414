// The official Notion SDK (5.26.0 and 4.0.2, as published) against the emulator, file uploads
// through its own multipart forms and markdown writes with async tasks included.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as v5 from "notion-client-v5";
import * as v4 from "notion-client-v4";
import { startEmulator, DEMO_TOKEN } from "./emulator.mjs";

let emu;
before(async () => {
  emu = await startEmulator();
});
after(async () => {
  await emu.stop();
});

const client5 = (options = {}) => new v5.Client({ auth: DEMO_TOKEN, baseUrl: emu.base, ...options });
const client4 = () => new v4.Client({ auth: DEMO_TOKEN, baseUrl: emu.base });

async function findDataSource(notion, title) {
  const found = await notion.search({ query: title, filter: { property: "object", value: "data_source" } });
  const hit = found.results.find((r) => r.title.map((t) => t.plain_text).join("") === title);
  assert.ok(hit, `a data source titled ${title}`);
  return hit;
}

test("v5: lists page through collectPaginatedAPI", async () => {
  const notion = client5();
  const users = await v5.collectPaginatedAPI(notion.users.list, { page_size: 1 });
  assert.equal(users.length, 4);
  assert.ok(users.every(v5.isFullUser));
  const tasks = await findDataSource(notion, "Tasks");
  assert.ok(v5.isFullDataSource(tasks));
  const rows = await v5.collectPaginatedAPI(notion.dataSources.query, { data_source_id: tasks.id, page_size: 5 });
  assert.equal(rows.length, 24);
  assert.ok(rows.every(v5.isFullPage));
  const handbook = (await notion.search({ query: "Acme Handbook", filter: { property: "object", value: "page" } })).results[0];
  const blocks = await v5.collectPaginatedAPI(notion.blocks.children.list, { block_id: handbook.id, page_size: 7 });
  assert.ok(blocks.length > 30, `${blocks.length} blocks`);
  assert.ok(blocks.every(v5.isFullBlock));
});

test("v5: filters and sorts on a data source", async () => {
  const notion = client5();
  const tasks = await findDataSource(notion, "Tasks");
  const open = await notion.dataSources.query({
    data_source_id: tasks.id,
    filter: {
      and: [
        { property: "Done", checkbox: { equals: false } },
        { or: [{ property: "Priority", select: { equals: "P0" } }, { property: "Priority", select: { equals: "P1" } }] },
      ],
    },
    sorts: [{ property: "Estimate", direction: "ascending" }],
  });
  assert.equal(open.results.length, 16);
  const estimates = open.results.map((p) => p.properties.Estimate.number);
  assert.deepEqual(estimates, [...estimates].sort((a, b) => a - b));
  const recent = await notion.dataSources.query({
    data_source_id: tasks.id,
    filter: { timestamp: "last_edited_time", last_edited_time: { on_or_after: "2000-01-01T00:00:00Z" } },
    sorts: [{ timestamp: "last_edited_time", direction: "ascending" }],
  });
  assert.equal(recent.results.length, 24);
});

test("v5: creates pages with children and reads them back", async () => {
  const notion = client5();
  const tasks = await findDataSource(notion, "Tasks");
  const page = await notion.pages.create({
    parent: { data_source_id: tasks.id },
    properties: {
      Name: { title: [{ text: { content: "From the SDK" } }] },
      Tags: { multi_select: [{ name: "backend" }, { name: "sdk" }] },
      Due: { date: { start: "2026-12-31" } },
    },
    children: [
      { heading_2: { rich_text: [{ text: { content: "Plan" } }] } },
      { bulleted_list_item: { rich_text: [{ text: { content: "Step", link: { url: "https://example.com" } }, annotations: { bold: true } }] } },
    ],
  });
  assert.equal(page.parent.data_source_id, tasks.id);
  assert.deepEqual(page.properties.Tags.multi_select.map((t) => t.name), ["backend", "sdk"]);
  const again = await notion.pages.retrieve({ page_id: page.id });
  assert.equal(again.properties.Name.title[0].plain_text, "From the SDK");
  const children = await notion.blocks.children.list({ block_id: page.id });
  assert.deepEqual(children.results.map((b) => b.type), ["heading_2", "bulleted_list_item"]);
  assert.equal(children.results[1].bulleted_list_item.rich_text[0].href, "https://example.com");
  const schema = await notion.dataSources.retrieve({ data_source_id: tasks.id });
  assert.ok(schema.properties.Tags.multi_select.options.some((o) => o.name === "sdk"), "an unknown option is created");
  const trashed = await notion.pages.update({ page_id: page.id, in_trash: true });
  assert.equal(trashed.in_trash, true);
});

test("v5: files uploaded single and multi part, attached, and pages written as markdown", async () => {
  const notion = client5({ notionVersion: "2026-03-11" });
  const tasks = await findDataSource(notion, "Tasks");
  // Single part, through the SDK's own multipart form.
  const content = "id,name\n1,ferry\n";
  const upload = await notion.fileUploads.create({ filename: "rows.csv", content_type: "text/csv" });
  const sent = await notion.fileUploads.send({
    file_upload_id: upload.id,
    file: { filename: "rows.csv", data: new Blob([content], { type: "text/csv" }) },
  });
  assert.equal(sent.status, "uploaded");
  assert.equal(sent.content_length, content.length);
  // Multi part: a 5 MiB part and a small last one.
  const big = await notion.fileUploads.create({ mode: "multi_part", filename: "big.bin", content_type: "application/octet-stream", number_of_parts: 2 });
  await notion.fileUploads.send({ file_upload_id: big.id, part_number: "1", file: { filename: "big.bin", data: new Blob([new Uint8Array(5 * 1024 * 1024)]) } });
  await notion.fileUploads.send({ file_upload_id: big.id, part_number: "2", file: { filename: "big.bin", data: new Blob(["end"]) } });
  const completed = await notion.fileUploads.complete({ file_upload_id: big.id });
  assert.equal(completed.content_length, 5 * 1024 * 1024 + 3);

  // A row from markdown with both files; an async rewrite polled to its end.
  const page = await notion.pages.create({
    parent: { data_source_id: tasks.id },
    properties: {
      Name: { title: [{ text: { content: "Uploads from the SDK" } }] },
      Attachments: { files: [{ name: "rows.csv", file_upload: { id: upload.id } }, { name: "big.bin", file_upload: { id: big.id } }] },
    },
    markdown: "## Files\n- [ ] Check the rows",
  });
  const files = page.properties.Attachments.files;
  assert.deepEqual(files.map((f) => f.type), ["file", "file"]);
  assert.equal(await (await fetch(files[0].file.url)).text(), content);
  const markdown = await notion.pages.retrieveMarkdown({ page_id: page.id });
  assert.equal(markdown.markdown, "## Files\n- [ ] Check the rows");
  const edited = await notion.pages.updateMarkdown({
    page_id: page.id,
    type: "update_content",
    update_content: { content_updates: [{ old_str: "[ ]", new_str: "[x]" }] },
    allow_async: true,
  });
  assert.equal(edited.object, "async_task");
  const task = await notion.asyncTasks.retrieve({ task_id: edited.id });
  assert.equal(task.status, "succeeded");
  assert.equal(task.result.markdown, "## Files\n- [x] Check the rows");
  const blocks = await notion.blocks.children.list({ block_id: page.id });
  assert.equal(blocks.results[1].to_do.checked, true);
  const listed = await notion.fileUploads.list({ status: "uploaded" });
  assert.ok([upload.id, big.id].every((id) => listed.results.some((u) => u.id === id)));
});

test("v5: errors surface as APIResponseError with Notion's code", async () => {
  const notion = client5();
  await assert.rejects(notion.pages.retrieve({ page_id: "00000000-0000-4000-8000-00000000beef" }), (error) => {
    assert.ok(v5.APIResponseError.isAPIResponseError(error));
    assert.equal(error.code, v5.APIErrorCode.ObjectNotFound);
    assert.equal(error.status, 404);
    return true;
  });
  await assert.rejects(new v5.Client({ auth: "ntn_wrong", baseUrl: emu.base }).users.me({}), (error) => {
    assert.equal(error.code, v5.APIErrorCode.Unauthorized);
    return true;
  });
  const tasks = await findDataSource(notion, "Tasks");
  await assert.rejects(
    notion.dataSources.query({ data_source_id: tasks.id, filter: { property: "Missing", checkbox: { equals: true } } }),
    (error) => {
      assert.equal(error.code, v5.APIErrorCode.ValidationError);
      assert.match(error.message, /Could not find property/);
      return true;
    },
  );
  await assert.rejects(
    notion.blocks.children.append({ block_id: tasks.id, children: [{ paragraph: { rich_text: [{ text: { content: "x".repeat(2001) } }] } }] }),
    (error) => error.code === v5.APIErrorCode.ObjectNotFound || error.code === v5.APIErrorCode.ValidationError,
  );
});

test("v5: the client's own retry rides over a 429", async () => {
  await emu.admin("DELETE", "/_emulator/requests");
  await emu.admin("POST", "/_emulator/faults", { path: "/v1/users/me", status: 429, retry_after: 1, count: 1 });
  const started = Date.now();
  const me = await client5().users.me({});
  assert.equal(me.type, "bot");
  assert.ok(Date.now() - started >= 900, "the client waited for Retry-After");
  const counts = await emu.admin("GET", "/_emulator/requests");
  assert.equal(counts.routes["GET /v1/users/me"], 2);
  await emu.admin("POST", "/_emulator/faults", { path: "/v1/users/me", status: 429, retry_after: 1, count: 1 });
  await assert.rejects(client5({ retry: false }).users.me({}), (error) => error.code === v5.APIErrorCode.RateLimited);
});

test("v5: OAuth token exchange through the SDK", async () => {
  const redirect = "http://127.0.0.1:9/callback";
  const authorize = await fetch(
    `${emu.base}/v1/oauth/authorize?client_id=emulator-client-id&response_type=code&owner=user&redirect_uri=${encodeURIComponent(redirect)}&state=abc`,
    { redirect: "manual" },
  );
  assert.equal(authorize.status, 302);
  const location = new URL(authorize.headers.get("location"));
  assert.equal(location.searchParams.get("state"), "abc");
  const notion = new v5.Client({ baseUrl: emu.base });
  const token = await notion.oauth.token({
    client_id: "emulator-client-id",
    client_secret: "emulator-client-secret",
    grant_type: "authorization_code",
    code: location.searchParams.get("code"),
    redirect_uri: redirect,
  });
  assert.equal(token.token_type, "bearer");
  const asUser = new v5.Client({ auth: token.access_token, baseUrl: emu.base });
  const me = await asUser.users.me({});
  assert.equal(me.id, token.bot_id);
  await assert.rejects(
    notion.oauth.token({ client_id: "emulator-client-id", client_secret: "emulator-client-secret", grant_type: "authorization_code", code: location.searchParams.get("code"), redirect_uri: redirect }),
    (error) => {
      // The SDK's error-code list has no `invalid_grant`, so it reports the raw response.
      assert.ok(v5.UnknownHTTPResponseError.isUnknownHTTPResponseError(error));
      assert.equal(error.status, 400);
      assert.equal(JSON.parse(error.body).code, "invalid_grant");
      return true;
    },
  );
});

test("v4 (2022-06-28): classic databases", async () => {
  const notion = client4();
  const found = await notion.search({ query: "Tasks", filter: { property: "object", value: "database" } });
  const tasks = found.results.find((r) => r.object === "database");
  assert.ok(tasks.properties.Priority);
  const rows = await v4.collectPaginatedAPI(notion.databases.query, {
    database_id: tasks.id,
    filter: { property: "Status", status: { equals: "Done" } },
    page_size: 3,
  });
  assert.equal(rows.length, 8);
  assert.ok(rows.every((r) => r.parent.type === "database_id"));
  const page = await notion.pages.create({
    parent: { database_id: tasks.id },
    properties: { Name: { title: [{ text: { content: "From SDK 4" } }] } },
  });
  assert.equal(page.parent.database_id, tasks.id);
  const users = await v4.collectPaginatedAPI(notion.users.list, { page_size: 2 });
  assert.equal(users.length, 4);
  // A database with two data sources refuses the classic calls.
  const contacts = await client5().search({ query: "People", filter: { property: "object", value: "data_source" } });
  const contactsDb = contacts.results[0].parent.database_id;
  await assert.rejects(notion.databases.retrieve({ database_id: contactsDb }), (error) => {
    assert.equal(error.code, v4.APIErrorCode.ValidationError);
    return true;
  });
});
