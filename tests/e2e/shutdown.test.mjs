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
