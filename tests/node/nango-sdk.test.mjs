// @nangohq/node 0.71.10, as published, driving Ferry (which talks to the Notion emulator);
// and the official Notion SDK calling Notion through Ferry's proxy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Nango } from "@nangohq/node";
import * as notionSdk from "notion-client-v5";
import { startEmulator, startFerry } from "./emulator.mjs";

const SECRET = "node-test-secret-key-0123456789";
let emu;
let ferry;
let nango;

before(async () => {
  emu = await startEmulator();
  ferry = await startFerry(emu.base, SECRET);
  nango = new Nango({ host: ferry.base, secretKey: SECRET });
});
after(async () => {
  await ferry?.stop();
  await emu?.stop();
});

// Polls an async action as an app would: 404 until it ends, then its output or its error.
async function pollAsync(props) {
  for (let i = 0; i < 200; i++) {
    try {
      return await nango.getAsyncActionResult(props);
    } catch (error) {
      if (error.response?.status !== 404) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`async action ${JSON.stringify(props)} did not end in 10 s`);
}

// The browser's part of OAuth: Ferry's connect URL → Notion's consent → Ferry's callback.
async function authorize(sessionToken) {
  const start = await fetch(`${ferry.base}/oauth/connect/notion?connect_session_token=${sessionToken}`, { redirect: "manual" });
  assert.equal(start.status, 302);
  const cookie = start.headers.get("set-cookie").split(";")[0];
  const consent = await fetch(start.headers.get("location"), { redirect: "manual" });
  assert.equal(consent.status, 302);
  const callback = await fetch(consent.headers.get("location"), { headers: { cookie } });
  return { status: callback.status, page: await callback.text() };
}

test("integrations, connect sessions, connections, metadata and the proxy through @nangohq/node", async () => {
  const created = await nango.createIntegration({
    provider: "notion",
    unique_key: "notion",
    display_name: "Notion",
    credentials: { type: "OAUTH2", client_id: "emulator-client-id", client_secret: "emulator-client-secret" },
  });
  assert.equal(created.data.unique_key, "notion");
  const { configs } = await nango.listIntegrations();
  assert.deepEqual(configs.map((c) => c.unique_key), ["notion"]);
  const one = await nango.getIntegration({ uniqueKey: "notion" });
  assert.equal(one.data.provider, "notion");
  const provider = await nango.getProvider({ provider: "notion" });
  assert.equal(provider.data.auth_mode, "OAUTH2");

  const session = await nango.createConnectSession({ end_user: { id: "u-42", email: "u42@example.com" }, allowed_integrations: ["notion"] });
  assert.match(session.data.token, /^nango_connect_session_/);
  assert.ok(session.data.connect_link.startsWith(ferry.base));
  const result = await authorize(session.data.token);
  assert.equal(result.status, 200, result.page);

  const { connections } = await nango.listConnections();
  assert.equal(connections.length, 1);
  const connectionId = connections[0].connection_id;
  assert.equal(connections[0].end_user.id, "u-42");
  const byUser = await nango.listConnections({ userId: "u-42" });
  assert.equal(byUser.connections.length, 1);

  const connection = await nango.getConnection("notion", connectionId);
  assert.equal(connection.credentials.type, "OAUTH2");
  assert.equal(connection.connection_config.workspace_name, "Acme Inc.");
  const token = await nango.getToken("notion", connectionId);
  assert.equal(token, connection.credentials.access_token);
  const raw = await nango.getRawTokenResponse("notion", connectionId);
  assert.equal(raw.token_type, "bearer");

  assert.equal(typeof connections[0].id, "number", "Nango's connection id is an integer");
  const patched = await nango.patchConnection({ connectionId, provider_config_key: "notion" }, { tags: { plan: "pro" } });
  assert.deepEqual(patched, { success: true });
  // The SDK sends tags as `tags[key]=value`, keys lower-cased, and email as end_user_email.
  assert.equal((await nango.listConnections({ tags: { Plan: "pro" } })).connections.length, 1);
  assert.equal((await nango.listConnections({ tags: { plan: "free" } })).connections.length, 0);
  assert.equal((await nango.listConnections({ tags: { email: "u42@example.com" } })).connections.length, 1);
  assert.equal((await nango.listConnections({ userId: "U-42" })).connections.length, 0, "end user ids compare exactly");
  await nango.setMetadata("notion", connectionId, { team: "a" });
  await nango.updateMetadata("notion", connectionId, { region: "eu" });
  assert.deepEqual(await nango.getMetadata("notion", connectionId), { team: "a", region: "eu" });

  assert.deepEqual(await nango.getEnvironmentVariables(), []);
  const users = await nango.get({ endpoint: "/v1/users", providerConfigKey: "notion", connectionId, params: { page_size: "2" } });
  assert.equal(users.status, 200);
  assert.equal(users.data.results.length, 2);
  const search = await nango.post({ endpoint: "/v1/search", providerConfigKey: "notion", connectionId, data: { page_size: 1 } });
  assert.equal(search.data.type, "page_or_data_source");
  const classic = await nango.proxy({ method: "POST", endpoint: "/v1/search", providerConfigKey: "notion", connectionId, data: {}, headers: { "Notion-Version": "2022-06-28" } });
  assert.equal(classic.data.type, "page_or_database");
  await assert.rejects(nango.get({ endpoint: "/v1/pages/00000000-0000-4000-8000-00000000beef", providerConfigKey: "notion", connectionId }), (error) => {
    assert.equal(error.response.status, 404);
    assert.equal(error.response.data.code, "object_not_found");
    return true;
  });

  // Notion's own SDK through Ferry's proxy: Ferry's key as `auth`, the connection in headers.
  const notion = new notionSdk.Client({
    auth: SECRET,
    baseUrl: `${ferry.base}/proxy`,
    fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, "Connection-Id": connectionId, "Provider-Config-Key": "notion" } }),
  });
  const all = await notionSdk.collectPaginatedAPI(notion.users.list, { page_size: 1 });
  assert.equal(all.length, 4);

  // Pre-built actions through the SDK: each action, the catalogue, and a refused input.
  const listed = await nango.triggerAction("notion", connectionId, "list-users", {});
  assert.equal(listed.users.length, 4);
  const found = await nango.post({ endpoint: "/v1/search", providerConfigKey: "notion", connectionId, data: { query: "Tasks", filter: { property: "object", value: "data_source" } } });
  const tasks = found.data.results.find((r) => r.title?.[0]?.plain_text === "Tasks");
  const database = await nango.triggerAction("notion", connectionId, "fetch-database", { databaseId: tasks.parent.database_id });
  assert.equal(database.title, "Tasks");
  const row = await nango.triggerAction("notion", connectionId, "create-database-row", { databaseId: tasks.parent.database_id, properties: { name: "From the SDK", status: "Done" } });
  assert.equal(row.success, true);
  const page = await nango.triggerAction("notion", connectionId, "fetch-rich-page", { pageId: row.id });
  assert.match(page.content, /^# From the SDK\n/);
  const meta = await nango.triggerAction("notion", connectionId, "fetch-content-metadata", { id: row.id });
  assert.equal(meta.type, "page");
  await assert.rejects(nango.triggerAction("notion", connectionId, "create-database-row", { databaseId: tasks.parent.database_id, properties: { Status: "Shipped" } }), (error) => {
    assert.equal(error.response.status, 400);
    assert.equal(error.response.data.error.code, "invalid_action_input");
    assert.equal(error.response.data.error.payload.field, "properties.Status");
    return true;
  });
  const scripts = await nango.getScriptsConfig();
  assert.ok(scripts[0].actions.some((a) => a.name === "fetch-rich-page"));

  // Actions declared as one Notion call each, through the same SDK method.
  const bot = await nango.triggerAction("notion", connectionId, "get-bot-user", {});
  assert.equal(bot.type, "bot");
  assert.equal((await nango.triggerAction("notion", connectionId, "retrieve-page", { page_id: row.id })).id, row.id);
  const pages = await nango.triggerAction("notion", connectionId, "search-pages", { page_size: 5 });
  assert.ok(pages.results.every((r) => r.object === "page"));
  const added = await nango.triggerAction("notion", connectionId, "append-block-children", { block_id: row.id, children: [{ paragraph: { rich_text: [{ text: { content: "Added" } }] } }] });
  const children = await nango.triggerAction("notion", connectionId, "list-block-children", { block_id: row.id });
  assert.ok(children.results.some((b) => b.id === added.results[0].id));
  await nango.triggerAction("notion", connectionId, "create-comment", { parent: { page_id: row.id }, rich_text: [{ text: { content: "From the SDK" } }] });
  assert.equal((await nango.triggerAction("notion", connectionId, "list-comments", { block_id: row.id })).results.length, 1);
  assert.equal((await nango.triggerAction("notion", connectionId, "archive-page", { page_id: row.id })).in_trash, true);
  assert.equal((await nango.triggerAction("notion", connectionId, "restore-page", { page_id: row.id })).in_trash, false);
  assert.equal((await nango.triggerAction("notion", connectionId, "query-data-source", { data_source_id: tasks.id, page_size: 2 })).results.length, 2);

  // Asynchronous: queued, run by Ferry's workers, polled by id or by status URL.
  const queued = await nango.triggerActionAsync("notion", connectionId, "list-users", {});
  assert.equal(queued.statusUrl, `/action/${queued.id}`);
  const everyone = await pollAsync({ id: queued.id });
  assert.equal(everyone.users.length, 4);
  assert.deepEqual(await nango.getAsyncActionResult({ statusUrl: queued.statusUrl }), everyone);
  const failing = await nango.triggerActionAsync("notion", connectionId, "retrieve-page", { page_id: "00000000000000000000000000000000" });
  await assert.rejects(pollAsync({ id: failing.id }), (error) => {
    assert.equal(error.response.status, 502);
    assert.equal(error.response.data.error.payload.code, "object_not_found");
    return true;
  });

  await nango.deleteConnection("notion", connectionId);
  await assert.rejects(nango.getConnection("notion", connectionId), (error) => error.response.status === 404);
  await nango.deleteIntegration("notion");
  assert.deepEqual((await nango.listIntegrations()).configs, []);
});

// Polls `check` until it gives something, as an app waits for a sync.
async function waitFor(what, check) {
  for (let i = 0; i < 200; i++) {
    const found = await check();
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen in 20 s`);
}

// An app receiving Ferry's webhooks: it answers its first request 503 with `Retry-After: 1`,
// then 200, and keeps every raw body with its headers.
async function startApp() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: request.headers });
      if (received.length === 1) {
        response.writeHead(503, { "retry-after": "1" });
      } else {
        response.writeHead(200);
      }
      response.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/webhooks`, received, stop: () => new Promise((resolve) => server.close(resolve)) };
}

test("syncs and their records through @nangohq/node", async () => {
  // Webhooks go to an app that fails its first answer; the SDK verifies what arrives.
  const app = await startApp();
  const rotated = await fetch(`${ferry.base}/environment/webhook-signing-key/rotate`, { method: "POST", headers: { authorization: `Bearer ${SECRET}` } });
  const signingKey = (await rotated.json()).data.webhook_signing_key;
  const settings = await fetch(`${ferry.base}/environment/webhook-settings`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ primary_url: app.url }),
  });
  assert.equal(settings.status, 200);
  const receiver = new Nango({ host: ferry.base, secretKey: SECRET, webhookSigningKey: signingKey });

  await nango.createIntegration({
    provider: "notion",
    unique_key: "notion-sync",
    credentials: { type: "OAUTH2", client_id: "emulator-client-id", client_secret: "emulator-client-secret" },
  });
  const imported = await fetch(`${ferry.base}/connections`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ provider_config_key: "notion-sync", connection_id: "synced", credentials: { type: "OAUTH2", access_token: "ntn_emulator_demo" } }),
  });
  assert.equal(imported.status, 201);
  const scope = { providerConfigKey: "notion-sync", connectionId: "synced" };
  const succeeded = (name) => async () => {
    const { syncs } = await nango.syncStatus("notion-sync", [name], "synced");
    return syncs[0]?.status === "SUCCESS" ? syncs[0] : null;
  };

  // Ferry's workers run the syncs that start by themselves; the others wait to be started.
  const selfStarting = ["content-metadata", "users"];
  const status = await waitFor("the first runs", async () => {
    const { syncs } = await nango.syncStatus("notion-sync", "*", "synced");
    const started = syncs.filter((s) => selfStarting.includes(s.name));
    return started.length === 2 && started.every((s) => s.status === "SUCCESS") ? syncs : null;
  });
  assert.deepEqual(status.map((s) => s.name).sort(), ["content-metadata", "data-source-entries", "data-source-templates", "data-sources", "databases", "users"]);
  assert.ok(status.filter((s) => !selfStarting.includes(s.name)).every((s) => s.status === "PAUSED"));
  const users = status.find((s) => s.name === "users");
  assert.deepEqual(users.recordCount, { User: 4 });
  assert.equal(users.frequency, "every day");

  // Records: all, by page with a filter, by id, since a time.
  const all = await nango.listRecords({ ...scope, model: "User" });
  assert.equal(all.records.length, 4);
  assert.ok(all.records.every((r) => r._nango_metadata.last_action === "ADDED"));
  const first = await nango.listRecords({ ...scope, model: "User", limit: 3, filter: "added" });
  assert.equal(first.records.length, 3);
  const rest = await nango.listRecords({ ...scope, model: "User", limit: 3, cursor: first.next_cursor });
  assert.equal(rest.records.length, 1);
  assert.equal(rest.next_cursor, null);
  assert.deepEqual([...first.records, ...rest.records].map((r) => r.id), all.records.map((r) => r.id));
  const picked = await nango.listRecords({ ...scope, model: "User", ids: [all.records[1].id] });
  assert.deepEqual(picked.records.map((r) => r.id), [all.records[1].id]);
  const later = await nango.listRecords({ ...scope, model: "User", modifiedAfter: "2999-01-01T00:00:00Z" });
  assert.deepEqual(later.records, []);
  const content = await nango.listRecords({ ...scope, model: "ContentMetadata", limit: 1000 });
  assert.ok(content.records.some((r) => r.title === "Acme Handbook" && r.object_type === "page"));

  // Control: pause, start, a full run on demand, the connection's own frequency.
  await nango.pauseSync("notion-sync", ["users"], "synced");
  assert.equal((await nango.syncStatus("notion-sync", ["users"], "synced")).syncs[0].status, "PAUSED");
  await nango.startSync("notion-sync", ["users"], "synced");
  await waitFor("the started run", succeeded("users"));
  const before = (await nango.syncStatus("notion-sync", ["users"], "synced")).syncs[0].finishedAt;
  await nango.triggerSync("notion-sync", ["users"], "synced", { reset: true });
  await waitFor("the triggered run", async () => {
    const found = await succeeded("users")();
    return found && found.finishedAt !== before ? found : null;
  });
  assert.deepEqual(await nango.updateSyncConnectionFrequency("notion-sync", "users", "synced", "every 2h"), { frequency: "every 2h" });
  assert.equal((await nango.syncStatus("notion-sync", ["users"], "synced")).syncs[0].frequency, "every 2h");
  assert.deepEqual(await nango.updateSyncConnectionFrequency("notion-sync", "users", "synced", null), { frequency: "every day" });

  // A variant keeps its own records.
  const variant = await nango.createSyncVariant({ provider_config_key: "notion-sync", connection_id: "synced", name: "users", variant: "eu" });
  assert.equal(variant.variant, "eu");
  await waitFor("the variant's run", succeeded("users::eu"));
  assert.equal((await nango.listRecords({ ...scope, model: "User", variant: "eu" })).records.length, 4);
  await nango.deleteSyncVariant({ provider_config_key: "notion-sync", connection_id: "synced", name: "users", variant: "eu" });

  // The sync webhooks arrived, the first after a retry, each signed as Nango signs.
  const delivered = await waitFor("the sync webhooks", async () => {
    const ok = app.received.slice(1).map((r) => ({ ...r, json: JSON.parse(r.body) }));
    const models = new Set(ok.filter((r) => r.json.type === "sync" && r.json.connectionId === "synced").map((r) => r.json.model));
    return models.has("User") && models.has("ContentMetadata") ? ok : null;
  });
  for (const request of app.received) {
    assert.equal(receiver.verifyIncomingWebhookRequest(request.body, request.headers), true);
    assert.equal(receiver.verifyWebhookSignature(request.headers["x-nango-signature"], JSON.parse(request.body)), true);
  }
  assert.equal(app.received[0].body, delivered.find((r) => r.body === app.received[0].body)?.body, "the refused delivery came again");
  const usersHook = delivered.find((r) => r.json.model === "User").json;
  assert.equal(usersHook.syncName, "users");
  assert.equal(usersHook.success, true);
  assert.deepEqual(usersHook.responseResults, { added: 4, updated: 0, deleted: 0 });
  const since = await nango.listRecords({ ...scope, model: "User", modifiedAfter: usersHook.modifiedAfter });
  assert.equal(since.records.length, 4);
  await app.stop();
  await assert.rejects(nango.syncStatus("notion-sync", ["users::eu"], "synced"), (error) => {
    assert.equal(error.response.status, 404);
    assert.equal(error.response.data.error.code, "unknown_sync");
    return true;
  });
  await nango.deleteIntegration("notion-sync");
});

test("a reconnect session and an imported connection through @nangohq/node", async () => {
  await nango.createIntegration({
    provider: "notion",
    unique_key: "notion-import",
    credentials: { type: "OAUTH2", client_id: "emulator-client-id", client_secret: "emulator-client-secret" },
  });
  const imported = await fetch(`${ferry.base}/connections`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ provider_config_key: "notion-import", connection_id: "imported", credentials: { type: "OAUTH2", access_token: "ntn_emulator_demo" }, end_user: { id: "u-7" } }),
  });
  assert.equal(imported.status, 201);
  const session = await nango.createReconnectSession({ connection_id: "imported", integration_id: "notion-import" });
  assert.match(session.data.token, /^nango_connect_session_/);
  const me = await nango.get({ endpoint: "/v1/users/me", providerConfigKey: "notion-import", connectionId: "imported" });
  assert.equal(me.data.type, "bot");
  await nango.deleteIntegration("notion-import");
});

test("errors come back in Nango's shape", async () => {
  const wrong = new Nango({ host: ferry.base, secretKey: "wrong-key-0123456789" });
  await assert.rejects(wrong.listIntegrations(), (error) => {
    assert.equal(error.response.status, 401);
    assert.equal(error.response.data.error.code, "unknown_account");
    return true;
  });
  await assert.rejects(nango.getIntegration({ uniqueKey: "missing" }), (error) => error.response.data.error.code === "unknown_provider_config");
  await assert.rejects(nango.createConnectSession({ end_user: { id: 42 } }), (error) => {
    assert.equal(error.response.status, 400);
    assert.equal(error.response.data.error.code, "invalid_body");
    assert.match(error.response.data.error.message, /end_user\.id/);
    return true;
  });
});
