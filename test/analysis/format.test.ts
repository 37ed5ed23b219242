// Table formatters: alignment of the text table, RFC 4180 quoting in CSV, JSON round trip.
import { describe, expect, it } from 'vitest';
import { csvField, formatCell, toCsv, toJson, toTextTable, type Table } from '../../coordinator/analysis/index.js';
import { fmtMoney, fmtRate } from '../../coordinator/analysis/format.js';

const t: Table = {
  columns: [
    { key: 'arm', label: 'arm', format: 'text' },
    { key: 'acc', label: 'acc', format: 'acc' },
    { key: 'flops', label: 'flops', format: 'sci' },
  ],
  rows: [
    { arm: 'sft, "limo"', acc: 0.41234, flops: 1.5e12 },
    { arm: 'multi\nline', acc: null, flops: 0 },
  ],
};

describe('formatters', () => {
  it('CSV quotes fields with commas, quotes or newlines and doubles inner quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('x\r\ny')).toBe('"x\r\ny"');
    expect(csvField(null)).toBe('');
    expect(toCsv(t)).toBe('arm,acc,flops\r\n"sft, ""limo""",0.41234,1500000000000\r\n"multi\nline",,0\r\n');
  });

  it('text table pads text left-aligned and numbers right-aligned, missing values as "-"', () => {
    const simple: Table = { columns: t.columns, rows: [{ arm: 'a', acc: 0.5, flops: 1e12 }, { arm: 'longer', acc: null, flops: 12345 }] };
    // widths: arm 6 ('longer'), acc 5 ('0.500'), flops 8 ('1.00e+12'); headers of number
    // columns are right-aligned like their cells
    expect(toTextTable(simple)).toBe(
      'arm       acc     flops\n' +
      '------  -----  --------\n' +
      'a       0.500  1.00e+12\n' +
      'longer      -   1.23e+4\n',
    );
  });

  it('cells are rounded per format', () => {
    expect(formatCell(0.123456, 'acc')).toBe('0.123');
    expect(formatCell(12.3456, 'money')).toBe('$12.35');
    expect(formatCell(0.0012345, 'money')).toBe('$0.0012');
    expect(formatCell(3.7, 'int')).toBe('4');
    expect(formatCell(0, 'sci')).toBe('0');
    expect(formatCell(0.05, 'pm')).toBe('±0.050');
    expect(formatCell(-0.0504, 'signed')).toBe('-0.050');
    expect(formatCell(0.1, 'signed')).toBe('+0.100');
  });

  it('money is rounded for reading, never printed at full float precision', () => {
    expect(fmtMoney(0.05 / 3600)).toBe('$0.000014');
    expect(fmtMoney(0.0999)).toBe('$0.100');
    expect(fmtMoney(1234.567)).toBe('$1,235');
    expect(fmtMoney(0)).toBe('$0');
    expect(fmtRate(0.0000138888888)).toBe('$0.050/h');
    expect(fmtRate(2.5 / 3600)).toBe('$2.50/h');
  });

  it('JSON keeps columns and full-precision rows', () => {
    expect(JSON.parse(toJson(t))).toEqual({ columns: t.columns, rows: t.rows });
    expect(JSON.parse(toJson({ ...t, notes: ['n'] })).notes).toEqual(['n']);
  });
});
