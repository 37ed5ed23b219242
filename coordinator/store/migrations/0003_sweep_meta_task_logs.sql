CREATE TABLE `task_logs` (
	`attempt_id` text NOT NULL,
	`seq` integer NOT NULL,
	`task_id` text NOT NULL,
	`sweep_id` text NOT NULL,
	`ts_ms` integer NOT NULL,
	`source` text NOT NULL,
	`line` text NOT NULL,
	PRIMARY KEY(`attempt_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `task_logs_task` ON `task_logs` (`task_id`);--> statement-breakpoint
CREATE INDEX `task_logs_sweep` ON `task_logs` (`sweep_id`);--> statement-breakpoint
ALTER TABLE `sweeps` ADD `tags_json` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `sweeps` ADD `note` text;--> statement-breakpoint
ALTER TABLE `sweeps` ADD `provenance_json` text;--> statement-breakpoint
ALTER TABLE `sweeps` ADD `worker_hosts_json` text;--> statement-breakpoint
ALTER TABLE `sweeps` ADD `archived` integer DEFAULT 0 NOT NULL;