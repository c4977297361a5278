import fs from 'node:fs';

/** Busy and total CPU time of the whole machine so far, in clock ticks, from /proc/stat. */
function cpuTicks(): { busy: number; total: number } {
  const fields = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet (at most `maxBusy` of its CPU busy over half a second), so a row
 * does not share the cores with what the previous step left running: autovacuum after a seed, bcrypt
 * of a warm-up, a server shutting down. Gives up after `timeoutMs` and says how busy it still was.
 */
export async function waitForQuietMachine(
  options: { maxBusy?: number; timeoutMs?: number } = {},
): Promise<{ quiet: boolean; busy: number }> {
  const maxBusy = options.maxBusy ?? 0.15;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let busy = 1;
  while (Date.now() < deadline) {
    const before = cpuTicks();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = cpuTicks();
    busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    if (busy <= maxBusy) return { quiet: true, busy };
  }
  return { quiet: false, busy };
}
