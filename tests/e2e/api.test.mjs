// The OpenAI API as clients use it: the npm `openai` client (v6) against `dsv4 serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BASE, KEY, MODEL, client, http, collectChat } from './common.mjs';

const hello = [{ role: 'user', content: 'Hello! Who are you?' }];

test('health needs no key; everything else does', async () => {
  const h = await http('GET', '/health', undefined, { key: null });
  assert.equal(h.status, 200);
  assert.equal(h.json.status, 'ok');
  for (const [method, path] of [['GET', '/v1/models'], ['GET', '/metrics'], ['POST', '/tokenize'],
    ['POST', '/v1/chat/completions'], ['POST', '/v1/chat/completions/render']]) {
    const r = await http(method, path, method === 'POST' ? {} : undefined, { key: null });
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.equal(r.json.error.type, 'authentication_error');
    assert.equal(r.json.error.code, 'invalid_api_key');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  const wrong = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('models', async () => {
  const list = await client().models.list();
  const ids = list.data.map((m) => m.id);
  assert.deepEqual(ids, [MODEL]);
  assert.equal(list.data[0].max_model_len, 512);
  const one = await client().models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
  await assert.rejects(client().models.retrieve('gpt-4o'), (e) => e.status === 404 && e.code === 'model_not_found');
});

test('chat: default mode is thinking-high, with reasoning, usage and the mode echoed', async () => {
  const { data, response } = await client().chat.completions
    .create({ model: MODEL, messages: hello, max_tokens: 12, seed: 1 }).withResponse();
  assert.equal(response.headers.get('x-reasoning-mode'), 'thinking-high');
  assert.equal(data.reasoning_mode, 'thinking-high');
  assert.equal(data.object, 'chat.completion');
  assert.match(data.id, /^chatcmpl-/);
  const c = data.choices[0];
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.reasoning_content, 'string');
  assert.ok(['stop', 'length'].includes(c.finish_reason));
  const u = data.usage;
  assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 12);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_tokens_details.cached_tokens, 0);
  assert.ok(u.completion_tokens_details.reasoning_tokens <= u.completion_tokens);
  // A random model rarely closes its reasoning in 12 tokens: then every token is reasoning.
  if (c.message.content === '') assert.equal(u.completion_tokens_details.reasoning_tokens, u.completion_tokens);
  // prompt_tokens is the rendered prompt's length.
  const r = await http('POST', '/v1/chat/completions/render', { model: MODEL, messages: hello });
  assert.equal(r.status, 200);
  assert.equal(u.prompt_tokens, r.json.prompt_token_ids.length);
});

test('chat: the stream reassembles to the non-streamed answer (same seed), usage included', async () => {
  const req = { model: MODEL, messages: hello, max_tokens: 16, seed: 42, temperature: 0.8 };
  const full = await client().chat.completions.create(req);
  const stream = await client().chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  const got = await collectChat(stream);
  assert.equal(got.mode, 'thinking-high');
  assert.equal(got.choices.length, 1);
  assert.equal(got.choices[0].reasoning, full.choices[0].message.reasoning_content);
  assert.equal(got.choices[0].content, full.choices[0].message.content);
  assert.equal(got.choices[0].finish_reason, full.choices[0].finish_reason);
  assert.deepEqual(got.usage, full.usage);
  assert.ok(got.chunks >= 3);
});

test('reasoning switches: every spelling, echoed back', async () => {
  const cases = [
    [{}, 'thinking-high', true],
    [{ chat_template_kwargs: { thinking: false } }, 'non-thinking', false],
    [{ chat_template_kwargs: { enable_thinking: false } }, 'non-thinking', false],
    [{ thinking: { type: 'disabled' } }, 'non-thinking', false],
    [{ reasoning_effort: 'none' }, 'non-thinking', false],
    [{ reasoning_effort: 'max' }, 'thinking-max', true],
    [{ chat_template_kwargs: { reasoning_effort: 'max' } }, 'thinking-max', true],
    [{ thinking: { type: 'enabled' }, reasoning_effort: 'low' }, 'thinking-low', true],
  ];
  for (const [extra, mode, thinking] of cases) {
    const { data, response } = await client().chat.completions
      .create({ model: MODEL, messages: hello, max_tokens: 2, seed: 3, ...extra }).withResponse();
    const what = JSON.stringify(extra);
    assert.equal(response.headers.get('x-reasoning-mode'), mode, what);
    assert.equal(data.reasoning_mode, mode, what);
    if (thinking) assert.equal(typeof data.choices[0].message.reasoning_content, 'string', what);
    else {
      assert.equal(data.choices[0].message.reasoning_content, null, what);
      assert.equal(data.usage.completion_tokens_details.reasoning_tokens, 0, what);
    }
    const r = await http('POST', '/v1/chat/completions/render', { model: MODEL, messages: hello, ...extra });
    assert.equal(r.json.reasoning_mode, mode, what);
    assert.ok(r.json.prompt.endsWith(thinking ? '<think>' : '</think>'), what);
  }
  // Conflicting spellings are refused, naming both.
  const r = await http('POST', '/v1/chat/completions',
    { model: MODEL, messages: hello, chat_template_kwargs: { thinking: true }, thinking: { type: 'disabled' } });
  assert.equal(r.status, 400);
});

test('reasoning_content (or reasoning) on input assistant turns is accepted, and never required', async () => {
  for (const turn of [
    { role: 'assistant', content: 'Hi!', reasoning_content: 'The user greets me.' },
    { role: 'assistant', content: 'Hi!', reasoning: 'The user greets me.' },
    { role: 'assistant', content: 'Hi!' },
  ]) {
    const r = await client().chat.completions.create({
      model: MODEL, max_tokens: 2, seed: 1,
      messages: [{ role: 'user', content: 'Hello' }, turn, { role: 'user', content: 'And again?' }],
    });
    assert.equal(r.choices.length, 1);
  }
});

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
}];

test('tools: a named tool_choice calls the tool; the stream reassembles to the same calls', async () => {
  const req = {
    model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools,
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    chat_template_kwargs: { thinking: false }, max_tokens: 24, seed: 5,
  };
  const full = await client().chat.completions.create(req);
  const m = full.choices[0].message;
  assert.equal(m.tool_calls.length >= 1, true);
  assert.equal(m.tool_calls[0].type, 'function');
  assert.equal(m.tool_calls[0].function.name, 'get_weather');
  assert.match(m.tool_calls[0].id, /^call_[0-9a-f]{24}$/);
  for (const tc of m.tool_calls) assert.equal(typeof JSON.parse(tc.function.arguments), 'object');
  assert.ok(!(m.content ?? '').includes('DSML'), 'no markup in content');
  const got = await collectChat(await client().chat.completions.create({ ...req, stream: true }));
  assert.deepEqual(got.choices[0].tool_calls, m.tool_calls);
  assert.equal(got.choices[0].content, m.content ?? '');
  assert.equal(got.choices[0].finish_reason, full.choices[0].finish_reason);
});

test('tools: auto tool_choice, streamed and not, agree for the same seed', async () => {
  const req = { model: MODEL, messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools, max_tokens: 12, seed: 9 };
  const full = await client().chat.completions.create(req);
  const got = await collectChat(await client().chat.completions.create({ ...req, stream: true }));
  const m = full.choices[0].message;
  assert.equal(got.choices[0].content, m.content ?? '');
  assert.equal(got.choices[0].reasoning, m.reasoning_content);
  assert.deepEqual(got.choices[0].tool_calls, m.tool_calls ?? []);
  // The tools are in the prompt.
  const r = await http('POST', '/v1/chat/completions/render', req);
  assert.ok(r.json.prompt.includes('get_weather'));
});

test('logprobs: chat, streamed and not', async () => {
  const req = { model: MODEL, messages: hello, max_tokens: 6, seed: 11, logprobs: true, top_logprobs: 3 };
  const full = await client().chat.completions.create(req);
  const lp = full.choices[0].logprobs.content;
  assert.equal(lp.length, full.usage.completion_tokens);
  for (const t of lp) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob <= 0);
    assert.ok(Array.isArray(t.bytes));
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[2].logprob);
    assert.ok(t.top_logprobs[0].logprob >= t.logprob);
  }
  const got = await collectChat(await client().chat.completions.create({ ...req, stream: true }));
  assert.deepEqual(got.choices[0].logprobs, lp);
});

test('n > 1 shares the prompt: n choices, prompt counted once', async () => {
  const r = await client().chat.completions.create({ model: MODEL, messages: hello, max_tokens: 4, seed: 2, n: 3 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  const single = await client().chat.completions.create({ model: MODEL, messages: hello, max_tokens: 4, seed: 2 });
  assert.equal(r.usage.prompt_tokens, single.usage.prompt_tokens);
  // Choice 0 is the single answer: the same stream of random draws.
  assert.equal(r.choices[0].message.reasoning_content, single.choices[0].message.reasoning_content);
});

test('completions: raw prompt, stream, echo, logprobs', async () => {
  const req = { model: MODEL, prompt: 'Once upon a time', max_tokens: 8, seed: 4 };
  const full = await client().completions.create(req);
  assert.equal(full.object, 'text_completion');
  assert.equal(typeof full.choices[0].text, 'string');
  assert.ok(full.usage.completion_tokens >= 1);
  let text = '', finish = null;
  for await (const c of await client().completions.create({ ...req, stream: true })) {
    for (const ch of c.choices) {
      text += ch.text;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, full.choices[0].text);
  assert.equal(finish, full.choices[0].finish_reason);
  const echo = await client().completions.create({ ...req, echo: true });
  assert.equal(echo.choices[0].text, 'Once upon a time' + full.choices[0].text);
  const lp = await client().completions.create({ ...req, logprobs: 2 });
  const l = lp.choices[0].logprobs;
  assert.equal(l.tokens.length, lp.usage.completion_tokens);
  assert.equal(l.token_logprobs.length, l.tokens.length);
  for (const t of l.top_logprobs) assert.ok(Object.keys(t).length <= 2 && Object.keys(t).length >= 1);
  // Token ids as the prompt.
  const ids = await http('POST', '/tokenize', { model: MODEL, prompt: 'Once upon a time' });
  const byIds = await client().completions.create({ ...req, prompt: ids.json.tokens });
  assert.equal(byIds.usage.prompt_tokens, ids.json.tokens.length);
});

test('render, tokenize and detokenize round trip', async () => {
  const r = await http('POST', '/v1/chat/completions/render', { model: MODEL, messages: hello });
  assert.equal(r.status, 200);
  assert.ok(r.json.prompt.startsWith('<｜begin▁of▁sentence｜>'));
  assert.ok(r.json.prompt.includes('Hello! Who are you?'));
  const text = 'Grüße, 世界! 🚀 <think> tabs\tand\nnewlines';
  const t = await http('POST', '/tokenize', { model: MODEL, prompt: text, add_special_tokens: false });
  assert.equal(t.status, 200);
  assert.equal(t.json.count, t.json.tokens.length);
  const d = await http('POST', '/detokenize', { model: MODEL, tokens: t.json.tokens });
  assert.equal(d.status, 200);
  assert.equal(d.json.prompt, text);
  const m = await http('POST', '/tokenize', { model: MODEL, messages: hello });
  assert.deepEqual(m.json.tokens, r.json.prompt_token_ids);
  const bad = await http('POST', '/detokenize', { tokens: [1, -5] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'tokens');
});

// Every error class: status, OpenAI's error shape, and the parameter named.
test('errors: 400 naming the parameter, 404, 405, 413', async () => {
  const cases = [
    [{ model: MODEL, messages: hello, temperature: 'hot' }, 'temperature', null],
    [{ model: MODEL, messages: hello, temperature: 3 }, 'temperature', null],
    [{ model: MODEL, messages: hello, top_p: 0 }, 'top_p', null],
    [{ model: MODEL, messages: hello, max_tokens: 0 }, 'max_tokens', null],
    [{ model: MODEL, messages: hello, n: 1000 }, 'n', null],
    [{ model: MODEL, messages: hello, top_logprobs: 5 }, 'top_logprobs', null],
    [{ model: MODEL, messages: hello, logit_bias: { abc: 1 } }, 'logit_bias', null],
    [{ model: MODEL, messages: hello, stop: [1, 2] }, 'stop[0]', null],
    [{ model: 'gpt-4o', messages: hello }, 'model', 'model_not_found'],
    [{ model: MODEL }, 'messages', null],
    [{ model: MODEL, messages: [] }, 'messages', null],
    [{ model: MODEL, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', null],
    [{ model: MODEL, messages: hello, tool_choice: 'required' }, 'tool_choice', null],
    [{ model: MODEL, messages: [{ role: 'user', content: 'word '.repeat(600) }] }, 'messages', 'context_length_exceeded'],
  ];
  for (const [body, param, code] of cases) {
    const what = JSON.stringify(body).slice(0, 120);
    await assert.rejects(client().chat.completions.create(body), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${what}: ${e}`);
      assert.equal(e.status, 400, what);
      assert.equal(e.param, param, `${what}: ${e.message}`);
      if (code) assert.equal(e.code, code, what);
      assert.equal(e.type, 'invalid_request_error', what);
      assert.ok(e.message.length > 10, what);
      return true;
    });
  }
  const bad = await http('POST', '/v1/chat/completions', '{"model": "x", "messages": [', { raw: true });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'invalid_json');
  assert.ok('param' in bad.json.error && 'type' in bad.json.error && 'message' in bad.json.error);
  const notfound = await http('GET', '/v1/nothing');
  assert.equal(notfound.status, 404);
  assert.equal(notfound.json.error.type, 'invalid_request_error');
  const method = await http('GET', '/v1/chat/completions');
  assert.equal(method.status, 405);
  const big = await http('POST', '/v1/chat/completions',
    { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(1100000) }] });
  assert.equal(big.status, 413);
  assert.ok(big.json.error.message.includes('larger than'));
  // The server is still fine after all that.
  const ok = await client().chat.completions.create({ model: MODEL, messages: hello, max_tokens: 1 });
  assert.equal(ok.choices.length, 1);
});

test('an alias of the model name is accepted and echoed', async () => {
  const r = await client().chat.completions.create({ model: 'deepseek-v4', messages: hello, max_tokens: 1 });
  assert.equal(r.model, 'deepseek-v4');
});
