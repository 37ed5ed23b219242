// Reads every task of a sweep through ListTasks, a page at a time, so that `sweep status
// --tasks` on a sweep of 100,000 tasks never asks the coordinator for one huge message.
import type { ListTasksRequest, ListTasksResponse, TaskSummary } from '../gen/limolab/v1/coordinator.js';
import type { Client } from './client.js';

export async function listAllTasks(client: Client, sweepId: string, pageSize = 1000): Promise<TaskSummary[]> {
  const tasks: TaskSummary[] = [];
  let pageToken = '';
  do {
    const r = await client.call<ListTasksRequest, ListTasksResponse>('listTasks', { sweepId, pageSize, pageToken });
    tasks.push(...r.tasks);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return tasks;
}
