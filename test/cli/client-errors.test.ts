// The CLI's coordinator address check and its wording of gRPC connection failures (no raw
// gRPC text such as "Resolution note: )" reaches the user).
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { clientFrom, coordinatorAddress } from '../../cli/args.js';
import { Client, unreachableReason } from '../../cli/client.js';

describe('coordinator address', () => {
  it('accepts HOST:PORT and [v6]:PORT, refuses a missing or bad port instead of trying 443', () => {
    expect(coordinatorAddress('127.0.0.1:50551')).toBe('127.0.0.1:50551');
    expect(coordinatorAddress('[::1]:50551')).toBe('[::1]:50551');
    expect(() => coordinatorAddress('127.0.0.1')).toThrow('--coordinator "127.0.0.1" is not a coordinator address: it has no port; e.g. 127.0.0.1:50551');
    expect(() => coordinatorAddress('http://x:1')).toThrow(/write it as HOST:PORT/);
    expect(() => coordinatorAddress('h:70000')).toThrow(/port 70000 is out of range/);
    expect(() => clientFrom({ coordinator: 'localhost' })).toThrow(/no port/);
  });
});

describe('unreachable coordinator', () => {
  it('says why in words', () => {
    const e = (details: string, code = grpc.status.UNAVAILABLE) => ({ code, details, message: `14 UNAVAILABLE: ${details}` });
    expect(unreachableReason(e('No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: '))).toBe('connection refused: nothing listens on that port');
    expect(unreachableReason(e('Name resolution failed for target dns:nohost.invalid:5'))).toBe('host name not found');
    expect(unreachableReason(e('Deadline exceeded', grpc.status.DEADLINE_EXCEEDED))).toBe('no answer before the deadline');
  });

  it('a refused connection over real gRPC gives one line without gRPC internals', async () => {
    const c = new Client({ address: '127.0.0.1:1' });
    try {
      const err = await c.call('listSweeps', { limit: 1 }, 10_000).then(() => null, (x: Error) => x);
      expect(err?.message).toBe('cannot reach the coordinator at 127.0.0.1:1 (connection refused: nothing listens on that port); start one with `limolab coordinator`, or pass --coordinator host:port');
    } finally {
      c.close();
    }
  });
});
