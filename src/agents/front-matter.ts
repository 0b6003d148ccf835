import { parseDocument } from 'yaml';

/**
 * Reads the front matter of a Claude Code markdown file the way Claude Code 2.1 does (its `parseFrontmatter`):
 * YAML first; when that fails, every top-level `key: value` line whose value holds something YAML gives a meaning
 * (`: `, `#`, `>`, `[`, `*`, `@`, …) is double-quoted and the YAML is read again. That is what makes the `/agents`
 * generator's one-line `description: Use this agent when… Examples: <example>Context: …` load.
 */
export type FrontMatterResult =
  /** The file does not start with a `---` line: not an agent file (a README, notes). */
  | { kind: 'none' }
  /** A `---` first line and no closing `---`. */
  | { kind: 'unclosed' }
  /** YAML that even the line-wise fallback cannot read. */
  | { kind: 'invalid'; line: number; message: string; yaml: string }
  | {
      kind: 'parsed';
      /** The mapping; null when the front matter is empty or not a mapping (Claude Code then reads no fields). */
      fields: Record<string, unknown> | null;
      body: string;
      /** Set when the YAML was invalid and the fallback read it. */
      lenient: LenientRead | null;
    };

export interface LenientRead {
  /** 1-based line in the file of the first YAML error. */
  line: number;
  message: string;
  /** Keys whose values the fallback quoted. */
  quotedKeys: string[];
}

const FENCE = '---';
/** Claude Code's test for "this plain value needs quotes" (characters YAML gives a meaning, or `: `). */
const NEEDS_QUOTES = /[{}[\]*&#!|>%@`]|: /;
const KEY_VALUE_LINE = /^([a-zA-Z_-]+):\s+(.+)$/;

export function readFrontMatter(text: string): FrontMatterResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trim() !== FENCE) return { kind: 'none' };
  const end = lines.findIndex((line, index) => index > 0 && line.trim() === FENCE);
  if (end === -1) return { kind: 'unclosed' };
  const yaml = lines.slice(1, end).join('\n');
  const body = lines.slice(end + 1).join('\n');
  const strict = parseYaml(yaml);
  if (strict.ok) return { kind: 'parsed', fields: asMapping(strict.value), body, lenient: null };
  const { text: quoted, quotedKeys } = quoteLineValues(yaml);
  const fallback = parseYaml(quoted);
  // Front matter starts on line 2 of the file.
  const line = strict.line + 1;
  if (!fallback.ok) return { kind: 'invalid', line, message: strict.message, yaml };
  return { kind: 'parsed', fields: asMapping(fallback.value), body, lenient: { line, message: strict.message, quotedKeys } };
}

type YamlRead = { ok: true; value: unknown } | { ok: false; line: number; message: string };

function parseYaml(yaml: string): YamlRead {
  const document = parseDocument(yaml);
  const first = document.errors[0];
  if (first) {
    // The message ends with its own " at line L, column C:" (relative to the front matter): the caller says where.
    const message = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
    return { ok: false, line: first.linePos?.[0]?.line ?? 1, message };
  }
  return { ok: true, value: document.toJS() as unknown };
}

function asMapping(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** Claude Code's fallback: quote the value of each top-level `key: value` line that YAML would misread. */
export function quoteLineValues(yaml: string): { text: string; quotedKeys: string[] } {
  const quotedKeys: string[] = [];
  const lines = yaml.split('\n').map((line) => {
    const match = KEY_VALUE_LINE.exec(line);
    if (!match) return line;
    const [, key = '', value = ''] = match;
    const isQuoted = (value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"));
    if (isQuoted || isFlowList(value) || !NEEDS_QUOTES.test(value)) return line;
    quotedKeys.push(key);
    return `${key}: "${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  });
  return { text: lines.join('\n').replace(/^\t+/gm, (tabs) => '  '.repeat(tabs.length)), quotedKeys };
}

function isFlowList(value: string): boolean {
  if (!value.startsWith('[') || !value.endsWith(']')) return false;
  const read = parseYaml(value);
  return read.ok && Array.isArray(read.value);
}
