// ssh2's SFTP channel, adapted: promises instead of callbacks, and the status codes the target needs.
import type { SFTPWrapper, Stats } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const NO_SUCH_FILE = 2;
export const PERMISSION_DENIED = 3;

/** Adapts ssh2's callback API. */
export function call<T = void>(run: (done: (error: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      run((error, value) => (error ? reject(error) : resolve(value)));
    } catch (error) {
      reject(error); // ssh2 throws synchronously for unsupported extensions and closed channels
    }
  });
}

export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export async function isFolder(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return call<Stats>((done) => sftp.stat(path, done)).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}
