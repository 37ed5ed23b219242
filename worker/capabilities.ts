// What a worker can offer: CPUs, memory, GPUs (read from nvidia-smi where present).
import { spawnSync } from 'node:child_process';
import { cpus, freemem, hostname, totalmem } from 'node:os';
import type { GpuInfo } from '../gen/limolab/v1/task.js';

export function detectGpus(): GpuInfo[] {
  const r = spawnSync('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0 || !r.stdout) return [];
  return r.stdout.trim().split('\n').map((line) => {
    const [index, name, mem] = line.split(',').map((s) => s.trim());
    return { index: Number(index), name: name ?? 'gpu', memoryMb: Number(mem) || 0 };
  });
}

export function detectHost() {
  return { host: hostname(), cpus: cpus().length, memoryMb: Math.round(totalmem() / 2 ** 20), freeMemoryMb: Math.round(freemem() / 2 ** 20) };
}
