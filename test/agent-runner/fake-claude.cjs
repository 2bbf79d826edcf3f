#!/usr/bin/env node
// A stand-in for the Claude Code CLI inside the sandbox (no LLM in tests). It
// speaks the real interfaces: reads `--settings <file>`, runs each configured
// PreToolUse hook command with the documented JSON on stdin, honours the
// documented reply (hookSpecificOutput.permissionDecision), and prints
// `--output-format stream-json` lines. The scripted tool calls come from the prompt (JSON).
'use strict';
/* global require, process, fetch */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS script run as a bare executable in the sandbox */
const { execSync, spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');

const args = process.argv.slice(2);
const opt = (name) => args[args.indexOf(name) + 1];
if (opt('--output-format') !== 'stream-json' || !args.includes('--verbose') || !args.includes('-p')) {
  process.stderr.write('fake claude: expected -p … --output-format stream-json --verbose\n');
  process.exit(64);
}
const settings = JSON.parse(readFileSync(opt('--settings'), 'utf8'));
const hooks = settings.hooks.PreToolUse.flatMap((m) => m.hooks.map((h) => h.command));
const calls = JSON.parse(opt('-p'));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sessionId = '3f0e8a51-claude';

/** One Messages API call, as Claude Code makes it: to ANTHROPIC_BASE_URL with ANTHROPIC_API_KEY as x-api-key. */
async function modelCall() {
  if (!process.env.ANTHROPIC_BASE_URL) return;
  const res = await fetch(`${process.env.ANTHROPIC_BASE_URL}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': process.env.ANTHROPIC_API_KEY || '' },
    body: JSON.stringify({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });
  if (res.status !== 200) {
    process.stderr.write(`fake claude: the model answered HTTP ${res.status}: ${await res.text()}\n`);
    process.exit(1);
  }
}

async function main() {
await modelCall();
out({ type: 'system', subtype: 'init', session_id: sessionId, cwd: process.cwd(), tools: ['Bash', 'Write', 'Read'] });
let turns = 0;
for (const call of calls) {
  turns++;
  const id = `toolu_${turns}`;
  out({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id, name: call.name, input: call.input }] }, session_id: sessionId });
  let decision = 'allow';
  let reason = '';
  for (const cmd of hooks) {
    const input = { session_id: sessionId, transcript_path: '/tmp/t.jsonl', cwd: process.cwd(), hook_event_name: 'PreToolUse', tool_name: call.name, tool_input: call.input };
    const r = spawnSync('/bin/sh', ['-c', cmd], { input: JSON.stringify(input), encoding: 'utf8', env: process.env });
    const reply = r.status === 0 && r.stdout.trim() ? JSON.parse(r.stdout).hookSpecificOutput : { permissionDecision: 'deny', permissionDecisionReason: r.stderr };
    if (reply.permissionDecision !== 'allow') {
      decision = reply.permissionDecision;
      reason = reply.permissionDecisionReason;
    }
  }
  let result;
  if (decision !== 'allow') result = reason;
  else if (call.name === 'Bash') result = execSync(call.input.command, { encoding: 'utf8', shell: '/bin/sh' });
  else result = 'ok';
  out({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: result, is_error: decision !== 'allow' }] } });
}
out({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'text', text: 'All done.' }] }, session_id: sessionId });
out({ type: 'result', subtype: 'success', is_error: false, num_turns: turns, result: 'All done.', session_id: sessionId, total_cost_usd: 0.0123, usage: { input_tokens: 1200, output_tokens: 340 } });
}

main().catch((err) => {
  process.stderr.write(`fake claude: ${err.message}\n`);
  process.exit(1);
});
