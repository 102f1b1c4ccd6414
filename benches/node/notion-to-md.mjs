// notion-to-md 3.1.9 converting one page from the Notion emulator, for Ferry's markdown
// benchmark (crates/ferry/benches/markdown.rs starts the emulator and reads what this prints).
//
//   node notion-to-md.mjs <emulator base URL> <token> <page id>
//
// Prints one JSON line: the requests it sent (429s included), the 429s it met, the wall time
// of the whole conversion, and the CPU time of the conversion alone: the same conversion run
// again on the answers recorded in the first run, served from memory.
import { Client } from "@notionhq/client";
import { NotionToMarkdown } from "notion-to-md";

const [base, token, pageId] = process.argv.slice(2);
if (!pageId) {
  console.error("usage: node notion-to-md.mjs <emulator base URL> <token> <page id>");
  process.exit(2);
}

let requests = 0;
let rateLimited = 0;
const recorded = new Map();
const recordingFetch = async (url, init) => {
  requests += 1;
  const response = await fetch(url, init);
  if (response.status === 429) rateLimited += 1;
  if (response.ok) {
    const text = await response.clone().text();
    recorded.set(`${init?.method ?? "GET"} ${url}`, JSON.parse(text));
  }
  return response;
};

const notion = new Client({
  auth: token,
  baseUrl: base,
  fetch: recordingFetch,
  logLevel: "error",
  retry: { maxRetries: 20 },
});
// Child pages are separate pages; Ferry does not read them either.
const converter = new NotionToMarkdown({ notionClient: notion, config: { parseChildPages: false } });

const started = process.hrtime.bigint();
const blocks = await converter.pageToMarkdown(pageId);
const markdown = converter.toMarkdownString(blocks).parent;
const wallMs = Number(process.hrtime.bigint() - started) / 1e6;

// The conversion alone: a client whose list calls answer from the recording, parsed already
// (keys looked up once, so the timing holds the conversion, not a scan of the recording).
const index = new Map();
for (const [key, value] of recorded) {
  const match = key.match(/\/blocks\/([^/]+)\/children(?:\?(.*))?$/);
  if (!match) continue;
  const cursor = new URLSearchParams(match[2] ?? "").get("start_cursor") ?? "";
  index.set(`${match[1]} ${cursor}`, value);
}
const fromMemory = {
  blocks: {
    children: {
      list: async ({ block_id, start_cursor }) => {
        const value = index.get(`${block_id} ${start_cursor ?? ""}`);
        if (!value) throw new Error(`not recorded: children of ${block_id} from ${start_cursor}`);
        return value;
      },
    },
  },
};
const offline = new NotionToMarkdown({ notionClient: fromMemory, config: { parseChildPages: false } });
const cpuTimes = [];
for (let i = 0; i < 5; i++) {
  const before = process.cpuUsage();
  const again = offline.toMarkdownString(await offline.pageToMarkdown(pageId)).parent;
  const used = process.cpuUsage(before);
  cpuTimes.push(used.user + used.system);
  if (again !== markdown) throw new Error("the offline conversion differs from the online one");
}
cpuTimes.sort((a, b) => a - b);

console.log(
  JSON.stringify({
    requests,
    rate_limited: rateLimited,
    wall_ms: wallMs,
    conversion_cpu_us: cpuTimes[2],
    markdown_bytes: Buffer.byteLength(markdown),
  }),
);
