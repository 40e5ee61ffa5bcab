/**
 * Turns engine events into what a person sees: a cli-progress bar per phase (bytes, rate, ETA) when
 * stderr is a TTY; otherwise one plain line per phase with size and duration (cron mail, journald).
 */
import cliProgress from 'cli-progress';
import type { EngineEvents, Phase } from '../engine/events.js';
import { formatBytes, type Output } from './output.js';
import { formatDurationMs } from './render.js';

interface PhaseState {
  phase: Phase;
  started: number;
  bytes: number;
  bar?: cliProgress.SingleBar;
}

export class ProgressReporter implements EngineEvents {
  private current: PhaseState | undefined;

  constructor(private readonly output: Output) {}

  readonly phase = (phase: Phase, message: string): void => {
    this.endPhase();
    this.output.info(message);
    this.current = { phase, started: Date.now(), bytes: 0 };
  };

  readonly progress = (phase: Phase, bytes: number, total?: number): void => {
    const state = this.current?.phase === phase ? this.current : undefined;
    if (!state) return;
    state.bytes = bytes;
    if (!this.output.progressEnabled) return;
    if (!state.bar) {
      // Without a known total (a dump's size is unknown until it ends) there is no honest
      // percentage or ETA: show bytes and rate only.
      const format =
        total === undefined
          ? `  ${phase.padEnd(8)} {done} | {rate}/s | {elapsed}`
          : `  ${phase.padEnd(8)} {bar} {percentage}% | {done} | {rate}/s | ETA {eta_formatted}`;
      state.bar = new cliProgress.SingleBar(
        {
          stream: this.output.stderr as NodeJS.WritableStream,
          format,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
          fps: 5,
          formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatBytes(v) : String(v)),
        },
        cliProgress.Presets.shades_classic,
      );
      state.bar.start(total ?? Math.max(bytes, 1), 0, { done: formatBytes(0), rate: formatBytes(0), elapsed: '0s' });
    }
    if (total === undefined) state.bar.setTotal(Math.max(bytes, 1));
    const seconds = Math.max((Date.now() - state.started) / 1000, 0.001);
    state.bar.update(bytes, { done: formatBytes(bytes), rate: formatBytes(bytes / seconds), elapsed: formatDurationMs(seconds * 1000) });
  };

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
    state.bar?.stop();
    const ms = Date.now() - state.started;
    if (state.bytes > 0) {
      const rate = formatBytes(state.bytes / Math.max(ms / 1000, 0.001));
      this.output.info(`  ${state.phase}: ${formatBytes(state.bytes)} in ${formatDurationMs(ms)} (${rate}/s)`);
    }
    this.current = undefined;
  };
}
