/**
 * Soak-time annotations: what parses, what does not and why, how the time left is said, and how every
 * promotion policy of a Pipeline is checked at once (a bad soak makes the Pipeline invalid like a bad
 * window).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { windowAnnotation } from '../../model/change-window.js';
import { describePolicyProblem, readPolicyProblems } from '../../model/promotion-policies.js';
import { parseSoak, readSoaks, soakAnnotation, timeLeft } from '../../model/soak-time.js';

const HOUR = 60 * 60 * 1000;

describe('parsing a soak time', () => {
  for (const [text, ms] of [
    ['2h', 2 * HOUR],
    ['90m', 1.5 * HOUR],
    ['1d', 24 * HOUR],
    ['30 minutes', HOUR / 2],
    [' 2h ', 2 * HOUR],
  ] as const) {
    test(`"${text}" is ${ms} ms`, () => {
      assert.deepEqual(parseSoak(text), { ok: true, soak: { text, ms } });
    });
  }

  for (const [text, problem] of [
    ['two hours', 'not a duration (e.g. 2h, 90m, 1d, "30 minutes")'],
    ['1h30m', 'not a duration (e.g. 2h, 90m, 1d, "30 minutes")'],
    ['', 'not a duration (e.g. 2h, 90m, 1d, "30 minutes")'],
    ['-2h', 'not a duration (e.g. 2h, 90m, 1d, "30 minutes")'],
    ['0s', 'a soak of zero is no soak: remove the annotation instead'],
    ['2y', 'longer than a year: is the unit right?'],
  ] as const) {
    test(`"${text}" is refused: ${problem}`, () => {
      assert.deepEqual(parseSoak(text), { ok: false, problem });
    });
  }
});

describe('saying the time left', () => {
  for (const [ms, said] of [
    [72 * 60 * 1000, '1h12m'],
    [2 * HOUR, '2h'],
    [2 * HOUR - 1, '2h'],
    [45 * 60 * 1000, '45m'],
    [1000, '1m'],
    [52 * HOUR, '2d4h'],
    [48 * HOUR + 60_000, '2d1m'],
  ] as const) {
    test(`${ms} ms is "${said}" (whole minutes, rounded up)`, () => {
      assert.equal(timeLeft(ms), said);
    });
  }
});

describe('reading the soak times of a Pipeline', () => {
  const environments = ['dev', 'test', 'prod'];

  test('a soak per environment something moves on from', () => {
    const { soaks, problems } = readSoaks({ [soakAnnotation('dev')]: '30m', [soakAnnotation('test')]: '2h' }, environments);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [...soaks.entries()].map(([environment, soak]) => [environment, soak.ms]),
      [
        ['dev', HOUR / 2],
        ['test', 2 * HOUR],
      ],
    );
  });

  test('an invalid value, an unknown environment and the last environment are problems, never "no soak"', () => {
    const { soaks, problems } = readSoaks(
      { [soakAnnotation('test')]: '2 hours please', [soakAnnotation('staging')]: '2h', [soakAnnotation('prod')]: '2h' },
      environments,
    );
    assert.equal(soaks.size, 0);
    assert.deepEqual(
      problems.map((p) => [p.annotation, p.problem]),
      [
        ['promotion.baton.dev/soak.test', 'not a duration (e.g. 2h, 90m, 1d, "30 minutes")'],
        ['promotion.baton.dev/soak.staging', 'the Pipeline has no environment "staging" (it has dev, test, prod)'],
        ['promotion.baton.dev/soak.prod', 'prod is the last environment: nothing moves on from it'],
      ],
    );
  });

  test('every promotion policy is checked at once: windows and soaks', () => {
    const problems = readPolicyProblems(
      { [windowAnnotation('prod')]: 'Mon-Fri 09:00-17:00 Europe/Berln', [soakAnnotation('test')]: 'soon', [soakAnnotation('dev')]: '1h' },
      environments,
    );
    assert.deepEqual(problems.map(describePolicyProblem), [
      'annotation promotion.baton.dev/window.prod: "Mon-Fri 09:00-17:00 Europe/Berln": ' +
        '"Europe/Berln" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)',
      'annotation promotion.baton.dev/soak.test: "soon": not a duration (e.g. 2h, 90m, 1d, "30 minutes")',
    ]);
  });
});
