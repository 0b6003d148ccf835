import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEFAULT_AGENTS, parseAgentDefinition } from '../agents/index.js';
import { EventLog, LiveRuns } from '../dashboard/index.js';
import { EventBus } from '../events/index.js';
import { createToolPolicy, runAgent } from '../orchestrator/index.js';
import { MessageWriter, SqliteStore } from '../store/index.js';

/**
 * A light stand-in for the CLI: it speaks the same stdin protocol (initialize, user message, EOF) and replays
 * lines recorded from the real CLI (test/fixtures/streams/multi-tool-success.jsonl, hook callbacks included)
 * as fast as it can, `repeat` times, then the recorded result line; it exits 0 at stdin EOF, as the CLI does.
 */
const STAND_IN = `#!/usr/bin/perl
# A light stand-in for the Claude Code CLI (Perl: a few MB and milliseconds per process, so 50 of them do not
# starve the orchestrator being measured). Speaks the CLI's stdin protocol and replays recorded stdout lines.
use strict; use warnings; use IO::Handle; use Time::HiRes qw(sleep);
STDOUT->autoflush(1);
open(my $fh, '<', $ENV{STAND_IN_FIXTURE}) or die "fixture: $!";
my @lines = grep { length } map { chomp; $_ } <$fh>;
my ($result) = grep { index($_, '{"type":"result"') == 0 } @lines;
my @body = grep { $_ ne $result } @lines;
my $repeat = $ENV{STAND_IN_REPEAT} || 100;
my $rate = $ENV{STAND_IN_RATE} || 0;
while (my $in = <STDIN>) { last if index($in, '"type":"user"') >= 0; }
my @all = ((@body) x $repeat, $result);
my $burst = $rate > 0 ? int($rate / 100) || 1 : 64;
for (my $i = 0; $i < @all; $i += $burst) {
  my $end = $i + $burst - 1; $end = $#all if $end > $#all;
  print join("\\n", @all[$i..$end]), "\\n";
  sleep(0.01) if $rate > 0;
}
while (<STDIN>) {}
exit 0;
`;

export interface ConcurrencyFigures {
  sessions: number;
  ratePerSession: number;
  messagesPerSession: number;
  totalMessages: number;
  wallMs: number;
  peakRssMb: number;
  baselineRssMb: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
}

/** 50 sessions at once through runAgent (control channel, permission hook, bus, batched writer, SQLite). */
export async function benchmarkConcurrentSessions(options: { root: string; sessions: number; repeat: number; ratePerSession: number }): Promise<ConcurrencyFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-conc-'));
  const cliPath = join(dir, 'claude-stand-in');
  await writeFile(cliPath, STAND_IN);
  await chmod(cliPath, 0o755);
  const fixture = join(options.root, 'test', 'fixtures', 'streams', 'multi-tool-success.jsonl');
  const fixtureLines = (await readFile(fixture, 'utf8')).split('\n').filter(Boolean).length;
  const store = SqliteStore.open(join(dir, 'bench.db'));
  const writer = new MessageWriter(store);
  const bus = new EventBus();
  // What `orchestrator start` adds by default: the dashboard's live-run tracker and event log on the same bus.
  const liveRuns = new LiveRuns();
  const detach = [liveRuns.attach(bus), new EventLog({ liveRuns }).attach(bus)];
  const agent = parseAgentDefinition(DEFAULT_AGENTS['code-developer']!, 'code-developer.md');
  global.gc?.();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = performance.now();
  try {
    const results = await Promise.all(
      Array.from({ length: options.sessions }, (_, index) =>
        runAgent({
          store,
          bus,
          messages: writer,
          cliPath,
          agent,
          prompt: `stand-in session ${index}`,
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', STAND_IN_FIXTURE: fixture, STAND_IN_REPEAT: String(options.repeat), STAND_IN_RATE: String(options.ratePerSession) },
          // The recorded lines use /WORKDIR paths: the policy allows them, as it would a real session's own worktree.
          toolPermission: createToolPolicy({ root: '/WORKDIR', tools: null }),
        }),
      ),
    );
    await writer.flush();
    const failed = results.filter((result) => result.run.status !== 'succeeded');
    if (failed.length > 0) throw new Error(`${failed.length} stand-in sessions failed: ${failed[0]?.run.errorMessage ?? ''}`);
  } finally {
    loop.disable();
    clearInterval(sampler);
    for (const off of detach) off();
  }
  const wallMs = performance.now() - started;
  const messagesPerSession = (fixtureLines - 1 - 4) * options.repeat + 1; // control_request lines are protocol, not messages
  const stored = await store.countRuns();
  await writer.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  if (stored !== options.sessions) throw new Error(`expected ${options.sessions} runs, found ${stored}`);
  return {
    sessions: options.sessions,
    ratePerSession: options.ratePerSession,
    messagesPerSession,
    totalMessages: messagesPerSession * options.sessions,
    wallMs,
    peakRssMb: peakRss / 2 ** 20,
    baselineRssMb: baselineRss / 2 ** 20,
    eventLoopP99Ms: loop.percentile(99) / 1e6,
    eventLoopMaxMs: loop.max / 1e6,
  };
}
