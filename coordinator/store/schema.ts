// The SQLite schema (drizzle-orm): the system of record. Migrations are generated from
// this file with `npm run gen:db` into coordinator/store/migrations and applied at start.
// docs/schema.md describes each table and the views an analyst queries directly.
import { sqliteTable, text, integer, real, index, primaryKey, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const sweeps = sqliteTable('sweeps', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: text('status').notNull(),             // running | succeeded | failed | cancelled
  priority: integer('priority').notNull().default(0),
  specText: text('spec_text').notNull(),         // as submitted (YAML or JSON)
  specJson: text('spec_json').notNull(),         // validated, defaults filled
  createdMs: integer('created_ms').notNull(),
  finishedMs: integer('finished_ms'),
  error: text('error'),
  tagsJson: text('tags_json').notNull().default('[]'),   // ["baseline", ...] from --tag
  note: text('note'),                                    // free text from --note
  /** {gitCommit, limolabVersion, nodeVersion, coordinatorHost} of the coordinator at submit */
  provenanceJson: text('provenance_json'),
  /** hosts of the workers that ran its tasks, written when the sweep ends (worker ids can be reused) */
  workerHostsJson: text('worker_hosts_json'),
  archived: integer('archived').notNull().default(0),    // 1: left out of `sweep list` unless --all
});

/** One arm instance per grid point and seed: what analysis groups and compares. */
export const arms = sqliteTable('arms', {
  sweepId: text('sweep_id').notNull(),
  arm: text('arm').notNull(),                    // e.g. "sft[n=100,curation=limo]"
  armGroup: text('arm_group').notNull(),         // the spec's arm name, e.g. "sft"
  method: text('method').notNull(),              // sft | rl | icl | base | diag
  seed: integer('seed').notNull(),
  paramsJson: text('params_json').notNull(),
  evalTaskId: text('eval_task_id'),              // the task whose metrics are this arm's accuracy
}, (t) => [primaryKey({ columns: [t.sweepId, t.arm, t.seed] })]);

export const tasks = sqliteTable('tasks', {
  id: text('id').primaryKey(),
  sweepId: text('sweep_id').notNull(),
  arm: text('arm').notNull(),                    // arm instance (without seed)
  seed: integer('seed').notNull(),
  name: text('name').notNull(),                  // human label, e.g. "rollout r1 s2/4"
  kind: text('kind').notNull(),                  // diag | pretrain | curate | train | rollout | eval
  phase: text('phase').notNull(),
  pool: text('pool').notNull(),
  status: text('status').notNull(),              // pending | queued | running | succeeded | failed | skipped | cancelled | cached
  priority: integer('priority').notNull().default(0),
  taskProto: text('task_proto').notNull(),       // base64 limolab.v1.Task as planned (inputs filled at dispatch)
  depsJson: text('deps_json').notNull(),         // [{ task, role }]
  cacheKey: text('cache_key').notNull(),
  maxRetries: integer('max_retries').notNull(),
  dispatches: integer('dispatches').notNull().default(0),
  nextDispatchMs: integer('next_dispatch_ms'),
  workerId: text('worker_id'),
  createdMs: integer('created_ms').notNull(),
  startedMs: integer('started_ms'),
  finishedMs: integer('finished_ms'),
  error: text('error'),
  reusedFrom: text('reused_from'),               // a task of an earlier sweep with the same cache key
  /** arms (instance|seed) that share this task, e.g. one PRETRAIN for every arm */
  armsJson: text('arms_json').notNull(),
  // No index on status: it changes three times per task, and every change would rewrite the index entry.
}, (t) => [index('tasks_sweep').on(t.sweepId), index('tasks_cache_key').on(t.cacheKey)]);

export const attempts = sqliteTable('attempts', {
  id: text('id').primaryKey(),                   // <task>#<dispatch>.<delivery>
  taskId: text('task_id').notNull(),
  sweepId: text('sweep_id').notNull(),
  dispatch: integer('dispatch').notNull(),
  delivery: integer('delivery').notNull(),
  workerId: text('worker_id'),
  status: text('status').notNull(),              // running | succeeded | failed | cancelled | lost
  startedMs: integer('started_ms'),
  finishedMs: integer('finished_ms'),
  error: text('error'),
  errorCode: text('error_code'),
}, (t) => [index('attempts_task').on(t.taskId)]);

/** Exactly one row per succeeded task, whatever the number of deliveries. No index on sweep_id:
 * every task's result would pay for it on the dispatch path; a sweep's rows are reached through
 * tasks (tasks_sweep) and the task_id key. */
export const results = sqliteTable('results', {
  taskId: text('task_id').primaryKey(),
  sweepId: text('sweep_id').notNull(),
  attemptId: text('attempt_id').notNull(),
  outputsJson: text('outputs_json').notNull(),   // [ArtifactRef]
  detailsJson: text('details_json'),
  createdMs: integer('created_ms').notNull(),
});

export const metrics = sqliteTable('metrics', {
  taskId: text('task_id').notNull(),
  name: text('name').notNull(),
  value: real('value').notNull(),
  step: integer('step').notNull().default(0),
}, (t) => [primaryKey({ columns: [t.taskId, t.name, t.step] })]);

/** What each task cost: charged to its sweep and phase (arms via tasks.arms_json). Like
 * results, no index on sweep_id: reach a sweep's rows through tasks. */
export const ledger = sqliteTable('ledger', {
  taskId: text('task_id').primaryKey(),
  sweepId: text('sweep_id').notNull(),
  phase: text('phase').notNull(),
  flops: real('flops').notNull(),
  tokensPrompt: integer('tokens_prompt').notNull(),
  tokensGenerated: integer('tokens_generated').notNull(),
  tokensTrained: integer('tokens_trained').notNull(),
  wallS: real('wall_s').notNull(),
  deviceKind: text('device_kind').notNull(),
  deviceS: real('device_s').notNull(),
  params: integer('params').notNull(),
  curatedExamples: integer('curated_examples').notNull(),
  /** 1 when the task was satisfied from an earlier sweep's identical task: the arm is
   * still charged (it is what the method costs) but no device time was spent again. */
  reused: integer('reused').notNull().default(0),
});

export const workers = sqliteTable('workers', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pool: text('pool').notNull(),
  infoJson: text('info_json').notNull(),
  state: text('state').notNull(),
  runningJson: text('running_json').notNull(),
  firstSeenMs: integer('first_seen_ms').notNull(),
  lastSeenMs: integer('last_seen_ms').notNull(),
  completed: integer('completed').notNull().default(0),
  failed: integer('failed').notNull().default(0),
});

export const artifacts = sqliteTable('artifacts', {
  digest: text('digest').primaryKey(),
  size: integer('size').notNull(),
  uri: text('uri').notNull(),
  mediaType: text('media_type').notNull(),
  role: text('role').notNull(),
  taskId: text('task_id').notNull(),
  createdMs: integer('created_ms').notNull(),
}, (t) => [uniqueIndex('artifacts_digest').on(t.digest)]);

/** The last log lines of each attempt (runner stderr, runner and worker lines), stored with
 * the attempt's result; `limolab logs` reads them. */
export const taskLogs = sqliteTable('task_logs', {
  attemptId: text('attempt_id').notNull(),
  seq: integer('seq').notNull(),                 // line number within the attempt's stored tail
  taskId: text('task_id').notNull(),
  sweepId: text('sweep_id').notNull(),
  tsMs: integer('ts_ms').notNull(),
  source: text('source').notNull(),              // stderr | runner | worker
  line: text('line').notNull(),
}, (t) => [primaryKey({ columns: [t.attemptId, t.seq] }), index('task_logs_task').on(t.taskId), index('task_logs_sweep').on(t.sweepId)]);
