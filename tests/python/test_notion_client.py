"""The Python Notion client (notion-client 3.1.0, pinned in requirements.txt) driving the
Notion emulator over loopback: a second, widely used client from another ecosystem than
the official JavaScript SDK. It creates a page from markdown, uploads a file into a
`files` property, reads the page back (the file's URL serves its bytes) and reads and
edits the page as markdown; its errors come back as the client's APIResponseError.

Run by scripts/test.sh with the `ferry` binary the Rust tests built (FERRY_BIN, else
$CARGO_TARGET_DIR/debug/ferry, else target/debug/ferry).
"""

import os
import re
import subprocess
import unittest
from pathlib import Path

import httpx
from notion_client import APIErrorCode, APIResponseError, Client

DEMO_TOKEN = "ntn_emulator_demo"
ROOT = Path(__file__).resolve().parents[2]


def ferry_binary() -> str:
    if os.environ.get("FERRY_BIN"):
        return os.environ["FERRY_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    return str(Path(target) / "debug" / "ferry")


class NotionClientAgainstTheEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process = subprocess.Popen(
            [ferry_binary(), "notion-emulator", "--listen", "127.0.0.1:0", "--rate-limit", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in cls.process.stdout:
            match = re.search(r"notion-emulator listening on (http://\S+)", line)
            if match:
                cls.base = match.group(1)
                break
        else:
            raise RuntimeError("the emulator exited before it listened")
        cls.notion = Client(auth=DEMO_TOKEN, base_url=cls.base, notion_version="2026-03-11")

    @classmethod
    def tearDownClass(cls):
        cls.notion.close()
        cls.process.terminate()
        cls.process.wait(timeout=10)
        cls.process.stdout.close()

    def tasks_data_source(self) -> str:
        found = self.notion.search(query="Tasks", filter={"property": "object", "value": "data_source"})
        return next(r["id"] for r in found["results"] if r["title"][0]["plain_text"] == "Tasks")

    def test_a_page_with_an_uploaded_file_reads_back_as_markdown(self):
        notion = self.notion
        markdown = "## Release notes\nShipped **file uploads** and [docs](https://acme.example).\n- [ ] Tell the team"
        page = notion.pages.create(
            parent={"data_source_id": self.tasks_data_source()},
            properties={"Name": {"title": [{"text": {"content": "Release 1.2"}}]}},
            markdown=markdown,
        )

        content = b"name,owner\nferry,platform\n"
        upload = notion.file_uploads.create(filename="owners.csv", content_type="text/csv")
        self.assertEqual(upload["status"], "pending")
        sent = notion.file_uploads.send(
            file_upload_id=upload["id"], file=("owners.csv", content, "text/csv")
        )
        self.assertEqual(sent["status"], "uploaded")
        self.assertEqual(sent["content_length"], len(content))

        notion.pages.update(
            page_id=page["id"],
            properties={
                "Attachments": {
                    "files": [{"name": "owners.csv", "type": "file_upload", "file_upload": {"id": upload["id"]}}]
                }
            },
        )
        read = notion.pages.retrieve(page_id=page["id"])
        files = read["properties"]["Attachments"]["files"]
        self.assertEqual([f["name"] for f in files], ["owners.csv"])
        self.assertEqual(files[0]["type"], "file")
        served = httpx.get(files[0]["file"]["url"])
        self.assertEqual(served.status_code, 200)
        self.assertEqual(served.content, content)
        self.assertIsNone(notion.file_uploads.retrieve(file_upload_id=upload["id"])["expiry_time"])

        as_markdown = notion.pages.retrieve_markdown(page_id=page["id"])
        self.assertEqual(as_markdown["object"], "page_markdown")
        self.assertEqual(as_markdown["markdown"], markdown)
        self.assertFalse(as_markdown["truncated"])

        edited = notion.pages.update_markdown(
            page_id=page["id"],
            type="update_content",
            update_content={"content_updates": [{"old_str": "- [ ] Tell", "new_str": "- [x] Tell"}]},
        )
        self.assertTrue(edited["markdown"].endswith("- [x] Tell the team"))
        blocks = notion.blocks.children.list(block_id=page["id"])["results"]
        self.assertEqual([b["type"] for b in blocks], ["heading_2", "paragraph", "to_do"])
        self.assertTrue(blocks[2]["to_do"]["checked"])

    def test_errors_reach_the_client_as_notion_errors(self):
        notion = self.notion
        upload = notion.file_uploads.create(filename="a.txt")
        notion.file_uploads.send(file_upload_id=upload["id"], file=("a.txt", b"once", "text/plain"))
        with self.assertRaises(APIResponseError) as sent_twice:
            notion.file_uploads.send(file_upload_id=upload["id"], file=("a.txt", b"twice", "text/plain"))
        self.assertEqual(sent_twice.exception.code, APIErrorCode.ValidationError)
        with self.assertRaises(APIResponseError) as unknown:
            notion.file_uploads.retrieve(file_upload_id="0b1e4a3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c")
        self.assertEqual(unknown.exception.code, APIErrorCode.ObjectNotFound)
        listed = notion.file_uploads.list(status="uploaded")
        self.assertIn(upload["id"], [u["id"] for u in listed["results"]])


if __name__ == "__main__":
    unittest.main()
