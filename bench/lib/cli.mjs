// What every benchmark script shares: its command line (numeric options with a range, and
// flags), and killing its child processes when it ends or is interrupted.

/**
 * Parses `argv` against `options`: `{ seconds: { default: 5, min: 0, max: 20 } }` takes
 * `--seconds N` and `--seconds=N`, in (min, max] (or [min, max] with `minIncluded`);
 * `{ 'in-vm': 'flag' }` takes `--in-vm` as `inVm: true`. `--help` prints `usage` and exits.
 */
export function parseArgs(argv, usage, options) {
  const key = (name) => name.replace(/-(\w)/g, (_, c) => c.toUpperCase());
  const out = {};
  for (const [name, spec] of Object.entries(options)) out[key(name)] = spec === 'flag' ? false : spec.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(`usage: ${usage}`);
      process.exit(0);
    }
    const [flag, inline] = a.startsWith('--') ? [a.slice(2).split('=')[0], a.includes('=') ? a.slice(a.indexOf('=') + 1) : undefined] : [];
    const spec = flag !== undefined ? options[flag] : undefined;
    if (spec === 'flag' && inline === undefined) out[key(flag)] = true;
    else if (spec && spec !== 'flag') out[key(flag)] = Number(inline ?? argv[++i]);
    else throw new Error(`unknown argument: ${a}`);
  }
  for (const [name, spec] of Object.entries(options)) {
    if (spec === 'flag') continue;
    const v = out[key(name)];
    const low = spec.minIncluded ? v >= spec.min : v > spec.min;
    if (!(low && v <= spec.max)) throw new Error(`--${name} must be in ${spec.minIncluded ? '[' : '('}${spec.min}, ${spec.max}]`);
  }
  return out;
}

/** Kills the children still running (SIGKILL). */
export function killAll(children) {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Runs `cleanup` when the process exits, and on SIGINT/SIGTERM before exiting with 130. */
export function cleanupOnExit(cleanup) {
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }
}
