// The official TypeScript MCP client (@modelcontextprotocol/sdk, pinned in package.json) as a line bridge,
// so that the Python test suite can drive tao-automl-mcp exactly as a TypeScript agent would.
//
//   node bridge.mjs '{"stdio": {"command": "...", "args": [], "cwd": "...", "env": {...}}}'
//   node bridge.mjs '{"url": "http://127.0.0.1:PORT/mcp"}'
//
// It connects, lists the tools once (the client caches their output schemas and validates every
// structured result against them, as agents built on this SDK do), prints {"ready": true, ...}, then
// answers one JSON request per stdin line with one JSON line on stdout:
//   {"id": 1, "op": "list_tools"}                      -> {"id": 1, "ok": true, "result": {tools: [...]}}
//   {"id": 2, "op": "call", "tool": "...", "arguments": {...}, "timeout_ms": 60000}
//                                                      -> {"id": 2, "ok": true, "result": CallToolResult}
//                                                      or {"id": 2, "ok": false, "error": {code, message}}
// "ok": false is what the client rejected (a protocol error, a schema mismatch, a timeout).
import readline from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const config = JSON.parse(process.argv[2] ?? "{}");
const transport = config.url
  ? new StreamableHTTPClientTransport(new URL(config.url))
  : new StdioClientTransport({ ...config.stdio, stderr: "inherit" });
const client = new Client({ name: "tao-automl-ts-tests", version: "1.0.0" });

function reply(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

function failure(error) {
  return { code: error?.code ?? null, message: String(error?.message ?? error) };
}

try {
  await client.connect(transport);
  const listed = await client.listTools();
  reply({ ready: true, server: client.getServerVersion(), tools: listed.tools.length });
} catch (error) {
  reply({ ready: false, error: failure(error) });
  process.exit(1);
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  try {
    let result;
    if (request.op === "list_tools") {
      result = await client.listTools();
    } else if (request.op === "call") {
      const options = { timeout: request.timeout_ms ?? 60000 };
      result = await client.callTool({ name: request.tool, arguments: request.arguments }, undefined, options);
    } else if (request.op === "close") {
      break;
    } else {
      throw new Error(`unknown op ${request.op}`);
    }
    reply({ id: request.id, ok: true, result });
  } catch (error) {
    reply({ id: request.id, ok: false, error: failure(error) });
  }
}
await client.close();
process.exit(0);
