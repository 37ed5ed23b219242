DROP INDEX `tasks_sweep_status`;--> statement-breakpoint
CREATE INDEX `tasks_sweep` ON `tasks` (`sweep_id`);