CREATE TABLE `arms` (
	`sweep_id` text NOT NULL,
	`arm` text NOT NULL,
	`arm_group` text NOT NULL,
	`method` text NOT NULL,
	`seed` integer NOT NULL,
	`params_json` text NOT NULL,
	`eval_task_id` text,
	PRIMARY KEY(`sweep_id`, `arm`, `seed`)
);
--> statement-breakpoint
CREATE TABLE `artifacts` (
	`digest` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`uri` text NOT NULL,
	`media_type` text NOT NULL,
	`role` text NOT NULL,
	`task_id` text NOT NULL,
	`created_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifacts_digest` ON `artifacts` (`digest`);--> statement-breakpoint
CREATE TABLE `attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`sweep_id` text NOT NULL,
	`dispatch` integer NOT NULL,
	`delivery` integer NOT NULL,
	`worker_id` text,
	`status` text NOT NULL,
	`started_ms` integer,
	`finished_ms` integer,
	`error` text,
	`error_code` text
);
--> statement-breakpoint
CREATE INDEX `attempts_task` ON `attempts` (`task_id`);--> statement-breakpoint
CREATE TABLE `ledger` (
	`task_id` text PRIMARY KEY NOT NULL,
	`sweep_id` text NOT NULL,
	`phase` text NOT NULL,
	`flops` real NOT NULL,
	`tokens_prompt` integer NOT NULL,
	`tokens_generated` integer NOT NULL,
	`tokens_trained` integer NOT NULL,
	`wall_s` real NOT NULL,
	`device_kind` text NOT NULL,
	`device_s` real NOT NULL,
	`params` integer NOT NULL,
	`curated_examples` integer NOT NULL,
	`reused` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ledger_sweep` ON `ledger` (`sweep_id`);--> statement-breakpoint
CREATE TABLE `metrics` (
	`task_id` text NOT NULL,
	`name` text NOT NULL,
	`value` real NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`task_id`, `name`, `step`)
);
--> statement-breakpoint
CREATE TABLE `results` (
	`task_id` text PRIMARY KEY NOT NULL,
	`sweep_id` text NOT NULL,
	`attempt_id` text NOT NULL,
	`outputs_json` text NOT NULL,
	`details_json` text,
	`created_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `results_sweep` ON `results` (`sweep_id`);--> statement-breakpoint
CREATE TABLE `sweeps` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`spec_text` text NOT NULL,
	`spec_json` text NOT NULL,
	`created_ms` integer NOT NULL,
	`finished_ms` integer,
	`error` text
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`sweep_id` text NOT NULL,
	`arm` text NOT NULL,
	`seed` integer NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`phase` text NOT NULL,
	`pool` text NOT NULL,
	`status` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`task_proto` text NOT NULL,
	`deps_json` text NOT NULL,
	`cache_key` text NOT NULL,
	`max_retries` integer NOT NULL,
	`dispatches` integer DEFAULT 0 NOT NULL,
	`next_dispatch_ms` integer,
	`worker_id` text,
	`created_ms` integer NOT NULL,
	`started_ms` integer,
	`finished_ms` integer,
	`error` text,
	`reused_from` text,
	`arms_json` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_sweep_status` ON `tasks` (`sweep_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_cache_key` ON `tasks` (`cache_key`);--> statement-breakpoint
CREATE TABLE `workers` (
	`id` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`pool` text NOT NULL,
	`info_json` text NOT NULL,
	`state` text NOT NULL,
	`running_json` text NOT NULL,
	`first_seen_ms` integer NOT NULL,
	`last_seen_ms` integer NOT NULL,
	`completed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL
);
