// Target configuration for the FTP and FTPS peers (shared by ftp.test.ts and ftps.test.ts).
import type { FtpPeer } from '../setup/testbed.js';

export function ftpConfig(ftp: FtpPeer, overrides: Record<string, unknown> = {}): { name: string; type: string; [key: string]: unknown } {
  return {
    name: ftp.secure === false ? 'ftp' : 'ftps',
    type: 'ftp',
    prefix: 'conformance',
    host: ftp.host,
    port: ftp.port,
    user: ftp.user,
    passwordFile: ftp.passwordFile,
    path: ftp.path,
    secure: ftp.secure,
    // The FTPS peer's certificate is self-signed: trust exactly that certificate.
    ...(ftp.caCertPath ? { ca: ftp.caCertPath } : {}),
    ...overrides,
  };
}
