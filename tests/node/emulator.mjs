// Starts the Notion emulator as a child process (the real `ferry` binary) on a free
// loopback port and gives tests its base URL plus small admin helpers.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export function ferryBinary() {
  if (process.env.FERRY_BIN) return process.env.FERRY_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(here, "..", "..", "target");
  return path.join(target, "debug", "ferry");
}

export async function startEmulator(extraArgs = ["--rate-limit", "0"]) {
  const child = spawn(ferryBinary(), ["notion-emulator", "--listen", "127.0.0.1:0", ...extraArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buffered = "";
  const base = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
    child.stdout.on("data", (chunk) => {
      buffered += chunk.toString();
      const match = buffered.match(/notion-emulator listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
  });
  return {
    base,
    async admin(method, route, body) {
      const response = await fetch(`${base}${route}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await response.json();
      if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json)}`);
      return json;
    },
    async stop() {
      child.kill("SIGINT");
      await once(child, "exit").catch(() => {});
    },
  };
}

export const DEMO_TOKEN = "ntn_emulator_demo";

async function freePort() {
  const { createServer } = await import("node:net");
  return await new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts `ferry serve` on a fresh SQLite database pointed at `notionBase`.
export async function startFerry(notionBase, secretKey) {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { randomBytes } = await import("node:crypto");
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-node-"));
  const port = await freePort();
  const child = spawn(ferryBinary(), ["serve"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      FERRY_LISTEN: `127.0.0.1:${port}`,
      FERRY_DATABASE_URL: `sqlite://${dir}/ferry.db`,
      FERRY_SECRET_KEY: secretKey,
      FERRY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      FERRY_NOTION_BASE_URL: notionBase,
    },
  });
  let buffered = "";
  const base = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`ferry exited with ${code}`)));
    child.stdout.on("data", (chunk) => {
      buffered += chunk.toString();
      const match = buffered.match(/ferry listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
  });
  return {
    base,
    async stop() {
      child.kill("SIGINT");
      await once(child, "exit").catch(() => {});
    },
  };
}
