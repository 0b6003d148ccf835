import { describe, expect, it } from 'vitest';
import { REDACTED, redactText, redactValue, registerSecret } from '../../../src/lib/redact.js';

describe('redaction', () => {
  it('masks registered secrets and key-shaped strings anywhere in a value', () => {
    registerSecret('my-very-private-token-123');
    expect(redactText('token=my-very-private-token-123 end')).toBe(`token=${REDACTED} end`);
    expect(redactText('key sk-ant-api03-abcdefghijklmnop')).toBe(`key ${REDACTED}`);
    expect(redactText('Authorization: Bearer abcdefghijklmnopqrstuvwxyz')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactValue({ a: ['x sk-ant-api03-abcdefghijklmnop'], n: 3 })).toEqual({ a: [`x ${REDACTED}`], n: 3 });
    expect(redactText('nothing secret here')).toBe('nothing secret here');
  });
});
