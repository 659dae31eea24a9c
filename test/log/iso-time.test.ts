// The log lines' "time" field must stay exactly what pino's isoTime wrote (the logs' format before
// pino was dropped, and Date#toISOString's), while it formats the date only once per second.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoTime } from '../../src/log/iso-time.ts';

const expected = (t: number): string => `,"time":"${new Date(t).toISOString()}"`;

describe('log timestamps', () => {
  it('match toISOString to the millisecond, within a second, across seconds and when the clock steps back', () => {
    const base = Date.UTC(2026, 11, 2, 21, 27, 11);
    const times = [0, 1, 5, 50, 99, 100, 753, 999, 1000, 1001, 59_999, 60_000, 86_399_999, -1_000, -1, 999].map((d) => base + d);
    for (const t of times) assert.equal(isoTime(t), expected(t), `at ${t}`);
  });

  it('read the clock when called without an argument', () => {
    const before = Date.now();
    const text = isoTime();
    const after = Date.now();
    const at = Date.parse(text.slice(9, -1));
    assert.ok(at >= before && at <= after, text);
    assert.match(text, /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  });
});
