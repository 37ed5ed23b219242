-- results and ledger lose their sweep_id indexes: every succeeded task wrote an entry into each
-- on the dispatch path, and the reads that filtered by sweep now reach the rows through tasks
-- (tasks_sweep) and the task_id keys (docs/schema.md).
DROP INDEX `ledger_sweep`;--> statement-breakpoint
DROP INDEX `results_sweep`;