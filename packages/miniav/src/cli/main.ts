// The `miniav` command: list devices and formats, capture to .y4m/.wav/.png/.raw.
import { parseArgs } from 'node:util';
import { extname } from 'node:path';
import {
  MiniAVError,
  audio,
  camera,
  getVersion,
  loopback,
  now,
  screen,
  type AudioFormat,
  type AudioOpenOptions,
  type CameraProperty,
  type CaptureStream,
  type DeviceInfo,
  type DeviceType,
  type Frame,
  type PixelFormat,
  type SampleFormat,
  type ScreenTarget,
  type VideoFormat,
  type VideoOpenOptions,
} from '@miniav/node';
import { PngWriter, RawWriter, WavWriter, Y4MWriter, type FrameWriter } from './writers.js';

const USAGE = `miniav ${getVersion()} — capture cameras, screens, microphones and system audio

Usage:
  miniav devices [--json]
  miniav formats <camera|screen|audio|loopback> <id> [--json]
  miniav capture <camera|screen|audio|loopback> <id> -o FILE [options]
  miniav properties <camera-id> [--json]
  miniav set <camera-id> <property> <value|auto|manual>

Capture options:
  -o, --output FILE      .y4m (video), .wav (audio), .png (one frame), .raw (as delivered,
                         planes tightly packed); '-' writes .raw to standard output
  --frames N             stop after N frames (default: 1 for .png, else see --duration)
  --duration S           stop after S seconds (default 5)
  --width W --height H   video size
  --pixel-format F       bgra, rgba, nv12, i420, yuyv, rgb24, bgr24, gray, ...
  --fourcc CODE          the driver's format code, as 'formats' lists it (V4L2: 'YVYU')
  --fps R                frames per second, or 'max'
  --region X,Y,W,H       screen: capture this rectangle of the display
  --window               screen: <id> is a window id
  --rate HZ              audio sample rate
  --channels N           audio channels
  --sample-format F      f32 or s16
  --buffer-frames N      audio frames per buffer
  --pool-size N          native buffers in the stream's pool
  --json                 print the stream's stats as JSON at the end

Set: a number, true/false, a menu item's name, 'auto' (the camera sets the value
itself) or 'manual'. Negative numbers after '--': miniav set CAM hue -- -20

The virtual 'test-pattern' device works for every type; MINIAV_FAKE_DEVICES=1 lists it.
`;

class UsageError extends Error {}

const TYPES: readonly DeviceType[] = ['camera', 'screen', 'audio', 'loopback'];

function parseType(value: string | undefined): DeviceType {
  if (!value || !(TYPES as readonly string[]).includes(value)) throw new UsageError(`type must be one of: ${TYPES.join(', ')}`);
  return value as DeviceType;
}

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive whole number (got '${value}')`);
  return n;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ')).join('\n');
}

async function devices(json: boolean): Promise<void> {
  const groups: [string, DeviceInfo[]][] = [
    ['camera', await camera.enumerateDevices()],
    ['screen', await screen.enumerateDisplays()],
    ['window', await screen.enumerateWindows()],
    ['audio', await audio.enumerateDevices()],
    ['loopback', await loopback.enumerateTargets()],
  ];
  if (json) {
    console.log(JSON.stringify(Object.fromEntries(groups), null, 2));
    return;
  }
  const rows = [['TYPE', 'ID', 'NAME', 'BACKEND', 'DEFAULT']];
  for (const [type, list] of groups) for (const d of list) rows.push([type, d.id, d.name, d.backend, d.isDefault ? 'yes' : '']);
  if (rows.length === 1) {
    console.log('No devices found. Set MINIAV_FAKE_DEVICES=1 to list the virtual test-pattern devices.');
    return;
  }
  console.log(table(rows));
}

async function formats(type: DeviceType, id: string, json: boolean): Promise<void> {
  const list: (VideoFormat | AudioFormat)[] =
    type === 'camera' ? await camera.getSupportedFormats(id)
    : type === 'screen' ? await screen.getSupportedFormats(id)
    : type === 'audio' ? await audio.getSupportedFormats(id)
    : await loopback.getSupportedFormats(id);
  if (json) {
    console.log(JSON.stringify(list, null, 2));
    return;
  }
  const video = list as VideoFormat[];
  const fourccs = video.some((f) => f.fourcc !== undefined);
  const rows =
    type === 'camera' || type === 'screen'
      ? [
          ['WIDTH', 'HEIGHT', 'PIXEL FORMAT', 'FPS', ...(fourccs ? ['FOURCC'] : [])],
          ...video.map((f) => [String(f.width), String(f.height), f.pixelFormat, rateText(f.frameRate), ...(fourccs ? [`'${f.fourcc ?? ''}'`] : [])]),
        ]
      : [['RATE', 'CHANNELS', 'SAMPLE FORMAT', 'BUFFER FRAMES'], ...(list as AudioFormat[]).map((f) => [String(f.sampleRate), String(f.channels), f.sampleFormat, String(f.bufferFrames)])];
  console.log(table(rows));
}

function propertyValueText(p: CameraProperty, value: number): string {
  if (p.type === 'button') return '-';
  if (p.type === 'boolean') return value ? 'true' : 'false';
  const item = p.menu?.find((m) => m.value === value);
  return item ? `${value} (${item.name})` : String(value);
}

async function properties(id: string, json: boolean): Promise<void> {
  const cam = await camera.open(id);
  let list: CameraProperty[];
  try {
    list = await cam.properties();
  } finally {
    await cam.close();
  }
  if (json) {
    console.log(JSON.stringify(list, null, 2));
    return;
  }
  if (list.length === 0) {
    console.log(`camera '${id}' has no properties`);
    return;
  }
  const rows = [['NAME', 'TYPE', 'VALUE', 'DEFAULT', 'RANGE', 'AUTO', 'FLAGS']];
  for (const p of list) {
    const range = p.type === 'integer' ? `${p.min}..${p.max}${p.step > 1 ? ` step ${p.step}` : ''}` : p.type === 'menu' ? `${p.menu?.length ?? 0} items` : '';
    const flags = [p.readOnly ? 'read-only' : '', p.inactive ? 'inactive' : ''].filter(Boolean).join(',');
    rows.push([p.name, p.type, propertyValueText(p, p.value), p.type === 'button' ? '' : propertyValueText(p, p.default), range, p.hasAuto ? (p.auto ? 'on' : 'off') : '', flags]);
  }
  console.log(table(rows));
  for (const p of list.filter((x) => x.menu?.length)) console.log(`\n${p.name}: ${p.menu!.map((m) => `${m.value} = ${m.name}`).join(', ')}`);
}

async function setProperty(id: string, name: string, text: string): Promise<void> {
  const cam = await camera.open(id);
  try {
    if (text === 'auto' || text === 'manual') await cam.setPropertyAuto(name, text === 'auto');
    else {
      const p = (await cam.properties()).find((x) => x.name === name);
      // A menu item's own name first (an integer menu's items are numbers), then a number, then true/false.
      const value: number | boolean | string =
        p?.menu?.some((m) => m.name === text) ? text
        : /^-?\d+$/.test(text) ? Number(text)
        : text === 'true' || text === 'false' ? text === 'true'
        : text;
      await cam.setProperty(name, value);
    }
    const p = (await cam.properties()).find((x) => x.name === name);
    const now = await cam.getProperty(name);
    console.log(`${name} = ${p ? propertyValueText(p, now.value) : now.value}${now.auto ? ' (auto)' : ''}`);
  } finally {
    await cam.close();
  }
}

function rateText(r: { num: number; den: number }): string {
  return r.den === 0 ? 'max' : r.den === 1 ? String(r.num) : (r.num / r.den).toFixed(3);
}

type Values = Record<string, string | boolean | undefined>;

function writerFor(output: string, type: DeviceType, format: VideoFormat | AudioFormat): FrameWriter {
  const ext = output === '-' ? '.raw' : extname(output).toLowerCase();
  const isVideo = type === 'camera' || type === 'screen';
  switch (ext) {
    case '.y4m':
      if (!isVideo) throw new UsageError('.y4m holds video: capture a camera or screen, or write audio to .wav');
      return new Y4MWriter(output, (format as VideoFormat).frameRate);
    case '.png':
      if (!isVideo) throw new UsageError('.png holds one video frame: capture a camera or screen');
      return new PngWriter(output);
    case '.wav':
      if (isVideo) throw new UsageError('.wav holds audio: capture audio or loopback, or write video to .y4m');
      return new WavWriter(output);
    case '.raw':
      return new RawWriter(output);
    default:
      throw new UsageError(`unknown output type '${ext || output}': use .y4m, .wav, .png or .raw`);
  }
}

async function openFor(type: DeviceType, id: string, v: Values): Promise<CaptureStream> {
  const pool = int('pool-size', v['pool-size'] as string | undefined);
  if (type === 'camera' || type === 'screen') {
    const fps = v.fps as string | undefined;
    let frameRate: VideoOpenOptions['frameRate'];
    if (fps === 'max') frameRate = 'max';
    else if (fps !== undefined) {
      frameRate = Number(fps);
      if (!(frameRate > 0)) throw new UsageError(`--fps must be a positive number or 'max' (got '${fps}')`);
    }
    const opts: VideoOpenOptions = {
      ...(v.width !== undefined ? { width: int('width', v.width as string)! } : {}),
      ...(v.height !== undefined ? { height: int('height', v.height as string)! } : {}),
      ...(v['pixel-format'] !== undefined ? { pixelFormat: v['pixel-format'] as PixelFormat } : {}),
      ...(v.fourcc !== undefined ? { fourcc: v.fourcc as string } : {}),
      ...(frameRate !== undefined ? { frameRate } : {}),
      ...(pool ? { poolSize: pool } : {}),
    };
    if (type === 'camera') return camera.open(id, opts);
    let target: ScreenTarget = id;
    if (v.window) target = { window: id };
    if (typeof v.region === 'string') {
      const parts = v.region.split(',').map(Number);
      if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n))) throw new UsageError('--region must be X,Y,WIDTH,HEIGHT');
      const [x, y, width, height] = parts as [number, number, number, number];
      target = { region: { display: id, x, y, width, height } };
    }
    return screen.open(target, opts);
  }
  const opts: AudioOpenOptions = {
    ...(v.rate !== undefined ? { sampleRate: int('rate', v.rate as string)! } : {}),
    ...(v.channels !== undefined ? { channels: int('channels', v.channels as string)! } : {}),
    ...(v['sample-format'] !== undefined ? { sampleFormat: v['sample-format'] as SampleFormat } : {}),
    ...(v['buffer-frames'] !== undefined ? { bufferFrames: int('buffer-frames', v['buffer-frames'] as string)! } : {}),
    ...(pool ? { poolSize: pool } : {}),
  };
  return type === 'audio' ? audio.open(id, opts) : loopback.open(id, opts);
}

async function capture(type: DeviceType, id: string, v: Values): Promise<void> {
  const output = v.output as string | undefined;
  if (!output) throw new UsageError('capture needs -o FILE (.y4m, .wav, .png, .raw, or - for raw on stdout)');
  const isPng = extname(output).toLowerCase() === '.png';
  const maxFrames = int('frames', v.frames as string | undefined) ?? (isPng ? 1 : undefined);
  const durationText = v.duration as string | undefined;
  const duration = durationText === undefined ? (maxFrames ? undefined : 5) : Number(durationText);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration must be a positive number of seconds (got '${durationText}')`);

  const stream = await openFor(type, id, v);
  const writer = writerFor(output, type, stream.format);
  const progress = process.stderr.isTTY && output !== '-';
  const started = now();
  let count = 0;
  let firstFrameMs: number | undefined;
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    // Audio with a duration stops at exactly duration × rate samples; the timer is the
    // limit for video (and a safety net for audio).
    const audioFormat = 'sampleRate' in stream.format ? stream.format : null;
    const sampleLimit = audioFormat && duration !== undefined ? Math.round(duration * audioFormat.sampleRate) : undefined;
    if (duration !== undefined) timer = setTimeout(() => void stream.stop(), (duration + (sampleLimit ? 2 : 0)) * 1000);
    let lastPrint = 0;
    for await (const frame of stream.frames()) {
      using f: Frame = frame;
      firstFrameMs ??= (now() - started) / 1000;
      const left = sampleLimit === undefined ? undefined : sampleLimit - samples;
      writer.write(f, left);
      samples += Math.min(f.audio?.frameCount ?? 0, left ?? Infinity);
      count++;
      if (sampleLimit !== undefined && samples >= sampleLimit) break;
      if (progress && now() - lastPrint > 250_000) {
        lastPrint = now();
        const s = stream.stats;
        process.stderr.write(`\rcaptured ${count} ${f.type === 'audio' ? 'buffers' : 'frames'}  ${(count / ((now() - started) / 1e6)).toFixed(1)}/s  dropped ${s.dropped}   `);
      }
      if (maxFrames !== undefined && count >= maxFrames) break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    const stats = stream.stats;
    await stream.close();
    writer.close();
    if (progress) process.stderr.write('\n');
    const seconds = (now() - started) / 1e6;
    const summary = { output, frames: count, ...(samples ? { samples } : {}), seconds: Number(seconds.toFixed(3)), firstFrameMs, format: stream.format, ...stats };
    if (v.json) (output === '-' ? process.stderr : process.stdout).write(JSON.stringify(summary) + '\n');
    else if (output !== '-') process.stderr.write(`wrote ${count} ${type === 'audio' || type === 'loopback' ? 'buffers' : 'frames'} to ${output} (dropped ${stats.dropped})\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        output: { type: 'string', short: 'o' },
        frames: { type: 'string' },
        duration: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        'pixel-format': { type: 'string' },
        fourcc: { type: 'string' },
        fps: { type: 'string' },
        region: { type: 'string' },
        window: { type: 'boolean' },
        rate: { type: 'string' },
        channels: { type: 'string' },
        'sample-format': { type: 'string' },
        'buffer-frames': { type: 'string' },
        'pool-size': { type: 'string' },
      },
    });
  } catch (e) {
    process.stderr.write(`miniav: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, typeArg, id] = positionals;
  try {
    if (values.version) {
      console.log(getVersion());
      return 0;
    }
    if (values.help || !command) {
      process.stdout.write(USAGE);
      return command || values.help ? 0 : 2;
    }
    switch (command) {
      case 'devices':
        await devices(values.json === true);
        return 0;
      case 'formats':
        if (!id) throw new UsageError('formats needs a type and a device id');
        await formats(parseType(typeArg), id, values.json === true);
        return 0;
      case 'capture':
        if (!id) throw new UsageError('capture needs a type and a device id');
        await capture(parseType(typeArg), id, values);
        return 0;
      case 'properties':
        if (!typeArg || positionals.length > 2) throw new UsageError('properties needs one camera id');
        await properties(typeArg, values.json === true);
        return 0;
      case 'set': {
        const [, camId, name, value] = positionals;
        if (!camId || !name || value === undefined || positionals.length > 4)
          throw new UsageError('set needs a camera id, a property name and a value (a number, true/false, a menu item, auto or manual)');
        await setProperty(camId, name, value);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`miniav: ${e.message}\nRun 'miniav --help' for usage.\n`);
      return 2;
    }
    if (e instanceof MiniAVError) {
      process.stderr.write(`miniav: ${e.message} (${e.code})\n`);
      return 1;
    }
    process.stderr.write(`miniav: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
