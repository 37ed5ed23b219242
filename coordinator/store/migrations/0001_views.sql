-- Views for analysts who query limolab.db with sqlite3 directly (docs/schema.md explains
-- each column). Hand-written (drizzle-kit generate --custom); the tables are unchanged.
-- An arm instance and seed is charged the ledger of every task whose tasks.arms_json holds
-- '<arm>|<seed>' (shared tasks, e.g. one PRETRAIN, are charged in full to each arm), the
-- same rule as coordinator/results.ts's loadRunRecords.
-- arm_tasks: one row per (arm instance, seed, task) charge. The key '<arm>|<seed>' is split
-- with rtrim (the seed is the trailing digits after the last '|'), so the arms lookup uses
-- its primary key instead of matching every arm against every task of the sweep (the views
-- below CROSS JOIN arms after arm_tasks to keep SQLite's planner on that order).
CREATE VIEW `arm_tasks` AS
SELECT t.sweep_id AS sweep_id,
  substr(rtrim(j.value, '0123456789'), 1, length(rtrim(j.value, '0123456789')) - 1) AS arm,
  cast(substr(j.value, length(rtrim(j.value, '0123456789')) + 1) AS integer) AS seed,
  t.id AS task_id, t.phase AS phase, t.status AS status
FROM tasks t, json_each(t.arms_json) j;
--> statement-breakpoint
CREATE VIEW `ledger_by_phase` AS
SELECT a.sweep_id AS sweep_id, a.arm AS arm, a.method AS method, a.seed AS seed, l.phase AS phase,
  count(*) AS tasks,
  sum(l.reused) AS reused_tasks,
  sum(l.flops) AS flops,
  sum(l.device_s) AS device_s,
  sum(l.wall_s) AS wall_s,
  sum(l.tokens_prompt) AS tokens_prompt,
  sum(l.tokens_generated) AS tokens_generated,
  sum(l.tokens_trained) AS tokens_trained,
  sum(l.curated_examples) AS curated_examples
FROM arm_tasks c
CROSS JOIN arms a ON a.sweep_id = c.sweep_id AND a.arm = c.arm AND a.seed = c.seed
JOIN ledger l ON l.task_id = c.task_id
GROUP BY a.sweep_id, a.arm, a.method, a.seed, l.phase;
--> statement-breakpoint
-- One row per arm instance and seed. status: succeeded when every charged task succeeded
-- (or was reused), failed when any failed, was skipped or cancelled, else partial.
-- flops and device_s leave out pretrain (a constant every arm pays) and diag, as the
-- analysis layer does by default; the per-phase columns keep everything.
CREATE VIEW `arm_summary` AS
WITH charged AS (
  SELECT c.sweep_id, c.arm, c.seed, c.task_id, c.status
  FROM arm_tasks c CROSS JOIN arms a ON a.sweep_id = c.sweep_id AND a.arm = c.arm AND a.seed = c.seed
),
state AS (
  SELECT sweep_id, arm, seed,
    count(*) AS tasks,
    sum(status IN ('succeeded', 'cached')) AS tasks_done,
    sum(status IN ('failed', 'skipped', 'cancelled')) AS tasks_failed
  FROM charged GROUP BY sweep_id, arm, seed
),
cost AS (
  SELECT c.sweep_id, c.arm, c.seed,
    sum(CASE WHEN l.phase IN ('curation', 'training', 'rollout', 'evaluation') THEN l.flops ELSE 0 END) AS flops,
    sum(CASE WHEN l.phase = 'pretrain' THEN l.flops ELSE 0 END) AS flops_pretrain,
    sum(CASE WHEN l.phase = 'curation' THEN l.flops ELSE 0 END) AS flops_curation,
    sum(CASE WHEN l.phase = 'training' THEN l.flops ELSE 0 END) AS flops_training,
    sum(CASE WHEN l.phase = 'rollout' THEN l.flops ELSE 0 END) AS flops_rollout,
    sum(CASE WHEN l.phase = 'evaluation' THEN l.flops ELSE 0 END) AS flops_evaluation,
    sum(CASE WHEN l.phase IN ('curation', 'training', 'rollout', 'evaluation') THEN l.device_s ELSE 0 END) AS device_s,
    sum(CASE WHEN l.phase = 'pretrain' THEN l.device_s ELSE 0 END) AS device_s_pretrain,
    sum(l.curated_examples) AS curated_examples
  FROM charged c JOIN ledger l ON l.task_id = c.task_id
  GROUP BY c.sweep_id, c.arm, c.seed
)
SELECT a.sweep_id AS sweep_id, a.arm AS arm, a.arm_group AS arm_group, a.method AS method, a.seed AS seed,
  CASE
    WHEN coalesce(s.tasks_failed, 0) > 0 THEN 'failed'
    WHEN coalesce(s.tasks_done, 0) = coalesce(s.tasks, 0) THEN 'succeeded'
    ELSE 'partial'
  END AS status,
  (SELECT m.value FROM metrics m WHERE m.task_id = a.eval_task_id AND m.name = 'pass1.test_id' AND m.step = 0) AS acc_id,
  (SELECT m.value FROM metrics m WHERE m.task_id = a.eval_task_id AND m.name = 'pass1.test_ood' AND m.step = 0) AS acc_ood,
  coalesce(c.flops, 0) AS flops,
  coalesce(c.flops_pretrain, 0) AS flops_pretrain,
  coalesce(c.flops_curation, 0) AS flops_curation,
  coalesce(c.flops_training, 0) AS flops_training,
  coalesce(c.flops_rollout, 0) AS flops_rollout,
  coalesce(c.flops_evaluation, 0) AS flops_evaluation,
  coalesce(c.device_s, 0) AS device_s,
  coalesce(c.device_s_pretrain, 0) AS device_s_pretrain,
  coalesce(c.curated_examples, 0) AS curated_examples,
  coalesce(s.tasks, 0) AS tasks,
  coalesce(s.tasks_done, 0) AS tasks_done,
  a.eval_task_id AS eval_task_id,
  a.params_json AS params_json
FROM arms a
LEFT JOIN state s ON s.sweep_id = a.sweep_id AND s.arm = a.arm AND s.seed = a.seed
LEFT JOIN cost c ON c.sweep_id = a.sweep_id AND c.arm = a.arm AND c.seed = a.seed;
--> statement-breakpoint
-- One row per task with its attempt history summarised: how many deliveries it took, how
-- many failed or were lost, and the last error seen (the task's own, else its latest attempt's).
CREATE VIEW `task_attempts` AS
SELECT t.sweep_id AS sweep_id, t.id AS task_id, t.name AS name, t.arm AS arm, t.seed AS seed, t.kind AS kind,
  t.phase AS phase, t.status AS status, t.dispatches AS dispatches,
  (SELECT count(*) FROM attempts x WHERE x.task_id = t.id) AS attempts,
  (SELECT count(*) FROM attempts x WHERE x.task_id = t.id AND x.status = 'failed') AS failed_attempts,
  (SELECT count(*) FROM attempts x WHERE x.task_id = t.id AND x.status = 'lost') AS lost_attempts,
  coalesce(t.error, (SELECT x.error FROM attempts x WHERE x.task_id = t.id AND x.error IS NOT NULL
    ORDER BY x.dispatch DESC, x.delivery DESC LIMIT 1)) AS last_error,
  (SELECT x.error_code FROM attempts x WHERE x.task_id = t.id AND x.error_code IS NOT NULL
    ORDER BY x.dispatch DESC, x.delivery DESC LIMIT 1) AS last_error_code,
  t.worker_id AS worker_id, t.started_ms AS started_ms, t.finished_ms AS finished_ms,
  CASE WHEN t.started_ms IS NOT NULL AND t.finished_ms IS NOT NULL THEN (t.finished_ms - t.started_ms) / 1000.0 END AS wall_s,
  t.reused_from AS reused_from
FROM tasks t;
