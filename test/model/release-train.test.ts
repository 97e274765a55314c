/**
 * Release-train annotations: what parses, what does not and why, and when the train departs — in
 * its zone, over two weeks and over Europe/Berlin's March clock change, where 10:00 moves from 09:00
 * to 08:00 UTC.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readPolicyProblems } from '../../model/promotion-policies.js';
import { departuresAfter, parseTrain, type ReleaseTrain, readTrains, trainAnnotation } from '../../model/release-train.js';

function parsed(text: string): ReleaseTrain {
  const result = parseTrain(text);
  assert.ok(result.ok, `"${text}" parses: ${result.ok ? '' : result.problem}`);
  return result.train;
}

const iso = (ms: number[]): string[] => ms.map((m) => new Date(m).toISOString());

describe('parsing a release train', () => {
  test('five cron fields and a zone', () => {
    assert.deepEqual(parsed('0 10 * * TUE,THU Europe/Berlin'), {
      text: '0 10 * * TUE,THU Europe/Berlin',
      cron: '0 10 * * TUE,THU',
      zone: 'Europe/Berlin',
    });
    assert.equal(parsed('  30 9 * * 1-5   UTC ').cron, '30 9 * * 1-5');
    assert.equal(parsed('*/15 8-17 * * MON-FRI America/New_York').zone, 'America/New_York');
  });

  for (const [text, problem] of [
    ['0 10 * * TUE,THU', /^expected "<minute> <hour> <day of month> <month> <day of week> <IANA time zone>"/],
    ['0 0 10 * * TUE Europe/Berlin', /^expected "<minute> <hour>/],
    ['0 10 * * TUE Europe/Berln', /^"Europe\/Berln" is not an IANA time zone/],
    ['0 25 * * TUE Europe/Berlin', /^"0 25 \* \* TUE" is not a cron expression: /],
    ['0 10 * * TUESDAY Europe/Berlin', /^"TUESDAY" in "0 10 \* \* TUESDAY" is not a number, \* or a month or day name/],
    ['0 10 L * * Europe/Berlin', /^"L" in "0 10 L \* \*" is not a number/],
    ['0 10 30 2 * Europe/Berlin', /^"0 10 30 2 \*" never departs$/],
  ] as const) {
    test(`"${text}" is refused`, () => {
      const result = parseTrain(text);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.problem, problem);
    });
  }
});

describe('departures', () => {
  test('Tuesdays and Thursdays at 10:00 Berlin time over two weeks of winter', () => {
    const train = parsed('0 10 * * TUE,THU Europe/Berlin');
    // Wednesday 2 December 2026, noon UTC.
    assert.deepEqual(iso(departuresAfter(train, Date.parse('2026-12-02T12:00:00Z'), 4)), [
      '2026-12-03T09:00:00.000Z',
      '2026-12-08T09:00:00.000Z',
      '2026-12-10T09:00:00.000Z',
      '2026-12-15T09:00:00.000Z',
    ]);
  });

  test('over the March clock change 10:00 Berlin moves from 09:00 to 08:00 UTC', () => {
    const train = parsed('0 10 * * TUE,THU Europe/Berlin');
    // The clocks go forward on Sunday 28 March 2027.
    assert.deepEqual(iso(departuresAfter(train, Date.parse('2027-03-24T00:00:00Z'), 3)), [
      '2027-03-25T09:00:00.000Z',
      '2027-03-30T08:00:00.000Z',
      '2027-04-01T08:00:00.000Z',
    ]);
  });
});

describe('reading the trains of a Pipeline', () => {
  const environments = ['dev', 'test', 'prod'];

  test('a train per environment promoted into; bad ones are problems of the whole Pipeline', () => {
    const { trains, problems } = readTrains(
      {
        [trainAnnotation('prod')]: '0 10 * * TUE,THU Europe/Berlin',
        [trainAnnotation('dev')]: '0 10 * * * UTC',
        [trainAnnotation('qa')]: '0 10 * * * UTC',
      },
      environments,
    );
    assert.deepEqual([...trains.keys()], ['prod']);
    assert.deepEqual(
      problems.map((p) => [p.annotation, p.problem]),
      [
        ['promotion.baton.dev/train.dev', 'dev is the first environment: nothing is promoted into it'],
        ['promotion.baton.dev/train.qa', 'the Pipeline has no environment "qa" (it has dev, test, prod)'],
      ],
    );
    assert.equal(readPolicyProblems({ [trainAnnotation('prod')]: 'every tuesday' }, environments).length, 1);
  });
});
