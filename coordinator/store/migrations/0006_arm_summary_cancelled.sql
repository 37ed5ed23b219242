-- arm_summary as in 0004, except that an arm whose only unfinished tasks were cancelled (its
-- sweep was cancelled) says `cancelled`, not `failed`: `failed` is kept for a task that
-- failed or was skipped because a dependency failed (loadRunRecords says the same).
DROP VIEW IF EXISTS `arm_summary`;
--> statement-breakpoint
CREATE VIEW `arm_summary` AS
WITH charged AS (
  SELECT c.sweep_id, c.arm, c.seed, c.task_id, c.status, a.method AS method,
    (SELECT t.kind FROM tasks t WHERE t.id = c.task_id) AS kind
  FROM arm_tasks c CROSS JOIN arms a ON a.sweep_id = c.sweep_id AND a.arm = c.arm AND a.seed = c.seed
),
state AS (
  SELECT sweep_id, arm, seed,
    sum(kind IS NOT 'probe') AS tasks,
    sum(kind IS NOT 'probe' AND status IN ('succeeded', 'cached')) AS tasks_done,
    sum(kind IS NOT 'probe' AND status IN ('failed', 'skipped')) AS tasks_failed,
    sum(kind IS NOT 'probe' AND status = 'cancelled') AS tasks_cancelled
  FROM charged GROUP BY sweep_id, arm, seed
),
cost AS (
  SELECT c.sweep_id, c.arm, c.seed,
    sum(CASE WHEN l.phase IN ('curation', 'tuning', 'training', 'rollout') OR (l.phase = 'evaluation' AND c.method = 'icl') THEN l.flops ELSE 0 END) AS flops,
    sum(CASE WHEN l.phase = 'pretrain' THEN l.flops ELSE 0 END) AS flops_pretrain,
    sum(CASE WHEN l.phase = 'curation' THEN l.flops ELSE 0 END) AS flops_curation,
    sum(CASE WHEN l.phase = 'tuning' THEN l.flops ELSE 0 END) AS flops_tuning,
    sum(CASE WHEN l.phase = 'training' THEN l.flops ELSE 0 END) AS flops_training,
    sum(CASE WHEN l.phase = 'rollout' THEN l.flops ELSE 0 END) AS flops_rollout,
    sum(CASE WHEN l.phase = 'evaluation' THEN l.flops ELSE 0 END) AS flops_evaluation,
    sum(CASE WHEN l.phase IN ('curation', 'tuning', 'training', 'rollout') OR (l.phase = 'evaluation' AND c.method = 'icl') THEN l.device_s ELSE 0 END) AS device_s,
    sum(CASE WHEN l.phase = 'pretrain' THEN l.device_s ELSE 0 END) AS device_s_pretrain,
    sum(CASE WHEN l.phase = 'evaluation' THEN l.device_s ELSE 0 END) AS device_s_evaluation,
    sum(l.curated_examples) AS curated_examples
  FROM charged c JOIN ledger l ON l.task_id = c.task_id
  GROUP BY c.sweep_id, c.arm, c.seed
)
SELECT a.sweep_id AS sweep_id, a.arm AS arm, a.arm_group AS arm_group, a.method AS method, a.seed AS seed,
  CASE
    WHEN coalesce(s.tasks_failed, 0) > 0 THEN 'failed'
    WHEN coalesce(s.tasks_cancelled, 0) > 0 THEN 'cancelled'
    WHEN coalesce(s.tasks_done, 0) = coalesce(s.tasks, 0) THEN 'succeeded'
    ELSE 'partial'
  END AS status,
  (SELECT m.value FROM metrics m WHERE m.task_id = a.eval_task_id AND m.name = 'pass1.test_id' AND m.step = 0) AS acc_id,
  (SELECT m.value FROM metrics m WHERE m.task_id = a.eval_task_id AND m.name = 'pass1.test_ood' AND m.step = 0) AS acc_ood,
  coalesce(c.flops, 0) AS flops,
  coalesce(c.flops_pretrain, 0) AS flops_pretrain,
  coalesce(c.flops_curation, 0) AS flops_curation,
  coalesce(c.flops_tuning, 0) AS flops_tuning,
  coalesce(c.flops_training, 0) AS flops_training,
  coalesce(c.flops_rollout, 0) AS flops_rollout,
  coalesce(c.flops_evaluation, 0) AS flops_evaluation,
  coalesce(c.device_s, 0) AS device_s,
  coalesce(c.device_s_pretrain, 0) AS device_s_pretrain,
  coalesce(c.device_s_evaluation, 0) AS device_s_evaluation,
  coalesce(c.curated_examples, 0) AS curated_examples,
  coalesce(s.tasks, 0) AS tasks,
  coalesce(s.tasks_done, 0) AS tasks_done,
  a.eval_task_id AS eval_task_id,
  a.params_json AS params_json
FROM arms a
LEFT JOIN state s ON s.sweep_id = a.sweep_id AND s.arm = a.arm AND s.seed = a.seed
LEFT JOIN cost c ON c.sweep_id = a.sweep_id AND c.arm = a.arm AND c.seed = a.seed;
