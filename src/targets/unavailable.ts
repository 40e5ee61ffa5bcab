/**
 * A configured target that cannot be built on this host (its configuration names an unset
 * `${VAR}`, say the offsite copy's secret on a recovery host). Every operation fails with that
 * configuration error, so list, show, verify and restore treat it like an unreachable target and
 * go on with the others, and create reports its copy as failed, instead of every command refusing
 * to start.
 */
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetCapabilities } from './types.js';

export class UnavailableTarget implements Target {
  /** None of the optional operations: which the real target would offer is unknown here. */
  readonly capabilities: TargetCapabilities = { insecureTransport: false };

  constructor(
    readonly name: string,
    readonly type: string,
    readonly problem: Error,
  ) {}

  describe(): string {
    return `${this.type} (not configured on this host)`;
  }

  save(_key: string, _body: unknown, _options?: SaveOptions): Promise<SaveResult> {
    return Promise.reject(this.problem);
  }

  load(_key: string, _options?: LoadOptions): Promise<never> {
    return Promise.reject(this.problem);
  }

  stat(_key: string): Promise<ObjectInfo> {
    return Promise.reject(this.problem);
  }

  // eslint-disable-next-line require-yield
  async *list(_prefix?: string): AsyncIterable<ObjectInfo> {
    throw this.problem;
  }

  remove(_key: string): Promise<void> {
    return Promise.reject(this.problem);
  }

  check(): Promise<void> {
    return Promise.reject(this.problem);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
