// Load: many concurrent streams get exactly what each gets alone; clients that vanish mid-stream
// leave nothing behind (state slots, sockets); /metrics counts it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, MODEL, client, collectChat, metrics, waitFor, closeWaitCount } from './common.mjs';

const port = Number(new URL(BASE).port);
const ask = (i) => ({
  model: MODEL, max_tokens: 8, seed: 1000 + i, temperature: 1,
  messages: [{ role: 'user', content: `Question number ${i}: what is ${i} + ${i}?` }],
  chat_template_kwargs: { thinking: i % 2 === 0 },
});

test('32 concurrent seeded streams each get exactly the text they get alone', async () => {
  const N = 32;
  const alone = [];
  for (let i = 0; i < N; i++) alone.push(await client().chat.completions.create(ask(i)));
  const before = await metrics();
  const together = await Promise.all(
    Array.from({ length: N }, async (_, i) => collectChat(await client().chat.completions.create({ ...ask(i), stream: true }))));
  for (let i = 0; i < N; i++) {
    const a = alone[i].choices[0], b = together[i].choices[0];
    assert.equal(b.content, a.message.content ?? '', `client ${i}`);
    assert.equal(b.reasoning, a.message.reasoning_content, `client ${i}`);
    assert.equal(b.finish_reason, a.finish_reason, `client ${i}`);
  }
  const after = await metrics();
  const done = (m) => ['stop', 'length', 'tool_calls', 'cancelled']
    .reduce((s, r) => s + (m[`dsv4:request_success_total{finish_reason="${r}"}`] ?? 0), 0);
  assert.equal(done(after) - done(before), N);
  const gen = after['dsv4:generation_tokens_total'] - before['dsv4:generation_tokens_total'];
  const want = together.reduce((s, t, i) => s + alone[i].usage.completion_tokens, 0);
  assert.equal(gen, want);
  assert.ok(after['dsv4:time_to_first_token_seconds_count'] - before['dsv4:time_to_first_token_seconds_count'] >= N);
  assert.ok(after['dsv4:request_queue_time_seconds_count'] > before['dsv4:request_queue_time_seconds_count']);
});

test('50 clients disconnecting mid-stream leak no state and no sockets', async () => {
  const before = await metrics();
  const N = 50;
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const stream = await client().chat.completions.create({ ...ask(i), max_tokens: 400, stream: true });
    let seen = 0;
    for await (const c of stream) {
      if (c.choices.length && ++seen >= 1 + (i % 3)) break; // leaves the loop: the client aborts
    }
    stream.controller.abort();
  }));
  // Every request ends (cancelled) and its state slot returns.
  const m = await waitFor(async () => {
    const v = await metrics();
    return v['dsv4:num_requests_running'] === 0 && v['dsv4:num_requests_waiting'] === 0 &&
      v['dsv4:state_pool_used_slots'] === 0 ? v : null;
  }, 60000, 'the pool to drain');
  const cancelled = m['dsv4:request_success_total{finish_reason="cancelled"}'] -
    (before['dsv4:request_success_total{finish_reason="cancelled"}'] ?? 0);
  assert.ok(cancelled >= N - 5, `cancelled ${cancelled}`); // a few may finish before the abort lands
  assert.ok(m['dsv4:state_pool_total_slots'] > 0);
  await waitFor(async () => closeWaitCount(port) === 0, 10000, 'no CLOSE-WAIT sockets');
  // Still serving.
  const ok = await client().chat.completions.create({ ...ask(1), max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test('metrics: Prometheus text with the serving families', async () => {
  const r = await fetch(`${BASE}/metrics`, { headers: { authorization: `Bearer ${process.env.DSV4_KEY}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/plain/);
  const text = await r.text();
  for (const family of ['dsv4:num_requests_running', 'dsv4:num_requests_waiting', 'dsv4:request_success_total',
    'dsv4:prompt_tokens_total', 'dsv4:generation_tokens_total', 'dsv4:time_to_first_token_seconds',
    'dsv4:inter_token_latency_seconds', 'dsv4:state_pool_usage_ratio', 'dsv4:request_queue_time_seconds'])
    assert.ok(text.includes(`# TYPE ${family}`), family);
  const m = await metrics();
  assert.ok(m['dsv4:prompt_tokens_total'] > 0);
  assert.ok(m['dsv4:inter_token_latency_seconds_count'] > 0);
  assert.ok(m['dsv4:http_requests_total{route="/v1/chat/completions",status="200"}'] > 0);
  assert.ok(m['dsv4:request_rejected_total{status="401"}'] > 0);
});
