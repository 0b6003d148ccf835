#!/usr/bin/env node
// Writes test/fixtures/roadmaps/hand-grown.md (a ROADMAP.md as it looks after months of hand edits: 30,000+
// lines, archived sections, summaries, notes after statuses, every heading form people use, code fences with fake
// headings, duplicate numbers, unreadable statuses) and hand-grown.expected.json: what each item IS, as written
// here on purpose (number, heading line, title, status, note, held back or not) and the lines a reader must
// complain about. The tests compare the parser with that record. Deterministic: run it again and nothing changes.
//
//   node scripts/generate-hand-grown-roadmap.mjs
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = [];
const items = [];
const duplicates = [];
const problems = [];
const line = () => out.length + 1;
const push = (...lines) => out.push(...lines);

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = (list) => list[Math.floor(random() * list.length)];

const TOPICS = ['search', 'billing', 'exports', 'audit log', 'notifications', 'onboarding', 'permissions', 'caching', 'metrics', 'sync', 'importer', 'CLI', 'webhooks', 'reports', 'scheduler', 'sessions', 'uploads', 'i18n', 'theming', 'backups'];
const VERBS = ['Rework', 'Add', 'Harden', 'Speed up', 'Document', 'Split', 'Migrate', 'Simplify', 'Instrument', 'Redesign'];
const DATES = ['2025-03-02', '2025-04-18', '2025-05-30', '2025-06-11', '2025-07-07', '2025-08-21', '2025-09-09', '2025-10-16', '2025-10-19'];

/** A body as people grow them: context, sub-headings, lists, a table, code (some with fake headings inside). */
function body(n, size) {
  const topic = TOPICS[n % TOPICS.length];
  push('', `**Goal**: make ${topic} dependable for teams of every size. Owner: @${pick(['ana', 'bo', 'chen', 'dee', 'eli'])}.`, '');
  push('#### Context', '', `The ${topic} module grew by accretion. Users reported slow pages and confusing errors; support spent hours on it.`, `See the retro notes of sprint ${10 + (n % 30)} and the thread in #eng-${topic.replace(/\s+/g, '-')}.`, '');
  push('#### Deliverables', '');
  for (let i = 0; i < 4 + (n % 4); i++) push(`- [${random() < 0.8 ? 'x' : ' '}] ${pick(VERBS)} the ${topic} ${pick(['API', 'schema', 'worker', 'page', 'tests', 'docs'])} (${pick(['small', 'medium', 'large'])})`);
  push('', '| Metric | Before | After |', '|---|---|---|', `| p95 latency | ${200 + n} ms | ${50 + (n % 40)} ms |`, `| error rate | ${(n % 7) + 1}.0% | 0.${n % 9}% |`, '');
  if (n % 3 === 0) {
    push('```markdown', `### PRIORITY ${9000 + n}: Example heading inside a fence (not an item)`, '**Status**: 📝 Planned', '```', '');
  }
  if (n % 5 === 0) {
    push('~~~bash', `# run the ${topic} migration`, `npm run migrate -- --only ${topic.replace(/\s+/g, '-')}`, '## not a heading either', '~~~', '');
  }
  if (n % 11 === 0) push('<!--', `### PRIORITY ${8000 + n}: commented out, not an item`, '**Status**: 📝 Planned', '-->', '');
  push('#### Implementation Notes', '');
  const paragraphs = Math.max(1, size);
  for (let p = 0; p < paragraphs; p++) {
    push(
      `${pick(['We', 'The team', 'Reviewers'])} ${pick(['agreed', 'decided', 'found'])} that the ${topic} ${pick(['cache', 'index', 'queue', 'handler'])} ${pick(['must stay backward compatible', 'needs a feature flag', 'should log every retry', 'is the bottleneck'])}.`,
      `- ${pick(['Decision', 'Follow-up', 'Risk', 'Note'])}: ${pick(['keep the old endpoint for one release', 'measure before optimising', 'ask security for a review', 'write the runbook first'])}`,
      `- Ticket: ${pick(['ENG', 'OPS', 'SUP'])}-${1000 + ((n * 37 + p * 11) % 8999)}`,
      '',
    );
  }
  if (n % 4 === 0) push('#### Testing', '', '```ts', `it('handles ${topic}', async () => {`, `  // ### PRIORITY ${n}: a comment that looks like a heading`, '  expect(await run()).toBe(0);', '});', '```', '');
}

/** Records an item as written, for the expected file. */
function item(number, headingLine, title, status, note, options = {}) {
  const record = { number, line: headingLine, title, status, note, heldBack: options.heldBack ?? false };
  (options.duplicate ? duplicates : items).push(record);
  return record;
}

// ---- the file -------------------------------------------------------------------------------------------------
push('# 🚀 Acme Platform Roadmap', '', '**Last updated**: 2025-10-21 · **Owner**: platform team', '');
push('> This file is the source of truth for what we build next. Keep statuses current; add notes after the status.', '');
push('## 📋 Table of Contents', '', '- [Current Focus](#-current-focus)', '- [Status Summary](#-status-summary)', '- [Completed This Quarter](#-completed-this-quarter)', '- [Archive](#️-archive)', '');
push('## 📊 Status Summary', '', '| Item | Status | Notes |', '|---|---|---|');
for (let n = 1; n <= 40; n++) push(`| PRIORITY ${n} | ✅ Complete | shipped |`);
push('| PRIORITY 301 | 📝 Planned | next up |', '');
push('**Status**: this summary is updated by hand every Friday (not an item status).', '');
push('### Priority Justification', '', 'Why the order below: revenue first, then reliability, then developer experience.', '');
push('### Legend', '', '- ✅ Complete — shipped and verified', '- 📝 Planned — not started', '- ⏸️ Blocked — waiting on something outside the team', '- 🚧 Manual Review Required — needs a human decision', '');

// Current focus: the only items start takes (301, 302 after 301, 303), and some it must leave alone.
push('## 🎯 Current Focus', '');
let at = line();
push('### 🔴 **PRIORITY 301: Enhanced Communication** ⚡ NEW', '**Status**: 📝 Planned - Phase 4 (Spec Migration)', '');
item('301', at, 'Enhanced Communication', 'planned', 'Phase 4 (Spec Migration) · ⚡ NEW');
push('Send messages between agents through one channel, with delivery receipts.', '');
at = line();
push('### PRIORITY 302: Notification Digest 🔴 P0 CRITICAL - DO THIS FIRST!', '**Depends on**: PRIORITY 301 (the channel)', '');
item('302', at, 'Notification Digest', 'planned', '🔴 P0 CRITICAL - DO THIS FIRST!');
problems.push({ line: at, severity: 'warning', contains: 'which is not a status' });
push('One daily digest instead of forty emails.', '');
at = line();
push('## 📦 PRIORITY 303: PyPI Package', '**Status:** 📝 **PLANNED** (target 2025-11-30)', '**Dependencies**: the design review', '', 'Publish the client as a package.', '', '### Release checklist', '', '- version bump', '- changelog', '');
item('303', at, 'PyPI Package', 'planned', '(target 2025-11-30)');
problems.push({ line: at + 2, severity: 'warning', contains: 'cannot read the dependency "the design review"' });
at = line();
push('### PRIORITY 304: Offline Mode', '**Status**: Whenever we get to it', '', 'Nobody has decided.', '');
item('304', at, 'Offline Mode', 'planned', 'Whenever we get to it', { heldBack: true });
problems.push({ line: at + 1, severity: 'error', contains: 'unknown status "Whenever we get to it"' });
at = line();
push('### PRIORITY 305: SSO for Enterprise ⏸️ Blocked - waiting on the IdP contract', '', 'Legal has the contract.', '');
item('305', at, 'SSO for Enterprise', 'blocked', 'waiting on the IdP contract');
at = line();
push('### PRIORITY 306: Pricing Page', '- **Status**: 🚧 Manual Review Required (marketing signs off)', '');
item('306', at, 'Pricing Page', 'manual_review', '(marketing signs off)');
at = line();
push('### PRIORITY 307: Mobile App', '**Status**: 📝 Planned', '**Depends on**: PRIORITY 999', '');
item('307', at, 'Mobile App', 'planned', '');
problems.push({ line: at + 2, severity: 'error', contains: 'depends on PRIORITY 999, which is not in the roadmap' });
at = line();
push('### PRIORITY 308: Offline Sync', '**Status**: 📝 Planned', '**Depends on**: PRIORITY 304', '');
item('308', at, 'Offline Sync', 'planned', '');
at = line();
push('### PRIORITY 3b - Hotfix for the importer', '**Status**: 📝 Planned', '');
problems.push({ line: at, severity: 'error', contains: 'cannot read the heading' });

// Completed this quarter: 281..300, every status form people write.
push('## ✅ Completed This Quarter', '');
const forms = [
  (n, t) => [[`### PRIORITY ${n}: ${t}`, `**Status**: ✅ Complete (${DATES[n % DATES.length]}) - HIGH PRIORITY`], `(${DATES[n % DATES.length]}) - HIGH PRIORITY`],
  (n, t) => [[`### PRIORITY ${n}: ${t}`, `**Status**: ✅ **COMPLETE** (${DATES[n % DATES.length]})`], `(${DATES[n % DATES.length]})`],
  (n, t) => [[`### PRIORITY ${n}: ${t}`, '**Status**: ✅ COMPLETE - Documentation Delivered'], 'Documentation Delivered'],
  (n, t) => [[`### PRIORITY ${n}: ${t}`, '**Status**: ✅ Complete - PHASE 1 FOUNDATION DELIVERED'], 'PHASE 1 FOUNDATION DELIVERED'],
  (n, t) => [[`### PRIORITY ${n}: ${t} ✅ Complete (Phase 2)`], '(Phase 2)'],
  (n, t) => [[`## 📦 PRIORITY ${n}: ${t}`, '**Status:** ✅ complete'], ''],
  (n, t) => [[`### ✅ PRIORITY ${n}: ${t}`], ''],
  (n, t) => [[`### PRIORITY ${n}: ${t} - Done`], ''],
  (n, t) => [[`### PRIORITY ${n}: ${t} (Complete)`], ''],
  (n, t) => [[`### PRIORITY ${n}: ${t}`, `Status: ✅ Done ${DATES[n % DATES.length]}`], DATES[n % DATES.length]],
  (n, t) => [[`### 🟢 **PRIORITY ${n}: ${t}** ⚡ NEW`, '- **Status**: **✅ Complete**'], '⚡ NEW'],
  (n, t) => [[`### PRIORITY ${n} — ${t}`, '**Status**: ✔️ Completed, see the release notes'], 'see the release notes'],
];
const titleOf = (n) => `${VERBS[n % VERBS.length]} ${TOPICS[(n * 7) % TOPICS.length]} ${['v2', 'for teams', 'end to end', 'at scale', 'in the UI'][n % 5]}`;
for (let n = 281; n <= 300; n++) {
  const form = forms[n % forms.length];
  const title = titleOf(n);
  const [lines, note] = form(n, title);
  at = line();
  push(...lines);
  item(String(n), at, title, 'complete', note);
  body(n, 3);
}

// The archive: 1..280, long bodies, a few old habits.
push('## 🗄️ Archive', '', '> Everything below shipped. Kept for the history; do not edit statuses here.', '');
for (let n = 1; n <= 280; n++) {
  if (n % 40 === 1) push(`## 🗄️ Archive: ${2022 + Math.floor(n / 100)} H${1 + ((n / 40) % 2 | 0)}`, '', `Summary: ${40} items shipped in this half. ${pick(['Velocity was steady.', 'Two incidents, both fixed.', 'The team doubled.'])}`, '');
  const title = titleOf(n);
  if (n === 77) {
    at = line();
    push(`### PRIORITY ${n}: ${title}`, '**Status**: ~~Complete~~ superseded by 142');
    item(String(n), at, title, 'planned', '~~Complete~~ superseded by 142', { heldBack: true });
    problems.push({ line: at + 1, severity: 'error', contains: 'unknown status "~~Complete~~ superseded by 142"' });
    body(n, 2);
    continue;
  }
  const form = forms[n % forms.length];
  const [lines, note] = form(n, title);
  at = line();
  push(...lines);
  item(String(n), at, title, 'complete', note);
  if (n % 9 === 0) push('', '### Priority Justification', '', 'It blocked two enterprise deals.');
  body(n, 16 + (n % 6));
  if (n === 12) {
    at = line();
    push('### PRIORITY 12.5: Hotfix for exports', '**Status**: ✅ Complete (hotfix)', '', 'Inserted between 12 and 13.', '');
    item('12.5', at, 'Hotfix for exports', 'complete', '(hotfix)');
  }
}

// User stories kept from the old tracker.
push('## 👤 User Stories', '');
at = line();
push('## US-1: As an admin I can export the audit log', '**Status**: ✅ Complete (2025-02-01)', '', 'Shipped with PRIORITY 40.', '');
item('US-1', at, 'As an admin I can export the audit log', 'complete', '(2025-02-01)');
at = line();
push('## US-2: As a user I can undo a bulk edit', '**Status**: ⏸️ Blocked', '');
item('US-2', at, 'As a user I can undo a bulk edit', 'blocked', '');

// Scratch notes at the end, where numbers get reused.
push('## 📝 Scratch', '', 'Ideas nobody has triaged yet.', '');
at = line();
push('### PRIORITY 150: Old search idea (copied from the archive)', '**Status**: 📝 Planned', '', 'Probably a duplicate.', '');
item('150', at, 'Old search idea (copied from the archive)', 'planned', '', { duplicate: true, heldBack: true });
problems.push({ line: at, severity: 'error', contains: 'PRIORITY 150 appears twice' });
push('---', '', '_End of roadmap._', '');

const text = `${out.join('\n')}`;
const fixtures = join(root, 'test', 'fixtures', 'roadmaps');
writeFileSync(join(fixtures, 'hand-grown.md'), text);
problems.sort((a, b) => a.line - b.line);
writeFileSync(join(fixtures, 'hand-grown.expected.json'), `${JSON.stringify({ lines: out.length, items, duplicates, problems }, null, 1)}\n`);
process.stdout.write(`hand-grown.md: ${out.length} lines, ${items.length} items, ${duplicates.length} duplicate(s), ${problems.length} problem(s)\n`);
