// Shared helpers of the end-to-end tests: the client, raw HTTP, stream reassembly.
import OpenAI from 'openai';
import fs from 'node:fs';
import { spawn } from 'node:child_process';

export const BASE = process.env.DSV4_BASE;
export const KEY = process.env.DSV4_KEY;
export const BIN = process.env.DSV4_BIN;
export const MODEL_DIR = process.env.DSV4_MODEL;
export const MODEL = 'dsv4-e2e';

export function client(opts = {}) {
  return new OpenAI({ baseURL: `${BASE}/v1`, apiKey: KEY, maxRetries: 0, timeout: 120000, ...opts });
}

// fetch with the key; returns {status, headers, json, text}.
export async function http(method, path, body, { key = KEY, raw = false, base = BASE } = {}) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

// Reassembles a chat stream into what the non-streaming response holds.
export async function collectChat(stream) {
  const choices = new Map();
  let usage = null, mode = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (c.reasoning_mode) mode = c.reasoning_mode;
    for (const ch of c.choices) {
      if (!choices.has(ch.index))
        choices.set(ch.index, { content: '', reasoning: null, tool_calls: [], finish_reason: null, logprobs: [] });
      const acc = choices.get(ch.index);
      const d = ch.delta || {};
      if (typeof d.content === 'string') acc.content += d.content;
      if (typeof d.reasoning_content === 'string') acc.reasoning = (acc.reasoning ?? '') + d.reasoning_content;
      for (const tc of d.tool_calls || []) {
        const t = acc.tool_calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
        if (tc.id) t.id = tc.id;
        if (tc.function?.name) t.function.name += tc.function.name;
        if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
      }
      if (ch.logprobs?.content) acc.logprobs.push(...ch.logprobs.content);
      if (ch.finish_reason) acc.finish_reason = ch.finish_reason;
    }
  }
  return { choices: [...choices.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]), usage, mode, chunks };
}

export async function metrics() {
  const r = await http('GET', '/metrics');
  const values = {};
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    values[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return values;
}

export async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Sockets of the server's port in CLOSE-WAIT (state 08 in /proc/net/tcp*): connections the peer
// closed that the server never closed.
export function closeWaitCount(port) {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const localPort = parseInt(cols[1].split(':')[1], 16);
      if (localPort === port && cols[3] === '08') n++;
    }
  }
  return n;
}

// Starts another server on the test model; resolves to {base, proc, log(), stop()}.
export async function startServer(args) {
  const proc = spawn(BIN, ['serve', '--model', MODEL_DIR, '--port', '0', '--served-model-name', MODEL, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const port = await waitFor(() => {
    const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
    return m ? Number(m[1]) : null;
  }, 30000, 'the server to listen');
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await http('GET', '/health', undefined, { base })).status === 200, 60000, 'health');
  return { base, port, proc, exited, log: () => log };
}
