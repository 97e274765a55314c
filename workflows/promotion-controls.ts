/**
 * The promotion-controls workflow: one per namespace, holding every stop, freeze and mark. People
 * change them with Updates (the CLI, the gateway, the Temporal UI); releases read them with a query
 * before promoting, and a release that is held asks to be told when they change. A version marked
 * bad has its running release told to end. It never ends: it continues as new to keep its history
 * short, carrying the controls and the waiting releases over — so a mark outlives the retention of
 * the release it ended.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  controlsChangedSignal,
  controlsQuery,
  freezeUpdate,
  markBadUpdate,
  markedBadSignal,
  resumeUpdate,
  stopUpdate,
  unfreezeUpdate,
  unmarkBadUpdate,
  watchControlsSignal,
} from '../model/messages.js';
import { releaseWorkflowId } from '../model/release.js';
import {
  activeControls,
  CONTROLS_HISTORY_LIMIT,
  type ControlScope,
  type ControlWatcher,
  controlRequestProblem,
  describeControl,
  type MarkBadRequest,
  markOf,
  markRequestProblem,
  MAX_CONTROLS,
  nextChange,
  type FreezeRequest,
  type PromotionControl,
  type PromotionControlsInput,
  type ResumeRequest,
  type UnfreezeRequest,
  type UnmarkBadRequest,
} from '../model/promotion-controls.js';

/** Bound on the releases waiting to be told at once (each is told once, then asks again if still held). */
const MAX_WATCHERS = 10_000;

const sameScope = (a: ControlScope, b: ControlScope): boolean => a.pipeline === b.pipeline && a.environment === b.environment;

export async function promotionControls(input: PromotionControlsInput = {}): Promise<void> {
  const controls: PromotionControl[] = [...(input.controls ?? [])];
  const watchers = new Map<string, ControlWatcher>((input.watchers ?? []).map((w) => [w.workflowId, w]));
  let lastId = input.lastId ?? 0;
  /** Releases to tell, because the controls changed (or they asked while nothing held them any more). */
  const toTell = new Set<string>();

  const now = (): string => new Date().toISOString();
  const changed = (): void => {
    for (const id of watchers.keys()) toTell.add(id);
    show();
  };
  const show = (): void => {
    setCurrentDetails(
      controls.length === 0
        ? 'No stop, freeze or mark: promotions run when due'
        : controls.map((c) => `- ${c.id}: ${describeControl(c)}`).join('\n'),
    );
  };
  const stops = (): string[] => controls.filter((c) => c.kind === 'stop').map((c) => `${c.id} (${describeControl(c)})`);
  const room = (): void => {
    if (controls.length >= MAX_CONTROLS) throw new Error(`${controls.length} stops, freezes and marks already; lift some first`);
  };

  setHandler(
    stopUpdate,
    (request) => {
      lastId += 1;
      const stop: PromotionControl = {
        id: `stop-${lastId}`,
        kind: 'stop',
        scope: { ...request.scope },
        reason: request.reason,
        by: request.by,
        at: now(),
      };
      controls.push(stop);
      changed();
      return stop;
    },
    {
      validator: (input: unknown) => {
        const problem = controlRequestProblem(input, 'stop');
        if (problem !== undefined) throw new Error(problem);
        room();
      },
      description:
        'Stop promotions (everything, one Pipeline, or one environment of one) until resumed: {"scope": {}, "reason": "…", "by": "…"}.',
    },
  );
  setHandler(
    resumeUpdate,
    (request) => {
      const lifted = controls.filter((c) => c.kind === 'stop' && (request.all === true || sameScope(c.scope, request.scope)));
      for (const stop of lifted) controls.splice(controls.indexOf(stop), 1);
      log.info('promotions resumed', { by: request.by, lifted: lifted.map((c) => c.id) });
      changed();
      return lifted;
    },
    {
      validator: (input: unknown) => {
        const request = (input ?? {}) as Partial<ResumeRequest>;
        if (typeof request.by !== 'string' || request.by.trim() === '') throw new Error('by (who resumes) is required');
        const any = controls.some((c) => c.kind === 'stop' && (request.all === true || sameScope(c.scope, request.scope ?? {})));
        if (!any) throw new Error(`nothing is stopped in that scope; stopped: ${stops().join('; ') || 'nothing'}`);
      },
      description: 'Lift the stops of exactly this scope ({"scope": {}, "by": "…"}), or every stop ({"all": true, "by": "…"}).',
    },
  );
  setHandler(
    freezeUpdate,
    (request) => {
      lastId += 1;
      const freeze: PromotionControl = {
        id: `freeze-${lastId}`,
        kind: 'freeze',
        scope: { ...request.scope },
        reason: request.reason,
        by: request.by,
        at: now(),
        from: new Date(request.from).toISOString(),
        until: new Date(request.until).toISOString(),
      };
      controls.push(freeze);
      changed();
      return freeze;
    },
    {
      validator: (input: unknown) => {
        const problem = controlRequestProblem(input, 'freeze');
        if (problem !== undefined) throw new Error(problem);
        const { until } = input as FreezeRequest;
        if (Date.parse(until) <= Date.now()) throw new Error(`the freeze would already be over (until ${until})`);
        room();
      },
      description: 'Freeze promotions in a scope between two dates: {"scope": {}, "from": "…", "until": "…", "reason": "…", "by": "…"}.',
    },
  );
  setHandler(
    unfreezeUpdate,
    (request) => {
      const freeze = controls.find((c) => c.kind === 'freeze' && c.id === request.id)!;
      controls.splice(controls.indexOf(freeze), 1);
      log.info('freeze lifted', { by: request.by, id: freeze.id });
      changed();
      return freeze;
    },
    {
      validator: (input: unknown) => {
        const { id } = (input ?? {}) as Partial<UnfreezeRequest>;
        if (!controls.some((c) => c.kind === 'freeze' && c.id === id)) {
          throw new Error(
            `no freeze ${String(id)}; freezes: ${
              controls
                .filter((c) => c.kind === 'freeze')
                .map((c) => c.id)
                .join(', ') || 'none'
            }`,
          );
        }
      },
      description: 'Lift a freeze by its id: {"id": "freeze-3", "by": "…"}.',
    },
  );
  setHandler(
    markBadUpdate,
    async (request) => {
      lastId += 1;
      const mark: PromotionControl = {
        id: `bad-${lastId}`,
        kind: 'bad',
        scope: { pipeline: request.pipeline },
        version: request.version,
        reason: request.reason,
        by: request.by,
        at: now(),
      };
      controls.push(mark);
      show();
      const [namespace, name] = request.pipeline.split('/') as [string, string];
      const workflowId = releaseWorkflowId({ namespace, name }, request.version);
      try {
        await getExternalWorkflowHandle(workflowId).signal(markedBadSignal, {
          id: mark.id,
          reason: mark.reason,
          by: mark.by,
          at: mark.at,
        });
        return { mark, endedRelease: workflowId };
      } catch {
        // No release of that version runs: the mark keeps later ones from promoting it.
        return { mark };
      }
    },
    {
      validator: (input: unknown) => {
        const problem = markRequestProblem(input, 'mark');
        if (problem !== undefined) throw new Error(problem);
        const { pipeline, version } = input as MarkBadRequest;
        const marked = markOf(controls, pipeline, version);
        if (marked !== undefined) {
          throw new Error(`${pipeline} ${version} is already marked bad (${marked.id}) by ${marked.by} at ${marked.at}: ${marked.reason}`);
        }
        room();
      },
      description:
        'Mark a version of a Pipeline bad: its running release ends, and it is not promoted until unmarked: ' +
        '{"pipeline": "ns/name", "version": "6.7.1", "reason": "…", "by": "…"}.',
    },
  );
  setHandler(
    unmarkBadUpdate,
    (request) => {
      const mark = markOf(controls, request.pipeline, request.version)!;
      controls.splice(controls.indexOf(mark), 1);
      log.info('mark lifted', { by: request.by, id: mark.id });
      show();
      return mark;
    },
    {
      validator: (input: unknown) => {
        const problem = markRequestProblem(input, 'unmark');
        if (problem !== undefined) throw new Error(problem);
        const { pipeline, version } = input as UnmarkBadRequest;
        if (markOf(controls, pipeline, version) === undefined) {
          const marks = controls.filter((c) => c.kind === 'bad' && c.scope.pipeline === pipeline).map((c) => c.version);
          throw new Error(`${pipeline} ${version} is not marked bad; marked: ${marks.join(', ') || 'none'}`);
        }
      },
      description: 'Lift the mark of a version: {"pipeline": "ns/name", "version": "6.7.1", "by": "…"}.',
    },
  );
  setHandler(controlsQuery, () => controls, { description: 'Every stop, freeze and mark in force or to come.' });
  setHandler(
    watchControlsSignal,
    (watcher) => {
      // Nothing holds it any more (lifted between its query and this signal): tell it now.
      const held = activeControls(controls, watcher.pipeline, watcher.environment, Date.now()).length > 0;
      const upcoming = nextChange(controls, watcher.pipeline, watcher.environment, Date.now()) !== undefined;
      if (!held && !upcoming) toTell.add(watcher.workflowId);
      if (watchers.size < MAX_WATCHERS || watchers.has(watcher.workflowId)) watchers.set(watcher.workflowId, watcher);
    },
    { description: 'A held release asks to be told when the controls change (sent by the release).' },
  );

  /** Drops freezes that are over, and reports when the next one ends. */
  const pruneFreezes = (): number | undefined => {
    const nowMs = Date.now();
    const over = controls.filter((c) => c.kind === 'freeze' && Date.parse(c.until!) <= nowMs);
    for (const freeze of over) controls.splice(controls.indexOf(freeze), 1);
    if (over.length > 0) show();
    const ends = controls.filter((c) => c.kind === 'freeze').map((c) => Date.parse(c.until!));
    return ends.length === 0 ? undefined : Math.min(...ends);
  };

  show();
  for (;;) {
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > CONTROLS_HISTORY_LIMIT) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof promotionControls>({ controls, watchers: [...watchers.values()], lastId });
    }
    if (toTell.size > 0) {
      const batch = [...toTell];
      toTell.clear();
      await Promise.all(
        batch.map(async (workflowId) => {
          watchers.delete(workflowId);
          try {
            await getExternalWorkflowHandle(workflowId).signal(controlsChangedSignal);
          } catch {
            // The release ended meanwhile: nothing to tell.
          }
        }),
      );
      continue;
    }
    const nextEnd = pruneFreezes();
    const news = (): boolean => toTell.size > 0 || workflowInfo().continueAsNewSuggested;
    if (nextEnd === undefined) await condition(news);
    else await condition(news, Math.max(1, nextEnd - Date.now()));
  }
}
