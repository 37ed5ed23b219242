// Formatters for a query Table: an aligned text table for terminals (numbers right-aligned,
// rounded per column format), CSV per RFC 4180 (full precision, CRLF line ends, fields
// quoted when they hold a comma, quote, CR or LF), and JSON ({columns, rows, notes}).
// Column headers are the column keys in every format.

import type { CellValue, Column, ColumnFormat, Table } from './query.js';

/** One cell as text for humans; '-' for a missing value. */
export function formatCell(v: CellValue, format: ColumnFormat): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  switch (format) {
    case 'int': return String(Math.round(v));
    case 'acc': return v.toFixed(3);
    case 'pm': return `±${v.toFixed(3)}`;
    case 'signed': return `${v > 0 ? '+' : v < 0 ? '-' : ''}${Math.abs(v).toFixed(3)}`;
    case 'sci': return v === 0 ? '0' : v.toExponential(2);
    case 'money': return fmtMoney(v);
    case 'seconds': return v < 100 ? v.toFixed(2) : v.toFixed(0);
    case 'number': return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
    case 'text': return String(v);
  }
}

/** Dollars rounded for reading: cents from $1, two significant digits below ($0.0012),
 *  thousands separated; never a float's full expansion. */
export function fmtMoney(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v), sign = v < 0 ? '-' : '';
  if (a === 0) return '$0';
  if (a >= 1000) return `${sign}$${Math.round(a).toLocaleString('en-US')}`;
  if (a >= 1) return `${sign}$${a.toFixed(2)}`;
  if (a >= 1e-6) return `${sign}$${Number(a.toPrecision(2)).toFixed(Math.max(2, 1 - Math.floor(Math.log10(a))))}`;
  return `${sign}$${a.toExponential(1)}`;
}

/** A price per device-second as the per-hour figure people quote: "$0.05/h". */
export function fmtRate(perSecond: number): string {
  return `${fmtMoney(perSecond * 3600)}/h`;
}

const isNumeric = (c: Column) => c.format !== 'text';

export function toTextTable(t: Table): string {
  const header = t.columns.map((c) => c.label);
  const body = t.rows.map((r) => t.columns.map((c) => formatCell(r[c.key] ?? null, c.format)));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((s, i) => (isNumeric(t.columns[i]!) ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n') + '\n';
}

/** RFC 4180 field: quoted when it holds ',', '"', CR or LF; inner quotes doubled. */
export function csvField(v: CellValue): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(t: Table): string {
  const lines = [t.columns.map((c) => csvField(c.label)), ...t.rows.map((r) => t.columns.map((c) => csvField(r[c.key] ?? null)))];
  return lines.map((l) => l.join(',')).join('\r\n') + '\r\n';
}

/** {columns, rows} plus notes when there are any; row keys are the column keys. */
export function toJson(t: Table): string {
  return JSON.stringify({ columns: t.columns, rows: t.rows, ...(t.notes?.length ? { notes: t.notes } : {}) }, null, 2) + '\n';
}

export type TableFormat = 'text' | 'csv' | 'json';
export function formatTable(t: Table, format: TableFormat = 'text'): string {
  switch (format) {
    case 'text': return toTextTable(t);
    case 'csv': return toCsv(t);
    case 'json': return toJson(t);
  }
}
