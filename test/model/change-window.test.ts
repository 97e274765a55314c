/**
 * Change-window annotations: what parses, what does not and why, and when a window is open or next
 * opens — Europe/Berlin's March and October clock changes included, where a naive "add hours" is an
 * hour off.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ChangeWindow,
  describeInstant,
  isOpen,
  nextOpening,
  parseWindow,
  readWindows,
  windowAnnotation,
} from '../../model/change-window.js';

function parsed(text: string): ChangeWindow {
  const result = parseWindow(text);
  assert.ok(result.ok, `"${text}" parses: ${result.ok ? '' : result.problem}`);
  return result.window;
}

const at = (iso: string): number => Date.parse(iso);

describe('parsing a window', () => {
  const valid: [string, { days: number[]; start: number; end: number; zone: string }[]][] = [
    ['Mon-Fri 09:00-17:00 Europe/Berlin', [{ days: [1, 2, 3, 4, 5], start: 540, end: 1020, zone: 'Europe/Berlin' }]],
    [
      'Mon-Thu 09:00-16:00 Europe/Berlin; Fri 09:00-12:00 Europe/Berlin',
      [
        { days: [1, 2, 3, 4], start: 540, end: 960, zone: 'Europe/Berlin' },
        { days: [5], start: 540, end: 720, zone: 'Europe/Berlin' },
      ],
    ],
    ['Mon,Wed,Fri 9:30-11:00 America/New_York', [{ days: [1, 3, 5], start: 570, end: 660, zone: 'America/New_York' }]],
    ['Fri-Mon 00:00-24:00 UTC', [{ days: [1, 5, 6, 7], start: 0, end: 1440, zone: 'UTC' }]],
    ['mon - tue , Saturday 08:00 - 10:15 Asia/Kolkata', [{ days: [1, 2, 6], start: 480, end: 615, zone: 'Asia/Kolkata' }]],
    ['Sun 22:00-24:00 America/Port-au-Prince;', [{ days: [7], start: 1320, end: 1440, zone: 'America/Port-au-Prince' }]],
  ];
  for (const [text, rules] of valid) {
    test(`"${text}"`, () => assert.deepEqual(parsed(text).rules, rules));
  }

  const invalid: [kind: string, text: string, problem: RegExp][] = [
    ['empty', '  ', /^the window is empty: write rules such as "Mon-Fri 09:00-17:00 Europe\/Berlin"$/],
    ['empty rule', 'Mon 09:00-10:00 UTC;; Tue 09:00-10:00 UTC', /^rule 2 is empty/],
    ['unknown day', 'Mun-Fri 09:00-17:00 Europe/Berlin', /^"Mun" is not a day: use Mon, Tue/],
    ['open day range', 'Mon- 09:00-17:00 Europe/Berlin', /^"Mon-" is not a day or a day range such as Mon-Fri$/],
    ['three-day range', 'Mon-Tue-Wed 09:00-17:00 UTC', /^"Mon-Tue-Wed" is not a day or a day range/],
    ['hour out of range', 'Mon 25:00-26:00 UTC', /^"25:00" is not a time HH:MM between 00:00 and 24:00$/],
    ['minutes out of range', 'Mon 09:60-10:00 UTC', /^"09:60" is not a time HH:MM/],
    ['time without minutes', 'Mon-Fri 9-17 Europe/Berlin', /^"9" is not a time HH:MM/],
    ['one time only', 'Mon-Fri 09:00 Europe/Berlin', /^"09:00" is not a time range HH:MM-HH:MM$/],
    ['end before start', 'Fri 22:00-02:00 Europe/Berlin', /^"22:00-02:00" ends before it starts: a window over midnight is two rules/],
    ['empty range', 'Fri 10:00-10:00 UTC', /ends before it starts/],
    ['starts at 24:00', 'Fri 24:00-24:00 UTC', /starts at 24:00, the end of the day/],
    ['unknown zone', 'Mon-Fri 09:00-17:00 Europe/Berln', /^"Europe\/Berln" is not an IANA time zone \(e\.g\. Europe\/Berlin/],
    ['abbreviation for a zone', 'Mon-Fri 09:00-17:00 CEST', /"CEST" is not an IANA time zone/],
    ['no zone', 'Mon-Fri 09:00-17:00', /^no time zone: expected "<days> <HH:MM-HH:MM> <IANA time zone>"/],
    ['no days', '09:00-17:00 Europe/Berlin', /^missing the days or the times/],
    ['too many parts', 'Mon-Fri 09:00-12:00 13:00-17:00 Europe/Berlin', /^too many parts/],
    [
      'bad second rule',
      'Mon 09:00-10:00 UTC; Tue 09:00-10:00 Mars/Olympus',
      /^rule 2 "Tue 09:00-10:00 Mars\/Olympus": "Mars\/Olympus" is not/,
    ],
  ];
  for (const [kind, text, problem] of invalid) {
    test(`refuses ${kind}: "${text}"`, () => {
      const result = parseWindow(text);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.problem, problem);
    });
  }
});

describe('reading the windows of a Pipeline', () => {
  const environments = ['dev', 'test', 'prod'];

  test('a window per environment promoted into', () => {
    const { windows, problems } = readWindows(
      { [windowAnnotation('prod')]: 'Mon-Fri 09:00-17:00 Europe/Berlin', 'promotion.baton.dev/approvers': 'a@example.com' },
      environments,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual([...windows.keys()], ['prod']);
  });

  test('an invalid value, an unknown environment and the first environment are problems, never "no window"', () => {
    const { windows, problems } = readWindows(
      {
        [windowAnnotation('prod')]: 'Mon-Fri 09:00-17:00 Europe/Berln',
        [windowAnnotation('production')]: 'Mon-Fri 09:00-17:00 Europe/Berlin',
        [windowAnnotation('dev')]: 'Mon-Fri 09:00-17:00 Europe/Berlin',
      },
      environments,
    );
    assert.equal(windows.size, 0);
    assert.deepEqual(
      problems.map((p) => [p.annotation, p.problem]),
      [
        ['promotion.baton.dev/window.prod', '"Europe/Berln" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)'],
        ['promotion.baton.dev/window.production', 'the Pipeline has no environment "production" (it has dev, test, prod)'],
        ['promotion.baton.dev/window.dev', 'dev is the first environment: nothing is promoted into it'],
      ],
    );
  });
});

describe('when a window is open', () => {
  const window = parsed('Mon-Thu 09:00-16:00 Europe/Berlin; Fri 09:00-12:00 Europe/Berlin');
  const cases: [string, boolean][] = [
    ['2026-12-07T07:59:59Z', false], // Mon 08:59:59 CET
    ['2026-12-07T08:00:00Z', true], // Mon 09:00 CET
    ['2026-12-10T14:59:59Z', true], // Thu 15:59:59
    ['2026-12-10T15:00:00Z', false], // Thu 16:00
    ['2026-12-11T10:59:00Z', true], // Fri 11:59
    ['2026-12-11T11:00:00Z', false], // Fri 12:00
    ['2026-12-12T10:00:00Z', false], // Sat
    ['2027-07-05T07:00:00Z', true], // Mon 09:00 CEST
    ['2027-07-05T06:59:00Z', false], // Mon 08:59 CEST, 07:59 "winter time"
  ];
  for (const [iso, open] of cases) {
    test(`${iso} is ${open ? 'inside' : 'outside'}`, () => assert.equal(isOpen(window, at(iso)), open));
  }
});

describe('when a window next opens', () => {
  const cases: [what: string, window: string, from: string, opens: string, described: string][] = [
    [
      'Friday 17:00 waits for Monday 09:00',
      'Mon-Fri 09:00-16:00 Europe/Berlin',
      '2026-12-04T16:00:00Z',
      '2026-12-07T08:00:00Z',
      'Mon 09:00 Europe/Berlin',
    ],
    ['inside: now', 'Mon-Fri 09:00-16:00 Europe/Berlin', '2026-12-04T10:00:00Z', '2026-12-04T10:00:00Z', 'Fri 11:00 Europe/Berlin'],
    [
      'after Thursday: Friday’s shorter rule',
      'Mon-Thu 09:00-16:00 Europe/Berlin; Fri 09:00-12:00 Europe/Berlin',
      '2026-12-03T15:30:00Z',
      '2026-12-04T08:00:00Z',
      'Fri 09:00 Europe/Berlin',
    ],
    // Clocks go forward on Sunday 28 March 2027: Monday 09:00 is 07:00 UTC, 63 hours after Friday 17:00 CET, not 64.
    [
      'over the March change',
      'Mon-Fri 09:00-16:00 Europe/Berlin',
      '2027-03-26T16:00:00Z',
      '2027-03-29T07:00:00Z',
      'Mon 09:00 Europe/Berlin',
    ],
    // Clocks go back on Sunday 31 October 2027: Monday 09:00 is 08:00 UTC, 65 hours after Friday 17:00 CEST.
    [
      'over the October change',
      'Mon-Fri 09:00-16:00 Europe/Berlin',
      '2027-10-29T15:00:00Z',
      '2027-11-01T08:00:00Z',
      'Mon 09:00 Europe/Berlin',
    ],
    // 02:30 does not exist on 28 March 2027: the window opens when the clocks jump from 02:00 to 03:00.
    ['a start the clocks skip', 'Sun 02:30-04:00 Europe/Berlin', '2027-03-27T12:00:00Z', '2027-03-28T01:00:00Z', 'Sun 03:00 Europe/Berlin'],
    // 02:00-03:00 happens twice on 31 October 2027: at 02:45 CEST the window is shut until the clocks fall back to 02:00 CET.
    [
      'the repeated hour, jumped into',
      'Sun 02:00-02:30 Europe/Berlin',
      '2027-10-31T00:45:00Z',
      '2027-10-31T01:00:00Z',
      'Sun 02:00 Europe/Berlin',
    ],
    [
      'the repeated hour, reached again',
      'Sun 02:30-03:00 Europe/Berlin',
      '2027-10-31T01:05:00Z',
      '2027-10-31T01:30:00Z',
      'Sun 02:30 Europe/Berlin',
    ],
    [
      'the earliest of two zones',
      'Mon-Fri 09:00-17:00 America/New_York; Mon-Fri 09:00-17:00 Asia/Tokyo',
      '2026-12-05T12:00:00Z',
      '2026-12-07T00:00:00Z',
      'Mon 09:00 Asia/Tokyo',
    ],
    ['a week away', 'Mon 09:00-10:00 Europe/Berlin', '2026-12-07T09:30:00Z', '2026-12-14T08:00:00Z', 'Mon 09:00 Europe/Berlin'],
  ];
  for (const [what, text, from, opens, described] of cases) {
    test(what, () => {
      const opening = nextOpening(parsed(text), at(from));
      assert.equal(new Date(opening.at).toISOString(), new Date(opens).toISOString());
      assert.equal(describeInstant(opening.at, opening.rule.zone), described);
    });
  }

  test('the repeated hour counts as inside both times', () => {
    const window = parsed('Sun 02:30-03:00 Europe/Berlin');
    assert.equal(isOpen(window, at('2027-10-31T00:45:00Z')), true); // 02:45 CEST
    assert.equal(isOpen(window, at('2027-10-31T01:05:00Z')), false); // 02:05 CET
    assert.equal(isOpen(window, at('2027-10-31T01:45:00Z')), true); // 02:45 CET
  });
});
