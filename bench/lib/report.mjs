// What every benchmark prints and records: the machine, and a plain-text table.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

export function machineInfo() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: model.trim(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
  };
}

/**
 * @param {object[]} rows results; a row with `skipped` or `error` prints as one message
 * @param {[string, (row: object) => unknown][]} columns header and getter of each column
 */
export function formatTable(rows, columns) {
  const cells = rows.map((r) =>
    r.skipped || r.error
      ? [r.name, `${r.skipped ? 'skipped' : 'FAILED'}: ${(r.skipped ?? r.error).split('\n')[0]}`]
      : columns.map(([, get]) => String(get(r) ?? '-')),
  );
  const header = columns.map(([h]) => h);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.filter((c) => c.length > 2).map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map((c) => (c.length > 2 ? line(c) : c.join('  ')))].join('\n');
}
