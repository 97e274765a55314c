/**
 * deploy/monitoring: the PrometheusRule and the Grafana dashboard parse, and every Baton metric
 * they name is one the gateway or the worker registers (with a histogram's own suffixes). The
 * Temporal SDK metrics they name are checked against a running worker's scrape in
 * test/worker/metrics.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  type Dashboard,
  monitoringQueries,
  metricNames,
  MONITORING,
  type PrometheusRule,
  readDocuments,
  readText,
  REPO,
} from './chart-files.js';

/** The series names Baton's prom-client metrics expose: the name, and a histogram's _bucket/_count/_sum. */
function batonSeries(): Set<string> {
  const series = new Set<string>();
  for (const file of ['activities/metrics.ts', 'gateway/plugins/metrics.ts']) {
    const source = readText(join(REPO, file));
    for (const match of source.matchAll(/new (Counter|Histogram|Gauge)\(\{\s*name: '([a-z_]+)'/g)) {
      const [, kind, name] = match;
      series.add(name!);
      if (kind === 'Histogram') for (const suffix of ['_bucket', '_count', '_sum']) series.add(`${name!}${suffix}`);
    }
  }
  return series;
}

void describe('deploy/monitoring', () => {
  test('the PrometheusRule is a monitoring.coreos.com/v1 object whose alerts all have a severity, a summary and an expression', () => {
    const docs = readDocuments<PrometheusRule>(join(MONITORING, 'prometheus-rule.yaml'));
    assert.equal(docs.length, 1);
    const [rule] = docs;
    assert.equal(rule!.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(rule!.kind, 'PrometheusRule');
    const rules = rule!.spec.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 4);
    for (const r of rules) {
      assert.ok(r.alert, 'alerting rules only');
      assert.ok(r.expr.trim().length > 0, r.alert);
      assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary, `${r.alert}: summary`);
    }
  });

  test('the dashboard has unique panel ids and queries on the data source variable', () => {
    const dashboard = JSON.parse(readText(join(MONITORING, 'grafana-dashboard.json'))) as Dashboard & {
      panels: { datasource: { uid: string } }[];
    };
    assert.equal(dashboard.uid, 'baton');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of dashboard.panels) {
      assert.equal(panel.datasource.uid, '${datasource}', panel.title);
      assert.ok(panel.targets.length > 0, panel.title);
    }
  });

  test('every baton_ metric they query is one Baton registers', () => {
    const queries = monitoringQueries();
    const used = metricNames(queries, 'baton_');
    const known = batonSeries();
    assert.ok(known.has('baton_promotions_total') && known.has('baton_gateway_http_requests_total'), 'the scan found the registrations');
    for (const name of ['baton_promotions_total', 'baton_git_step_duration_seconds_bucket', 'baton_pull_request_duration_seconds_bucket']) {
      assert.ok(used.has(name), `${name} is shown or alerted on`);
    }
    assert.deepEqual(
      [...used].filter((name) => !known.has(name)),
      [],
      'metrics no Baton code registers',
    );
  });
});
