// A server of its own: a full queue answers 429 with Retry-After, and SIGTERM ends in-flight
// streams cleanly ([DONE]) and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MODEL, startServer, collectChat, http } from './common.mjs';

test('queue full → 429 with Retry-After; SIGTERM drains streams and exits 0', async () => {
  const srv = await startServer(['--max-sequences', '1', '--max-queue', '1', '--shutdown-timeout', '2', '--ctx', '512']);
  const c = new OpenAI({ baseURL: `${srv.base}/v1`, apiKey: 'none', maxRetries: 0 });
  const long = { model: MODEL, messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 400, seed: 1 };
  // One runs, one waits: the third finds the queue full.
  const running = await c.chat.completions.create({ ...long, stream: true });
  const first = running[Symbol.asyncIterator]();
  await first.next();
  const waiting = await c.chat.completions.create({ ...long, stream: true });
  const w = waiting[Symbol.asyncIterator]();
  await w.next();
  const full = await http('POST', '/v1/chat/completions', { ...long, max_tokens: 1 }, { base: srv.base, key: null });
  assert.equal(full.status, 429);
  assert.equal(full.headers.get('retry-after'), '1');
  assert.equal(full.json.error.code, 'queue_full');
  // SIGTERM: both streams end by themselves (the client sees [DONE], no error), the process exits 0.
  srv.proc.kill('SIGTERM');
  const rest = async (it) => {
    let finish = null;
    for (;;) {
      const { value, done } = await it.next();
      if (done) return finish;
      for (const ch of value.choices) if (ch.finish_reason) finish = ch.finish_reason;
    }
  };
  const [f1, f2] = await Promise.all([rest(first), rest(w)]);
  assert.ok(f1, 'the running stream got a finish_reason');
  assert.ok(f2, 'the waiting stream got a finish_reason');
  const { code, signal } = await srv.exited;
  assert.equal(signal, null);
  assert.equal(code, 0, srv.log());
  assert.match(srv.log(), /SIGTERM received/);
  assert.match(srv.log(), /stopped/);
});

test('a streaming client never gets half a stream when the server is healthy', async () => {
  const srv = await startServer(['--max-sequences', '2', '--ctx', '512', '--quiet']);
  const c = new OpenAI({ baseURL: `${srv.base}/v1`, apiKey: 'none', maxRetries: 0 });
  const got = await collectChat(await c.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true,
  }));
  assert.equal(got.choices[0].finish_reason, 'length');
  srv.proc.kill('SIGTERM');
  const { code, signal } = await srv.exited;
  assert.equal(signal, null, srv.log());
  assert.equal(code, 0, srv.log());
});

// Raw sockets: what a misbehaving client gets.
import net from 'node:net';

function rawExchange(port, data, ms) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t0 = Date.now();
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve({ got, closedAfter: Date.now() - t0 }));
    s.on('error', () => {});
    s.write(data);
    setTimeout(() => s.destroy(), ms);
  });
}

test('slow and oversized requests are cut off with a clear status', async () => {
  const srv = await startServer(['--max-sequences', '1', '--ctx', '512', '--read-timeout', '1', '--quiet']);
  // Half a request, then nothing: closed after the read timeout, not held forever.
  const slow = await rawExchange(srv.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', 8000);
  assert.ok(slow.closedAfter < 5000, `closed after ${slow.closedAfter} ms`);
  // Headers over the limit: 431.
  const big = await rawExchange(srv.port, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 5000);
  assert.match(big.got, /^HTTP\/1\.1 431 /);
  assert.match(big.got, /"error"/);
  // Not HTTP at all: 400.
  const junk = await rawExchange(srv.port, 'HELLO THERE\r\n\r\n', 5000);
  assert.match(junk.got, /^HTTP\/1\.1 400 /);
  // Keep-alive: two requests on one connection.
  const two = await rawExchange(srv.port,
    'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 5000);
  assert.equal(two.got.match(/HTTP\/1\.1 200 /g).length, 2);
  srv.proc.kill('SIGTERM');
  const { code } = await srv.exited;
  assert.equal(code, 0);
});
