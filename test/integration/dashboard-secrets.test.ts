import { describe, expect, it } from 'vitest';
import { dashboardHarness } from '../helpers/dashboard.js';
import { useScriptedModel } from '../helpers/model.js';
import { openSse } from '../helpers/sse.js';

const model = useScriptedModel();

describe('secrets never reach the dashboard', () => {
  it('a key planted in the session environment and prompt appears in no API or event-stream payload', async () => {
    const apiKey = `sk-ant-api03-PLANTED${Math.random().toString(36).slice(2)}xyz`;
    const serviceToken = `planted-token-${Math.random().toString(36).slice(2)}`;
    model.addScenarios([
      {
        name: 'leaky',
        turns: [
          { text: `I was told the key is ${apiKey} and the token ${serviceToken}.`, tools: [{ name: 'Bash', input: { command: 'echo "key=$ANTHROPIC_API_KEY token=$DEPLOY_SERVICE_TOKEN"', description: 'print the secrets' } }] },
          { text: `Done. (echoing ${apiKey} once more)` },
        ],
      },
    ]);
    const harness = await dashboardHarness(model, { env: { ANTHROPIC_API_KEY: apiKey, DEPLOY_SERVICE_TOKEN: serviceToken } });
    try {
      const base = `http://127.0.0.1:${harness.dashboard.port}`;
      const globalStream = await openSse(`${base}/api/events`);
      await globalStream.waitFor((frame) => frame.event === 'hello');
      const { runId, done } = harness.startRun('code-developer', `Deploy with key ${apiKey} and token ${serviceToken}; print them to check.`);
      const id = await runId;
      const runStream = await openSse(`${base}/api/events?run=${id}`);
      const result = await done;
      expect(result.run.status).toBe('succeeded');
      await harness.writer.flush();
      await globalStream.waitFor((frame) => frame.event === 'run.ended');
      await runStream.waitFor((frame) => frame.event === 'run.ended');

      // The secrets really went through the session: the CLI sent them to the model, and the tool printed them.
      const sentToModel = JSON.stringify(model.requests.map((request) => request.body));
      expect(sentToModel).toContain(apiKey);
      expect(sentToModel).toContain(serviceToken);

      const detail = (await (await fetch(`${base}/api/runs/${id}`)).json()) as { invocations: { id: string }[] };
      const paths = [
        '/api/info',
        '/api/now',
        '/api/runs',
        `/api/runs/${id}`,
        `/api/runs/${id}/messages`,
        ...detail.invocations.map((invocation) => `/api/runs/${id}/messages?invocation=${invocation.id}`),
        '/api/work-items',
        '/api/usage',
        '/api/workers',
      ];
      const payloads: string[] = [];
      for (const path of paths) {
        const response = await fetch(base + path);
        expect(response.status, path).toBe(200);
        payloads.push(await response.text());
      }
      const replayStream = await openSse(`${base}/api/events?run=${id}`);
      await replayStream.waitFor((frame) => frame.event === 'hello');
      payloads.push(globalStream.text(), runStream.text(), replayStream.text());
      for (const stream of [globalStream, runStream, replayStream]) stream.close();

      const everything = payloads.join('\n');
      expect(everything).toContain('Deploy with key [REDACTED]');
      expect(everything).toContain('key=[REDACTED] token=[REDACTED]');
      expect(everything).not.toContain(apiKey);
      expect(everything).not.toContain(serviceToken);
      expect(everything).not.toContain('PLANTED');
      // Nor did they reach the database.
      const stored = JSON.stringify([await harness.store.listMessages({ runId: id, limit: 10_000 }), await harness.store.listInvocations(id), await harness.store.getRun(id)]);
      expect(stored).not.toContain(apiKey);
      expect(stored).not.toContain(serviceToken);
    } finally {
      await harness.close();
    }
  });
});
