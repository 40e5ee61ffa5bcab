/** Callbacks through which the engine reports progress; the command layer renders them (bars on a TTY, log lines otherwise). */
import type { BackupError } from '../errors.js';

export type Phase = 'dump' | 'upload' | 'verify' | 'download' | 'restore' | 'check' | 'count' | 'drop' | 'replicate' | 'prune';

export interface EngineEvents {
  /** A new phase begins; `message` is one human line. */
  phase?(phase: Phase, message: string): void;
  /** Bytes processed so far in the phase (plain archive bytes for dump/restore). */
  progress?(phase: Phase, bytes: number, total?: number): void;
  /** Bytes one target has taken (stored or read back) so far in the phase; `total` when known. */
  targetProgress?(target: string, phase: Phase, bytes: number, total?: number): void;
  /** One target failed (the run may go on with the others). */
  targetFailed?(target: string, error: BackupError): void;
  warn?(message: string): void;
  /** A line of mongodump/mongorestore's own output (redacted). */
  toolLine?(line: string): void;
  /** The current phase is over (its progress display can go). */
  endPhase?(): void;
}
