// Starting and stopping one of the project's rigs (scripts/rigs/<name>.sh) for a bench
// run: its `export` lines go into process.env (the addon and the child tools read them
// there), and stop() is synchronous so it can run from an 'exit' handler.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} repoDir
 * @param {string} name rig script name ('x11', 'pulse')
 * @param {string} rigDir the rig's RIG_DIR
 * @param {string} requiredVar a variable the rig must export (DISPLAY, PULSE_SERVER)
 * @param {string} pidFile the server's pid file, relative to rigDir
 * @returns {{ pid: number | null, stop: () => void }}
 */
export function startRig(repoDir, name, rigDir, requiredVar, pidFile) {
  const script = join(repoDir, `scripts/rigs/${name}.sh`);
  const env = () => ({ ...process.env, RIG_DIR: rigDir });
  const out = execFileSync('bash', [script, 'start'], { env: env(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  for (const line of out.split('\n')) applyExports(line);
  if (!process.env[requiredVar]) throw new Error(`${name} rig printed no ${requiredVar}: ${out}`);
  const pid = readPid(join(rigDir, pidFile));
  let stopped = false;
  return {
    pid,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        execFileSync('bash', [script, 'stop'], { env: env(), stdio: 'ignore', timeout: 15000 });
      } catch {
        if (pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    },
  };
}

// Lines like: export DISPLAY=:1  /  export A=1 B=2  /  export X="${X:-disabled:}"
function applyExports(line) {
  const m = /^export\s+(.*)$/.exec(line.trim());
  if (!m) return;
  for (const assign of m[1].split(/\s+(?=[A-Z_][A-Z0-9_]*=)/)) {
    const eq = assign.indexOf('=');
    if (eq < 0) continue;
    const name = assign.slice(0, eq);
    let value = assign.slice(eq + 1).replace(/^"|"$/g, '');
    const dflt = /^\$\{(\w+):-(.*)\}$/.exec(value);
    if (dflt) value = process.env[dflt[1]] || dflt[2];
    process.env[name] = value;
  }
}

export function readPid(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
