/**
 * Turns engine events into what a person sees: cli-progress bars per phase and per target (bytes,
 * rate, ETA) when stderr is a TTY; otherwise one plain line per phase with size and duration (cron mail, journald).
 */
import cliProgress from 'cli-progress';
import type { EngineEvents, Phase } from '../engine/events.js';
import { formatBytes, type Output } from './output.js';
import { formatDurationMs } from './render.js';

interface PhaseState {
  phase: Phase;
  started: number;
  bytes: number;
  /** On a terminal: one bar for the phase and one per target, redrawn together. */
  bars?: cliProgress.MultiBar;
  phaseBar?: cliProgress.SingleBar;
  targetBars: Map<string, cliProgress.SingleBar>;
}

/** A bar's line: with a known total, percentage and ETA; without one (a dump), bytes and rate only. */
function barFormat(label: string, total: number | undefined): string {
  return total === undefined
    ? `  ${label.padEnd(10)} {done} | {rate}/s | {elapsed}`
    : `  ${label.padEnd(10)} {bar} {percentage}% | {done} | {rate}/s | ETA {eta_formatted}`;
}

export class ProgressReporter implements EngineEvents {
  private current: PhaseState | undefined;

  constructor(private readonly output: Output) {}

  readonly phase = (phase: Phase, message: string): void => {
    this.endPhase();
    this.output.info(message);
    this.current = { phase, started: Date.now(), bytes: 0, targetBars: new Map() };
  };

  readonly progress = (phase: Phase, bytes: number, total?: number): void => {
    const state = this.current?.phase === phase ? this.current : undefined;
    if (!state) return;
    state.bytes = bytes;
    if (!this.output.progressEnabled) return;
    state.phaseBar ??= this.newBar(state, phase, total, bytes);
    this.advance(state, state.phaseBar, bytes, total);
  };

  /** Per target: what each copy has taken so far (docs/REFERENCE.md#global-options), so a lagging target shows. */
  readonly targetProgress = (target: string, phase: Phase, bytes: number, total?: number): void => {
    const state = this.current?.phase === phase ? this.current : undefined;
    if (!state || !this.output.progressEnabled) return;
    let bar = state.targetBars.get(target);
    if (!bar) state.targetBars.set(target, (bar = this.newBar(state, `→ ${target}`, total, bytes)));
    this.advance(state, bar, bytes, total);
  };

  private newBar(state: PhaseState, label: string, total: number | undefined, bytes: number): cliProgress.SingleBar {
    state.bars ??= new cliProgress.MultiBar(
      {
        stream: this.output.stderr as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
        formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatBytes(v) : String(v)),
      },
      cliProgress.Presets.shades_classic,
    );
    const bar = state.bars.create(total ?? Math.max(bytes, 1), 0, { done: formatBytes(0), rate: formatBytes(0), elapsed: '0s' }, { format: barFormat(label, total) });
    // Draw at once: a short phase would otherwise end before the first timed redraw.
    state.bars.update();
    return bar;
  }

  private advance(state: PhaseState, bar: cliProgress.SingleBar, bytes: number, total: number | undefined): void {
    if (total === undefined) bar.setTotal(Math.max(bytes, 1));
    const seconds = Math.max((Date.now() - state.started) / 1000, 0.001);
    bar.update(bytes, { done: formatBytes(bytes), rate: formatBytes(bytes / seconds), elapsed: formatDurationMs(seconds * 1000) });
  }

  readonly targetFailed = (target: string, error: { message: string }): void => {
    this.output.warn(`target ${target} failed: ${error.message}`);
  };

  readonly warn = (message: string): void => {
    this.output.warn(message);
  };

  readonly toolLine = (line: string): void => {
    this.output.debug(line);
  };

  /** Ends the current phase: stops its bar and logs one line with its size and duration. */
  readonly endPhase = (): void => {
    const state = this.current;
    if (!state) return;
    state.bars?.stop();
    const ms = Date.now() - state.started;
    if (state.bytes > 0) {
      const rate = formatBytes(state.bytes / Math.max(ms / 1000, 0.001));
      this.output.info(`  ${state.phase}: ${formatBytes(state.bytes)} in ${formatDurationMs(ms)} (${rate}/s)`);
    }
    this.current = undefined;
  };
}
